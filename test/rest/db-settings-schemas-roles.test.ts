/**
 * `pgrst.jwt_role_claim_key` and `pgrst.db_schemas` read from the database (authenticator role,
 * this database only), picked up on `NOTIFY pgrst, 'reload config'`; `JWT_ROLE_CLAIM_KEY` and
 * `DB_SCHEMAS` in the environment win, as in PostgREST.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseClaimPath, restConfig } from '../../src/config/rest.ts'
import { startTestApp, type TestApp } from '../support/app.ts'
import { describeEachDatabase } from '../support/databases.ts'
import { ALICE, startRest, type RestHarness } from './support.ts'

async function eventually(probe: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const started = Date.now()
  while (!(await probe())) {
    if (Date.now() - started > ms) throw new Error(`not within ${ms} ms`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

describe('JWT_ROLE_CLAIM_KEY parsing', () => {
  it('reads PostgREST claim paths and refuses others', () => {
    expect(parseClaimPath('.role')).toEqual(['role'])
    expect(parseClaimPath('.app_metadata.role')).toEqual(['app_metadata', 'role'])
    expect(parseClaimPath('."https://example.com/claims".roles[0]')).toEqual(['https://example.com/claims', 'roles', 0])
    for (const bad of ['role', '.', '..role', '.role[', '.a b', '."unterminated', '']) expect(parseClaimPath(bad), bad).toBeUndefined()
    expect(() => restConfig({ JWT_ROLE_CLAIM_KEY: 'app_metadata.role' })).toThrow(/JWT_ROLE_CLAIM_KEY/)
    expect(restConfig({}).roleClaimPath).toEqual(['role'])
  })
})

describeEachDatabase('pgrst.jwt_role_claim_key and pgrst.db_schemas in the database', (ctx) => {
  let rest: RestHarness
  async function setForAuthenticator(key: string, value: string | null): Promise<void> {
    const { rows } = await ctx().database.query<{ db: string }>('SELECT current_database() AS db')
    const db = `"${rows[0]!.db.replaceAll('"', '""')}"`
    await ctx().database.exec(value === null ? `ALTER ROLE authenticator IN DATABASE ${db} RESET pgrst.${key}` : `ALTER ROLE authenticator IN DATABASE ${db} SET pgrst.${key} = '${value}'`)
  }
  const reloadConfigUntil = (probe: () => Promise<boolean>) =>
    eventually(async () => {
      await ctx().database.exec("NOTIFY pgrst, 'reload config'")
      return probe()
    })

  beforeAll(async () => {
    rest = await startRest(ctx())
  })
  afterAll(async () => {
    await setForAuthenticator('jwt_role_claim_key', null)
    await setForAuthenticator('db_schemas', null)
    await rest?.app.close()
  })

  describe('jwt_role_claim_key', () => {
    const contextAs = async (url: string, apikey: string, claims: Record<string, unknown>) => {
      const token = await rest.token(claims)
      const response = await fetch(`${url}/rest/v1/rpc/request_context`, { headers: { apikey, authorization: `Bearer ${token}` } })
      return (await response.json()) as { role: string }
    }
    const nested = { sub: ALICE, role: 'anon', app_metadata: { role: 'authenticated' } }

    it('takes the role from the configured path after reload config; a token without it is anon', async () => {
      expect((await contextAs(rest.app.url, rest.app.anonKey, nested)).role).toBe('anon')
      await setForAuthenticator('jwt_role_claim_key', '.app_metadata.role')
      await reloadConfigUntil(async () => (await contextAs(rest.app.url, rest.app.anonKey, nested)).role === 'authenticated')
      expect((await contextAs(rest.app.url, rest.app.anonKey, { sub: ALICE, role: 'authenticated' })).role).toBe('anon')
      // A role found at the path still passes the role guard: no superuser through a claim.
      const forged = await rest.token({ app_metadata: { role: 'postgres' } })
      const refused = await fetch(`${rest.app.url}/rest/v1/todos`, { headers: { apikey: rest.app.anonKey, authorization: `Bearer ${forged}` } })
      expect(refused.status).toBe(403)
    })

    it('loses to JWT_ROLE_CLAIM_KEY in the environment', async () => {
      const app: TestApp = await startTestApp(ctx(), { JWT_ROLE_CLAIM_KEY: '.role' })
      try {
        expect((await contextAs(app.url, app.anonKey, nested)).role).toBe('anon')
      } finally {
        await app.close()
      }
      await setForAuthenticator('jwt_role_claim_key', null)
      await reloadConfigUntil(async () => (await contextAs(rest.app.url, rest.app.anonKey, nested)).role === 'anon')
    })
  })

  describe('db_schemas', () => {
    const get = (url: string, apikey: string, path: string, profile?: string) =>
      fetch(`${url}/rest/v1${path}`, { headers: { apikey, ...(profile ? { 'accept-profile': profile } : {}) } })

    it('exposes the schemas the database names after reload config, the first being the default', async () => {
      const refused = await get(rest.app.url, rest.app.anonKey, '/users?select=username&limit=1', 'personal')
      expect(refused.status).toBe(406)
      await setForAuthenticator('db_schemas', 'personal, public')
      await reloadConfigUntil(async () => (await get(rest.app.url, rest.app.anonKey, '/users?select=username&limit=1', 'personal')).status === 200)
      const viaDefault = await get(rest.app.url, rest.app.anonKey, '/users?select=status&limit=1')
      expect(viaDefault.headers.get('content-profile')).toBe('personal')
      expect(await viaDefault.json()).toEqual([{ status: expect.any(String) }])
      const { data, error } = await rest.anon.schema('public').from('todos').select('task')
      expect(error).toBeNull()
      expect(data).toEqual([{ task: 'alice public' }])
    })

    it('loses to DB_SCHEMAS in the environment, and goes back on reset', async () => {
      const app = await startTestApp(ctx(), { DB_SCHEMAS: 'public' })
      try {
        const response = await get(app.url, app.anonKey, '/users?select=username', 'personal')
        expect(response.status).toBe(406)
        expect((await response.json()).hint).toBe('Only the following schemas are exposed: public')
      } finally {
        await app.close()
      }
      await setForAuthenticator('db_schemas', null)
      await reloadConfigUntil(async () => (await get(rest.app.url, rest.app.anonKey, '/users?select=username', 'personal')).status === 406)
    })
  })
})
