/**
 * `db migrate` and `db restore` tell running API instances that the schema changed
 * (`NOTIFY pgrst, 'reload schema'` in their transaction): a table they create is served by a
 * running server without a restart. PostgreSQL only: the embedded database has one process.
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { migrate } from '../../src/dbtools/migrate.ts'
import { restore } from '../../src/dbtools/restore/restore.ts'
import { startTestApp, type TestApp } from '../support/app.ts'
import { openTestDatabase, targets, type TestDatabase } from '../support/databases.ts'

async function servedRows(app: TestApp, table: string): Promise<unknown> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const response = await fetch(`${app.url}/rest/v1/${table}?select=id`, { headers: { apikey: app.anonKey } })
    if (response.status === 200) return response.json()
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return 'never served'
}

describe.runIf(targets().includes('postgres'))('schema reload after db migrate and db restore [postgres]', () => {
  let testDb: TestDatabase & { dispose: () => Promise<void> }
  let app: TestApp
  beforeAll(async () => {
    testDb = await openTestDatabase('postgres')
    app = await startTestApp(testDb)
    // The cache is loaded before the changes below.
    expect((await fetch(`${app.url}/rest/v1/migrated?select=id`, { headers: { apikey: app.anonKey } })).status).toBe(404)
  })
  afterAll(async () => {
    await app?.close()
    await testDb?.dispose()
  })

  it('serves a table a migration created, without a restart', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'resolution-migrations-'))
    writeFileSync(path.join(dir, '20260101000000_migrated.sql'), 'CREATE TABLE public.migrated (id int primary key);\nINSERT INTO public.migrated VALUES (1);\n')
    await migrate(testDb.database, dir)
    expect(await servedRows(app, 'migrated')).toEqual([{ id: 1 }])
  })

  it('serves a table a restore created, without a restart', async () => {
    const dump = 'CREATE TABLE public.restored (id int primary key);\nCOPY public.restored (id) FROM stdin;\n2\n\\.\n'
    await restore(testDb.database, [{ name: 'dump.sql', size: dump.length, open: () => Readable.from([Buffer.from(dump)]) }])
    expect(await servedRows(app, 'restored')).toEqual([{ id: 2 }])
  })

  it('keeps listening after its connection is killed (pg_terminate_backend): a later NOTIFY is still picked up', async () => {
    const listenerPid = async (): Promise<number | undefined> => {
      const { rows } = await testDb.database.query<{ pid: number }>(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'resolution schema listener' AND state = 'idle' AND query ILIKE 'LISTEN%'",
      )
      return rows[0]?.pid
    }
    const waitForPid = async (unlike?: number): Promise<number> => {
      for (let attempt = 0; attempt < 100; attempt++) {
        const pid = await listenerPid()
        if (pid !== undefined && pid !== unlike) return pid
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      throw new Error('no schema listener connection')
    }
    const first = await waitForPid()
    await testDb.database.query('SELECT pg_terminate_backend($1)', [first])
    // Reconnects after its first backoff step (1 s), on a new backend.
    await waitForPid(first)
    // Created once the new connection listens, so only a notification on it can tell the service.
    await testDb.database.exec('CREATE TABLE public.after_kill (id int primary key); INSERT INTO public.after_kill VALUES (3); GRANT SELECT ON public.after_kill TO anon')
    await testDb.database.exec("NOTIFY pgrst, 'reload schema'")
    expect(await servedRows(app, 'after_kill')).toEqual([{ id: 3 }])
  })
})
