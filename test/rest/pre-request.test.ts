/**
 * `db-pre-request` (`DB_PRE_REQUEST`, or `pgrst.db_pre_request` in the database): a function
 * called in the request's transaction after its settings and before its statement. What it
 * raises answers the request, mapped as PostgREST maps errors; what it sets, the statement sees.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { restConfig } from '../../src/config/rest.ts'
import { reloadSchemaCache } from '../../src/rest/schema-cache/index.ts'
import { startTestApp, type TestApp } from '../support/app.ts'
import { describeEachDatabase } from '../support/databases.ts'
import { startRestWith, type RestHarness } from './support.ts'

const FUNCTIONS = `
CREATE SCHEMA IF NOT EXISTS guard;
GRANT USAGE ON SCHEMA guard TO anon, authenticated, service_role;
CREATE FUNCTION guard.check_request() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  headers json := current_setting('request.headers', true)::json;
BEGIN
  IF headers->>'x-block' = 'plain' THEN
    RAISE EXCEPTION 'blocked by pre-request' USING HINT = 'drop x-block';
  ELSIF headers->>'x-block' = 'pgrst' THEN
    RAISE SQLSTATE 'PGRST' USING
      MESSAGE = '{"code":"TEAPOT","message":"not today","details":"quota","hint":"later"}',
      DETAIL = '{"status":418,"headers":{"X-Blocked":"yes"}}';
  ELSIF headers->>'x-block' = 'privilege' THEN
    RAISE insufficient_privilege USING MESSAGE = 'no access for ' || current_user;
  END IF;
  -- Seen by the statement that follows, in the same transaction.
  PERFORM set_config('guard.seen', current_user || ':' || current_setting('request.method', true), true);
END $$;
CREATE FUNCTION guard.other_check() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the database setting ran';
END $$;
CREATE FUNCTION public.pre_request_seen() RETURNS text LANGUAGE sql STABLE AS $$ SELECT current_setting('guard.seen', true) $$;
CREATE TABLE public.pre_request_log (id serial PRIMARY KEY, note text);
GRANT ALL ON public.pre_request_log TO anon, authenticated, service_role;
GRANT ALL ON SEQUENCE public.pre_request_log_id_seq TO anon, authenticated, service_role;
`

describe('DB_PRE_REQUEST parsing', () => {
  it('takes name or schema.name and refuses anything else', () => {
    expect(restConfig({ DB_PRE_REQUEST: 'guard.check_request' }).preRequest).toEqual({ schema: 'guard', name: 'check_request' })
    expect(restConfig({ DB_PRE_REQUEST: 'check' }).preRequest).toEqual({ schema: undefined, name: 'check' })
    expect(restConfig({}).preRequest).toBeUndefined()
    for (const bad of ['a.b.c', 'x."y', '.fn', 'fn.', `x\u0001`]) expect(() => restConfig({ DB_PRE_REQUEST: bad }), bad).toThrow(/DB_PRE_REQUEST/)
  })
})

describeEachDatabase('db-pre-request', (ctx) => {
  let rest: RestHarness
  const send = (path: string, headers: Record<string, string> = {}, init: RequestInit = {}) => rest.fetch(path, { ...init, headers: { 'content-type': 'application/json', ...headers } })
  async function setForAuthenticator(value: string | null): Promise<void> {
    const { rows } = await ctx().database.query<{ db: string }>('SELECT current_database() AS db')
    const db = `"${rows[0]!.db.replaceAll('"', '""')}"`
    await ctx().database.exec(value === null ? `ALTER ROLE authenticator IN DATABASE ${db} RESET pgrst.db_pre_request` : `ALTER ROLE authenticator IN DATABASE ${db} SET pgrst.db_pre_request = '${value}'`)
    await reloadSchemaCache(ctx().database)
  }

  beforeAll(async () => {
    rest = await startRestWith(ctx(), FUNCTIONS, { DB_PRE_REQUEST: 'guard.check_request' })
  })
  afterAll(async () => {
    await rest?.app.close()
  })

  it('runs before the statement, as the request role, and what it sets is seen', async () => {
    const { data, error } = await rest.anon.rpc('pre_request_seen')
    expect(error).toBeNull()
    expect(data).toBe('anon:POST')
    const viaGet = await send('/rpc/pre_request_seen')
    expect(await viaGet.json()).toBe('anon:GET')
  })

  it('a plain exception refuses reads, writes and calls with 400 P0001', async () => {
    for (const [path, init] of [['/messages?select=id', {}], ['/pre_request_log', { method: 'POST', body: '{"note":"x"}' }], ['/rpc/pre_request_seen', {}]] as const) {
      const response = await send(path, { 'x-block': 'plain' }, init)
      expect(response.status, path).toBe(400)
      expect(await response.json()).toEqual({ code: 'P0001', message: 'blocked by pre-request', details: null, hint: 'drop x-block' })
    }
    const rows = await ctx().database.query('SELECT count(*)::int AS n FROM public.pre_request_log')
    expect(rows.rows[0]).toEqual({ n: 0 })
  })

  it('a PGRST raise sets status, headers and body; insufficient_privilege is 403 with a key', async () => {
    const teapot = await send('/messages', { 'x-block': 'pgrst' })
    expect(teapot.status).toBe(418)
    expect(teapot.headers.get('x-blocked')).toBe('yes')
    expect(await teapot.json()).toEqual({ code: 'TEAPOT', message: 'not today', details: 'quota', hint: 'later' })
    const denied = await rest.anon.from('messages').select('id').setHeader('x-block', 'privilege')
    // The anon key is a JWT, so PostgREST's "authenticated" 403 (401 is for requests without one).
    expect(denied.status).toBe(403)
    expect(denied.error).toMatchObject({ code: '42501', message: 'no access for anon' })
  })

  it('lets requests through otherwise and is not called for OPTIONS', async () => {
    expect((await send('/messages?select=id')).status).toBe(200)
    const options = await send('/messages', { 'x-block': 'plain' }, { method: 'OPTIONS' })
    expect(options.status).toBeLessThan(300)
  })

  describe('from the database (pgrst.db_pre_request)', () => {
    let app: TestApp
    beforeAll(async () => {
      app = await startTestApp(ctx())
    })
    afterAll(async () => {
      await setForAuthenticator(null)
      await app?.close()
    })

    it('is taken from the database when the environment has none, and the environment wins', async () => {
      const get = (url: string) => fetch(`${url}/rest/v1/messages?select=id`, { headers: { apikey: app.anonKey } })
      expect((await get(app.url)).status).toBe(200)
      await setForAuthenticator('guard.other_check')
      const refused = await get(app.url)
      expect(refused.status).toBe(400)
      expect((await refused.json()).message).toBe('the database setting ran')
      // The suite's app has DB_PRE_REQUEST in its environment: that function, not the database's.
      expect((await get(rest.app.url)).status).toBe(200)
    })
  })
})
