/**
 * Issue 12, points 6, 7 and 12 over HTTP: the roles a JWT may switch to, the parser's bounds on
 * request shape, and CORS credentials only for listed origins.
 */
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseApiRequest } from '../../src/rest/parse/api-request.ts'
import { MAX_EMBED_DEPTH, MAX_EMBEDS, MAX_LOGIC_DEPTH } from '../../src/rest/parse/limits.ts'
import { startTestApp, type TestApp } from '../support/app.ts'
import { describeEachDatabase } from '../support/databases.ts'
import { startRest, type RestHarness } from './support.ts'

const suffix = randomBytes(3).toString('hex')
const READER = `reader_${suffix}`
const POWERFUL = `powerful_${suffix}`
const MISSING = `missing_${suffix}`

async function errorOf(response: Response): Promise<{ status: number; code: string; message: string }> {
  const body = (await response.json()) as { code: string; message: string }
  return { status: response.status, code: body.code, message: body.message }
}

describeEachDatabase('REST: roles a JWT may carry', (ctx) => {
  let rest: RestHarness
  const asRole = async (role: string, path = '/users?select=username&limit=1') => {
    const jwt = await rest.token({ sub: '11111111-1111-1111-1111-111111111111', role })
    return rest.fetch(path, { headers: { Authorization: `Bearer ${jwt}` } })
  }

  beforeAll(async () => {
    rest = await startRest(ctx(), { DB_EXTRA_ROLES: `${READER}, ${POWERFUL}, ${MISSING}` })
    await ctx().database.exec(`
      CREATE ROLE ${READER} NOLOGIN; GRANT ${READER} TO current_user;
      GRANT USAGE ON SCHEMA public TO ${READER}; GRANT SELECT ON public.users TO ${READER};
      CREATE ROLE ${POWERFUL} NOLOGIN BYPASSRLS; GRANT ${POWERFUL} TO current_user;`)
  })
  afterAll(async () => {
    await rest?.app.close()
    await ctx().database.exec(`REVOKE ALL ON public.users FROM ${READER}; REVOKE USAGE ON SCHEMA public FROM ${READER}; DROP ROLE ${READER}; DROP ROLE ${POWERFUL};`)
  })

  it('refuses superusers, the connecting role and server-file roles named by a signed claim', async () => {
    const connecting = (await ctx().database.query<{ u: string }>('SELECT current_user AS u')).rows[0]!.u
    for (const role of ['postgres', 'supabase_admin', 'pg_read_server_files', 'pg_execute_server_program', connecting]) {
      const response = await asRole(role)
      expect(await errorOf(response)).toEqual({ status: 403, code: '42501', message: `permission denied to set role "${role}"` })
    }
    // RPC switches roles the same way.
    expect((await asRole('postgres', '/rpc/request_context')).status).toBe(403)
  })

  it('keeps the API roles working', async () => {
    for (const role of ['anon', 'authenticated', 'service_role']) expect((await asRole(role)).status).toBe(200)
  })

  it('allows a plain role named in DB_EXTRA_ROLES', async () => {
    const response = await asRole(READER)
    expect(response.status).toBe(200)
    expect(await response.json()).toHaveLength(1)
  })

  it('refuses a named role that bypasses RLS, and answers 401 for a named role that does not exist', async () => {
    expect(await errorOf(await asRole(POWERFUL))).toMatchObject({ status: 403, code: '42501' })
    expect(await errorOf(await asRole(MISSING))).toEqual({ status: 401, code: '22023', message: `role "${MISSING}" does not exist` })
  })
})

describeEachDatabase('Auth admin API: roles', (ctx) => {
  let rest: RestHarness
  beforeAll(async () => {
    rest = await startRest(ctx())
  })
  afterAll(async () => {
    await rest?.app.close()
  })

  const admin = (path: string, init: RequestInit & { token?: string } = {}) =>
    fetch(`${rest.app.url}/auth/v1/admin${path}`, {
      ...init,
      headers: { apikey: rest.app.serviceRoleKey, Authorization: `Bearer ${init.token ?? rest.app.serviceRoleKey}`, 'content-type': 'application/json' },
    })

  it('does not let an admin give a user a database role outside the allow-list', async () => {
    const refused = await admin('/users', { method: 'POST', body: JSON.stringify({ email: `r-${suffix}@example.com`, role: 'postgres' }) })
    expect(refused.status).toBe(400)
    expect(((await refused.json()) as { code: unknown }).code).toBeDefined()
    const created = await admin('/users', { method: 'POST', body: JSON.stringify({ email: `ok-${suffix}@example.com`, role: 'authenticated' }) })
    expect(created.status).toBe(200)
    const { id } = (await created.json()) as { id: string }
    const update = await admin(`/users/${id}`, { method: 'PUT', body: JSON.stringify({ role: 'supabase_admin' }) })
    expect(update.status).toBe(400)
    const row = await ctx().database.query<{ role: string }>('SELECT role FROM auth.users WHERE id = $1', [id])
    expect(row.rows[0]!.role).toBe('authenticated')
  })

  it('does not treat a supabase_admin token as an admin', async () => {
    const now = Math.floor(Date.now() / 1000)
    const token = await rest.app.services.jwt.sign({ role: 'supabase_admin', iat: now, exp: now + 600 })
    const response = await admin('/users', { token })
    expect(response.status).toBe(403)
  })
})

