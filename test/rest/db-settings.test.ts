/**
 * In-database configuration, as PostgREST reads it: `pgrst.*` settings of the authenticator role
 * (and of the database), picked up on `NOTIFY pgrst, 'reload config'`, under the environment,
 * which wins. The role settings are scoped to the suite's own database (`ALTER ROLE … IN DATABASE`),
 * since roles are shared by every database of a server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { reloadSchemaCache } from '../../src/rest/schema-cache/index.ts'
import { startTestApp, type TestApp } from '../support/app.ts'
import { describeEachDatabase } from '../support/databases.ts'
import { startRest, type RestHarness } from './support.ts'

const AGGREGATE = '/messages?select=total:id.count()'

async function eventually(probe: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const started = Date.now()
  while (!(await probe())) {
    if (Date.now() - started > ms) throw new Error(`not within ${ms} ms`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

describeEachDatabase('in-database pgrst.* settings', (ctx) => {
  const sql = (text: string) => ctx().database.exec(text)
  async function setForAuthenticator(key: string, value: string | null): Promise<void> {
    const { rows } = await ctx().database.query<{ db: string }>('SELECT current_database() AS db')
    const db = `"${rows[0]!.db.replaceAll('"', '""')}"`
    await sql(value === null ? `ALTER ROLE authenticator IN DATABASE ${db} RESET pgrst.${key}` : `ALTER ROLE authenticator IN DATABASE ${db} SET pgrst.${key} = '${value}'`)
  }

  describe('without environment variables', () => {
    let rest: RestHarness
    beforeAll(async () => {
      rest = await startRest(ctx())
    })
    afterAll(async () => {
      await setForAuthenticator('db_aggregates_enabled', null)
      await setForAuthenticator('db_max_rows', null)
      await setForAuthenticator('db_tx_end', null)
      await rest?.app.close()
    })

    it('turns aggregates on after NOTIFY pgrst, \'reload config\'', async () => {
      const refused = await rest.fetch(AGGREGATE)
      expect(refused.status).toBe(400)
      expect((await refused.json()).code).toBe('PGRST123')
      await setForAuthenticator('db_aggregates_enabled', 'true')
      // The listener may still be connecting on a server: notify until the change is served.
      await eventually(async () => {
        await sql("NOTIFY pgrst, 'reload config'")
        return (await rest.fetch(AGGREGATE)).status === 200
      })
      expect(await (await rest.fetch(AGGREGATE)).json()).toEqual([{ total: 4 }])
      const viaClient = await rest.anon.from('messages').select('id.count()')
      expect(viaClient.error).toBeNull()
      expect(viaClient.data).toEqual([{ count: 4 }])
    })

    it('caps rows with pgrst.db_max_rows', async () => {
      await setForAuthenticator('db_max_rows', '2')
      await reloadSchemaCache(ctx().database)
      const { data, error } = await rest.anon.from('messages').select('id')
      expect(error).toBeNull()
      expect(data).toHaveLength(2)
      await setForAuthenticator('db_max_rows', null)
      await reloadSchemaCache(ctx().database)
      expect((await rest.anon.from('messages').select('id')).data).toHaveLength(4)
    })

    it('ignores a bad value and keeps the default', async () => {
      await setForAuthenticator('db_tx_end', 'sometimes')
      await reloadSchemaCache(ctx().database)
      const res = await rest.fetch('/messages?select=id', { headers: { Prefer: 'tx=rollback' } })
      expect(res.status).toBe(200)
      expect(await res.json()).toHaveLength(4)
      await setForAuthenticator('db_tx_end', null)
    })
  })

  describe('with the environment set', () => {
    let app: TestApp
    beforeAll(async () => {
      // The fixture is loaded by the suite above (same database).
      app = await startTestApp(ctx(), { DB_AGGREGATES_ENABLED: 'false', DB_MAX_ROWS: '3' })
      await setForAuthenticator('db_aggregates_enabled', 'true')
      await setForAuthenticator('db_max_rows', '1')
      await reloadSchemaCache(ctx().database)
    })
    afterAll(async () => {
      await setForAuthenticator('db_aggregates_enabled', null)
      await setForAuthenticator('db_max_rows', null)
      await app?.close()
    })

    it('lets the environment win over the database', async () => {
      const get = (path: string) => fetch(`${app.url}/rest/v1${path}`, { headers: { apikey: app.anonKey } })
      const refused = await get(AGGREGATE)
      expect(refused.status).toBe(400)
      expect((await refused.json()).code).toBe('PGRST123')
      expect(await (await get('/messages?select=id')).json()).toHaveLength(3)
    })
  })
})
