/**
 * The original Python system froze the first database URL in its session factories. Here the
 * database is resolved per app instance from its own config: two apps in one process, with
 * different databases, each read and write their own.
 */
import os from 'node:os'
import path from 'node:path'
import { mkdtempSync } from 'node:fs'
import { afterAll, expect, it } from 'vitest'
import { createApp } from '../../src/app.ts'
import { loadConfig } from '../../src/config/config.ts'
import { withSession } from '../../src/db/session.ts'
import { createServices, type Services } from '../../src/services.ts'
import { createServerDatabase, targets } from '../support/databases.ts'
import { TEST_JWT_SECRET } from '../support/app.ts'
import { describe } from 'vitest'

async function configFor(target: string): Promise<{ env: Record<string, string>; drop: () => Promise<void> }> {
  if (target === 'postgres') {
    const server = await createServerDatabase()
    return { env: { DATABASE_URL: server.url }, drop: server.drop }
  }
  return { env: { RESOLUTION_DATA_DIR: mkdtempSync(path.join(os.tmpdir(), 'resolution-inst-')) }, drop: async () => {} }
}

for (const target of targets()) {
  describe(`two app instances in one process [${target}]`, () => {
    const cleanups: Array<() => Promise<void>> = []
    afterAll(async () => {
      for (const cleanup of cleanups.reverse()) await cleanup()
    })

    it('each use the database of their own config, never the first one opened', async () => {
      const instances: Services[] = []
      for (const label of ['first', 'second']) {
        const { env, drop } = await configFor(target)
        const services = await createServices(loadConfig({ ...env, JWT_SECRET: TEST_JWT_SECRET, LOG_LEVEL: 'silent' }))
        cleanups.push(drop, () => services.close())
        createApp(services) // building the app must not open or capture anything
        const database = await services.database()
        await database.exec('CREATE TABLE whoami (label text)')
        await withSession(database, {}, (tx) => tx.query('INSERT INTO whoami VALUES ($1)', [label]))
        instances.push(services)
      }
      for (const [index, services] of instances.entries()) {
        const { rows } = await (await services.database()).query<{ label: string }>('SELECT label FROM whoami')
        expect(rows).toEqual([{ label: index === 0 ? 'first' : 'second' }])
      }
    })
  })
}
