/**
 * Every database suite runs on PGlite, and also on a real PostgreSQL when TEST_DATABASE_URL is
 * set. Each suite gets a fresh, bootstrapped database of its own (a new PGlite instance, or a new
 * database on the server, dropped afterwards), so suites never see each other's data.
 */
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, inject } from 'vitest'
import { createPgDatabase } from '../../src/db/pg-driver.ts'
import { createPgliteDatabase } from '../../src/db/pglite-driver.ts'
import type { Database } from '../../src/db/types.ts'
import { bootstrap } from '../../src/schema/bootstrap.ts'

export type TargetName = 'pglite' | 'postgres'

export interface TestDatabase {
  target: TargetName
  database: Database
  /** Set for the postgres target: the URL of this suite's own database. */
  url: string | undefined
}

export function targets(): TargetName[] {
  return process.env.TEST_DATABASE_URL ? ['pglite', 'postgres'] : ['pglite']
}

/** A fresh database on the server at `adminUrl` (default TEST_DATABASE_URL); `drop` removes it. */
export async function createServerDatabase(
  adminUrl = process.env.TEST_DATABASE_URL,
  prefix = 'resolution_test',
): Promise<{ name: string; url: string; drop: () => Promise<void> }> {
  if (!adminUrl) throw new Error('TEST_DATABASE_URL is not set')
  const name = `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`
  const admin = new pg.Client({ connectionString: adminUrl })
  await admin.connect()
  try {
    await admin.query(`CREATE DATABASE "${name}"`)
  } finally {
    await admin.end()
  }
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  return {
    name,
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: adminUrl })
      await client.connect()
      try {
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
      } finally {
        await client.end()
      }
    },
  }
}

/** The run's PGlite starting point (test/support/pglite-templates.ts); undefined under a config without it. */
async function pgliteTemplate(name: 'empty.tar' | 'bootstrapped.tar'): Promise<Blob | undefined> {
  const dir = inject('pgliteTemplates')
  return dir ? new Blob([await readFile(path.join(dir, name))]) : undefined
}

/** Opens a fresh database on `target`; `bootstrapped: false` leaves it empty. */
export async function openTestDatabase(target: TargetName, options: { bootstrapped?: boolean } = {}): Promise<TestDatabase & { dispose: () => Promise<void> }> {
  if (target === 'pglite') {
    const bootstrapped = options.bootstrapped !== false
    const template = await pgliteTemplate(bootstrapped ? 'bootstrapped.tar' : 'empty.tar')
    const database = await createPgliteDatabase({ loadDataDir: template })
    if (bootstrapped && !template) await bootstrap(database)
    return { target, database, url: undefined, dispose: () => database.close() }
  }
  const server = await createServerDatabase()
  const database = createPgDatabase({ url: server.url, poolMax: 5 })
  if (options.bootstrapped !== false) await bootstrap(database)
  return {
    target,
    database,
    url: server.url,
    async dispose() {
      await database.close()
      await server.drop()
    },
  }
}

/**
 * `describe` once per target with a fresh bootstrapped database for the suite:
 *
 *   describeEachDatabase('things', (ctx) => { it('works', async () => { await ctx().database.query(...) }) })
 */
export function describeEachDatabase(title: string, body: (ctx: () => TestDatabase) => void, options: { bootstrapped?: boolean } = {}): void {
  for (const target of targets()) {
    describe(`${title} [${target}]`, () => {
      let current: (TestDatabase & { dispose: () => Promise<void> }) | undefined
      beforeAll(async () => {
        current = await openTestDatabase(target, options)
      }, 120_000)
      afterAll(async () => {
        await current?.dispose()
      }, 60_000)
      body(() => {
        if (!current) throw new Error('test database not ready')
        return current
      })
    })
  }
}
