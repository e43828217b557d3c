/**
 * `/rest/v1` and `/vault/v1` without an API key: 401 `no_api_key`, as Supabase's gateway answers;
 * `API_KEY_REQUIRED=false` lets anonymous callers through as `anon`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestApp, type TestApp } from '../support/app.ts'
import { describeEachDatabase } from '../support/databases.ts'

describeEachDatabase('API key gate', (ctx) => {
  beforeAll(async () => {
    await ctx().database.exec(`CREATE TABLE public.gate_notes (id int PRIMARY KEY, body text);
      INSERT INTO public.gate_notes VALUES (1, 'open');
      GRANT SELECT ON public.gate_notes TO anon;
      CREATE TABLE public.gate_private (id int);
      REVOKE ALL ON public.gate_private FROM anon, authenticated;
      NOTIFY pgrst, 'reload schema';`)
  })

  describe('required (the default)', () => {
    let app: TestApp
    beforeAll(async () => {
      app = await startTestApp(ctx())
    })
    afterAll(() => app.close())

    it('refuses /rest/v1 and /vault/v1 without apikey or bearer with 401 no_api_key', async () => {
      for (const path of ['/rest/v1/gate_notes', '/rest/v1/', '/rest/v1/rpc/anything', '/vault/v1/secrets']) {
        const response = await fetch(`${app.url}${path}`)
        expect(response.status, path).toBe(401)
        expect(await response.json()).toEqual({ code: 'no_api_key', message: 'No API key found in request', hint: expect.stringContaining('apikey') })
      }
      // A query parameter is not a key the routers read, so it does not open the gate.
      expect((await fetch(`${app.url}/rest/v1/gate_notes?apikey=${app.anonKey}`)).status).toBe(401)
    })

    it('lets a request with an apikey header or a bearer token through, and preflights without one', async () => {
      const keyed = await fetch(`${app.url}/rest/v1/gate_notes?select=body`, { headers: { apikey: app.anonKey } })
      expect(keyed.status).toBe(200)
      expect(await keyed.json()).toEqual([{ body: 'open' }])
      const bearer = await fetch(`${app.url}/rest/v1/gate_notes?select=body`, { headers: { Authorization: `Bearer ${app.anonKey}` } })
      expect(bearer.status).toBe(200)
      const vault = await fetch(`${app.url}/vault/v1/secrets`, { headers: { apikey: app.serviceRoleKey, Authorization: `Bearer ${app.serviceRoleKey}` } })
      expect(vault.status).toBe(200)
      const preflight = await fetch(`${app.url}/rest/v1/gate_notes`, { method: 'OPTIONS', headers: { origin: 'http://example.test', 'access-control-request-method': 'GET' } })
      expect(preflight.status).toBe(204)
      // Auth has its own check (GoTrue's), untouched; /health needs no key.
      expect((await fetch(`${app.url}/health`)).status).toBe(200)
    })
  })

  describe('API_KEY_REQUIRED=false', () => {
    let app: TestApp
    beforeAll(async () => {
      app = await startTestApp(ctx(), { API_KEY_REQUIRED: 'false' })
    })
    afterAll(() => app.close())

    it('serves anonymous requests as anon, with PostgREST answers', async () => {
      const open = await fetch(`${app.url}/rest/v1/gate_notes?select=body`)
      expect(open.status).toBe(200)
      expect(await open.json()).toEqual([{ body: 'open' }])
      const closed = await fetch(`${app.url}/rest/v1/gate_private`)
      expect(closed.status).toBe(401)
      expect(closed.headers.get('www-authenticate')).toBe('Bearer')
      expect(await closed.json()).toMatchObject({ code: '42501' })
      // The vault still wants the service_role.
      expect((await fetch(`${app.url}/vault/v1/secrets`)).status).toBe(401)
    })
  })
})
