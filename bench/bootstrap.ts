/**
 * How long `bootstrap()` takes: on a fresh database, as a no-op on a current one, and as a forced
 * re-run of every statement. PGlite always; PostgreSQL when DATABASE_URL or TEST_DATABASE_URL
 * names a server whose role may create databases.
 *
 *   node --import tsx bench/bootstrap.ts [runs]
 */
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { createPgDatabase } from '../src/db/pg-driver.ts'
import { createPgliteDatabase } from '../src/db/pglite-driver.ts'
import type { Database } from '../src/db/types.ts'
import { bootstrap } from '../src/schema/bootstrap.ts'

const runs = Number(process.argv[2] ?? 5)
const serverUrl = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL

interface Target {
  name: string
  open: () => Promise<{ database: Database; dispose: () => Promise<void> }>
}

const targets: Target[] = [
  {
    name: 'pglite',
    async open() {
      const database = await createPgliteDatabase()
      return { database, dispose: () => database.close() }
    },
  },
]

if (serverUrl) {
  targets.push({
    name: 'postgres',
    async open() {
      const name = `resolution_bench_${randomBytes(4).toString('hex')}`
      const admin = async (sql: string) => {
        const client = new pg.Client({ connectionString: serverUrl })
        await client.connect()
        try {
          await client.query(sql)
        } finally {
          await client.end()
        }
      }
      await admin(`CREATE DATABASE "${name}"`)
      const url = new URL(serverUrl)
      url.pathname = `/${name}`
      const database = createPgDatabase({ url: url.toString(), poolMax: 2 })
      await database.ping()
      return {
        database,
        async dispose() {
          await database.close()
          await admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
        },
      }
    },
  })
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!
const summary = (values: number[]) => `median ${median(values).toFixed(1)} ms, min ${Math.min(...values).toFixed(1)} ms, max ${Math.max(...values).toFixed(1)} ms`

for (const target of targets) {
  const fresh: number[] = []
  const noop: number[] = []
  const forced: number[] = []
  const steps = new Map<string, number[]>()
  for (let i = 0; i < runs; i++) {
    const { database, dispose } = await target.open()
    try {
      const first = await bootstrap(database)
      if (!first.applied) throw new Error('a fresh database should be bootstrapped')
      fresh.push(first.durationMs)
      for (const step of first.steps) steps.set(step.name, [...(steps.get(step.name) ?? []), step.durationMs])
      for (let j = 0; j < 20; j++) noop.push((await bootstrap(database)).durationMs)
      forced.push((await bootstrap(database, { force: true })).durationMs)
    } finally {
      await dispose()
    }
  }
  console.log(`${target.name} (${runs} databases)`)
  console.log(`  fresh bootstrap:  ${summary(fresh)}`)
  console.log(`  no-op (current):  ${summary(noop)}`)
  console.log(`  forced re-run:    ${summary(forced)}`)
  console.log(`  fresh, per step:  ${[...steps].map(([name, values]) => `${name} ${median(values).toFixed(0)}`).join(', ')} (median ms)`)
}
