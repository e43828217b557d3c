/**
 * The embedded database (PGlite, one session):
 *  - concurrent transactions and autocommit statements through the driver never interleave:
 *    each transaction's rows are contiguous, a rolled-back one leaves nothing and takes no
 *    concurrent statement down with it;
 *  - the real `serve` on a data dir takes concurrent mixed traffic with no 5xx and no lost write;
 *  - a `serve` killed with SIGKILL under write load leaves a data dir that opens again (the stale
 *    lock of the dead pid is taken over) with every acknowledged write in it.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPgliteDatabase } from '../../src/db/pglite-driver.ts'
import type { Database } from '../../src/db/types.ts'
import { bootstrap } from '../../src/schema/bootstrap.ts'
import { FIXTURE_SQL, serveEnv, Traffic } from './support/fixture.ts'
import { Recorder, runLoad, sleep, summarize } from './support/load.ts'
import { report, scale } from './support/profile.ts'
import { signUpWorkers } from './support/scenario.ts'
import { spawnServe, type ServeProcess } from './support/serve-process.ts'

const TRANSACTIONS = scale(60, 400)
const LOAD_MS = scale(4000, 30_000)
const KILLS = scale(1, 5)

describe('embedded database: serialised transactions', () => {
  let database: Database

  beforeAll(async () => {
    database = await createPgliteDatabase()
    await database.exec('CREATE TABLE steps (seq bigserial PRIMARY KEY, tx int NOT NULL, step int NOT NULL); CREATE TABLE solo (id int PRIMARY KEY)')
  })

  afterAll(async () => {
    await database?.close()
  })

  it('never interleaves concurrent transactions and autocommit statements', async () => {
    const failing = new Set<number>()
    const work = Array.from({ length: TRANSACTIONS }, async (_, tx) => {
      const fail = tx % 5 === 4
      if (fail) failing.add(tx)
      const transaction = database
        .transaction(async (q) => {
          for (let step = 0; step < 3; step++) {
            await q.query('INSERT INTO steps (tx, step) VALUES ($1, $2)', [tx, step])
            // Yield to the event loop: other callers get every chance to cut in here.
            await sleep(Math.random() * 3)
          }
          if (fail) throw new Error('roll back')
        })
        .then(
          () => 'committed',
          (error: Error) => error.message,
        )
      // An autocommit statement issued while transactions are open: it must not run inside one
      // (it would then vanish with a rolled-back transaction).
      const solo = database.query('INSERT INTO solo (id) VALUES ($1)', [tx])
      const [outcome] = await Promise.all([transaction, solo])
      return outcome
    })
    const outcomes = await Promise.all(work)
    const { rows } = await database.query<{ tx: number; step: number }>('SELECT tx, step FROM steps ORDER BY seq')
    const solo = await database.query<{ n: number }>('SELECT count(*)::int AS n FROM solo')

    // Contiguous runs: tx, tx, tx — never another transaction's row in between.
    const runs: number[] = []
    for (const row of rows) if (runs.at(-1) !== row.tx) runs.push(row.tx)
    report('embedded serialisation', { transactions: TRANSACTIONS, rolledBack: failing.size, stepRows: rows.length, runs: runs.length, soloRows: solo.rows[0]!.n })

    expect(outcomes.filter((o) => o === 'committed')).toHaveLength(TRANSACTIONS - failing.size)
    expect(new Set(runs).size).toBe(runs.length)
    expect(rows.length).toBe((TRANSACTIONS - failing.size) * 3)
    expect(rows.filter((r) => failing.has(r.tx))).toEqual([])
    for (const tx of new Set(runs)) expect(rows.filter((r) => r.tx === tx).map((r) => r.step)).toEqual([0, 1, 2])
    expect(solo.rows[0]!.n).toBe(TRANSACTIONS)
  })
})

/** A data dir with the bootstrap and the fixture relations, as `serve` would find it. */
async function preparedDataDir(): Promise<string> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'resolution-reliability-embedded-'))
  const database = await createPgliteDatabase({ dataDir })
  try {
    await bootstrap(database)
    await database.exec(FIXTURE_SQL)
  } finally {
    await database.close()
  }
  return dataDir
}