describe('REST: bounds on the request shape', () => {
  const request = (params: Array<[string, string]>) =>
    parseApiRequest({ method: 'GET', path: '/users', params, headers: {}, schemas: ['public'] })
  const nested = (depth: number) => 'id,' + 'a('.repeat(depth) + 'id' + ')'.repeat(depth)

  it('accepts embeds up to the depth limit and refuses one level more with PGRST100', () => {
    expect(() => request([['select', nested(MAX_EMBED_DEPTH)]])).not.toThrow()
    expect(() => request([['select', nested(MAX_EMBED_DEPTH + 1)]])).toThrow(/nested too deeply/)
  })

  it('refuses more embeds than the limit', () => {
    const flat = (n: number) => Array.from({ length: n }, (_, i) => `e${i}:users(id)`).join(',')
    expect(() => request([['select', flat(MAX_EMBEDS)]])).not.toThrow()
    expect(() => request([['select', flat(MAX_EMBEDS + 1)]])).toThrow(/too many embedded resources/)
  })

  it('refuses a logic tree nested past the limit, even thousands deep, without overflowing the stack', () => {
    const tree = (depth: number) => '(' + 'and('.repeat(depth - 1) + 'id.eq.1' + ')'.repeat(depth - 1) + ')'
    expect(() => request([['or', tree(MAX_LOGIC_DEPTH)]])).not.toThrow()
    expect(() => request([['or', tree(MAX_LOGIC_DEPTH + 1)]])).toThrow(/nested too deeply/)
    expect(() => request([['or', tree(2600)]])).toThrow(/nested too deeply/)
  })
})

describeEachDatabase('REST: hostile shapes over HTTP', (ctx) => {
  let rest: RestHarness
  beforeAll(async () => {
    rest = await startRest(ctx())
  })
  afterAll(async () => {
    await rest?.app.close()
  })

  it('answers 400 PGRST100 to a 2,600-deep or= tree and to deep nested embeds, not 500', async () => {
    const deep = '(' + 'and('.repeat(2599) + 'id.eq.1' + ')'.repeat(2599) + ')'
    const tree = await rest.fetch(`/users?or=${encodeURIComponent(deep)}`)
    expect(await errorOf(tree)).toMatchObject({ status: 400, code: 'PGRST100' })
    const embeds = await rest.fetch(`/users?select=${'messages('.repeat(30)}id${')'.repeat(30)}`)
    expect(await errorOf(embeds)).toMatchObject({ status: 400, code: 'PGRST100' })
  })
})

describeEachDatabase('CORS credentials', (ctx) => {
  let open: TestApp
  let listed: TestApp
  beforeAll(async () => {
    open = await startTestApp(ctx())
    listed = await startTestApp(ctx(), { CORS_CREDENTIALS_ORIGINS: 'https://app.example.com' })
  })
  afterAll(async () => {
    await open?.close()
    await listed?.close()
  })

  const corsOf = async (app: TestApp, origin: string, method = 'GET') => {
    const response = await fetch(`${app.url}/rest/v1/`, {
      method,
      headers: { apikey: app.anonKey, Origin: origin, ...(method === 'OPTIONS' ? { 'Access-Control-Request-Method': 'GET' } : {}) },
    })
    return { origin: response.headers.get('access-control-allow-origin'), credentials: response.headers.get('access-control-allow-credentials') }
  }

  it('never sends credentials to an arbitrary origin by default', async () => {
    expect(await corsOf(open, 'https://evil.example')).toEqual({ origin: '*', credentials: null })
    expect(await corsOf(open, 'https://evil.example', 'OPTIONS')).toEqual({ origin: '*', credentials: null })
  })

  it('sends credentials only to listed origins', async () => {
    expect(await corsOf(listed, 'https://app.example.com')).toEqual({ origin: 'https://app.example.com', credentials: 'true' })
    expect(await corsOf(listed, 'https://app.example.com', 'OPTIONS')).toEqual({ origin: 'https://app.example.com', credentials: 'true' })
    expect(await corsOf(listed, 'https://evil.example')).toEqual({ origin: '*', credentials: null })
  })
})