async function auditDataDir(dataDir: string, traffic: Traffic) {
  const database = await createPgliteDatabase({ dataDir })
  try {
    return await traffic.audit(database)
  } finally {
    await database.close()
  }
}

describe('embedded database: serve under load, SIGKILL and reopen', () => {
  let dataDir: string
  let server: ServeProcess | undefined

  beforeAll(async () => {
    dataDir = await preparedDataDir()
  })

  afterAll(async () => {
    await server?.kill()
    if (dataDir) rmSync(dataDir, { recursive: true, force: true })
  })

  it('serves concurrent mixed traffic with no 5xx and no lost write', async () => {
    server = await spawnServe(serveEnv(undefined, { RESOLUTION_DATA_DIR: dataDir }))
    const recorder = new Recorder()
    const traffic = new Traffic(server.url, { anon: server.anonKey, service: server.serviceRoleKey }, recorder)
    const restWrites = await traffic.probeRestWrites()
    expect(restWrites).toBe(true)
    // Sign-ups (bcrypt) first, so the measured load is the steady mix.
    await signUpWorkers(traffic, 8)
    await runLoad((worker) => traffic.step(worker), { concurrency: 8, durationMs: LOAD_MS })
    server.child.kill('SIGTERM')
    expect((await server.exit).code).toBe(0)
    server = undefined
    const summary = summarize(recorder.samples)
    const audit = await auditDataDir(dataDir, traffic)
    report('embedded mixed load', { seconds: LOAD_MS / 1000, ...summary, restWrites, writes: { acked: audit.acked, lost: audit.lost.length, phantom: audit.phantom.length } })

    expect(summary.count5xx).toBe(0)
    expect(Object.keys(summary.statuses).filter((s) => !/^2\d\d$/.test(s))).toEqual([])
    expect(audit.acked).toBeGreaterThan(8)
    expect(audit.lost).toEqual([])
    expect(audit.phantom).toEqual([])
  })

  it('reopens a data dir left by a SIGKILLed process, with every acknowledged write', async () => {
    const rounds = []
    for (let round = 0; round < KILLS; round++) {
      server = await spawnServe(serveEnv(undefined, { RESOLUTION_DATA_DIR: dataDir }))
      const killed = server
      const recorder = new Recorder()
      const traffic = new Traffic(server.url, { anon: server.anonKey, service: server.serviceRoleKey }, recorder, [
        ['restInsert', 2],
        ['vaultInsert', 2],
        ['restRead', 1],
      ])
      expect(await traffic.probeRestWrites()).toBe(true)
      // Warm: the first requests load the schema cache and JIT the code paths.
      await runLoad((worker) => traffic.step(worker), { concurrency: 6, maxRequests: 30 })
      const stop = new AbortController()
      const loading = runLoad((worker) => traffic.step(worker), { concurrency: 6, signal: stop.signal })
      await sleep(scale(1500, 3000))
      killed.child.kill('SIGKILL')
      await killed.exit
      stop.abort()
      await loading
      server = undefined
      // The dead process's lock is still there: the next start must take it over.
      expect(readFileSync(path.join(dataDir, 'resolution.lock'), 'utf8')).toBe(String(killed.pid))

      const t0 = performance.now()
      server = await spawnServe(serveEnv(undefined, { RESOLUTION_DATA_DIR: dataDir }))
      const reopenMs = Math.round(performance.now() - t0)
      const health = await fetch(`${server.url}/health`)
      expect(health.status).toBe(200)
      const read = await fetch(`${server.url}/rest/v1/items?select=id&limit=1`, { headers: { apikey: server.anonKey } })
      expect(read.status).toBe(200)
      server.child.kill('SIGTERM')
      expect((await server.exit).code).toBe(0)
      server = undefined

      const audit = await auditDataDir(dataDir, traffic)
      rounds.push({ requestsBeforeKill: recorder.samples.length, acked: audit.acked, unknown: audit.unknown, lost: audit.lost.length, phantom: audit.phantom.length, reopenMs })
      expect(audit.acked).toBeGreaterThan(0)
      expect(audit.lost).toEqual([])
      expect(audit.phantom).toEqual([])
    }
    report('embedded SIGKILL and reopen', { rounds })
  })
})
