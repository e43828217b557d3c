/**
 * The pg driver under connection faults, on our own PostgreSQL: a connection terminated in the
 * middle of a transaction (between two statements, where the pool does not listen) must fail
 * that transaction with a connection error, never crash the process, and leave the pool usable.
 */
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { infrastructureError, isConnectionError } from '../../src/db/errors.ts'
import { createPgDatabase } from '../../src/db/pg-driver.ts'
import type { Database } from '../../src/db/types.ts'
import { sleep } from './support/load.ts'
import { startPgInstance, type PgInstance } from './support/pg-instance.ts'
import { startTcpProxy } from '../support/tcp-proxy.ts'

describe('pg driver under connection faults', () => {
  let instance: PgInstance
  let database: Database
  let admin: pg.Client

  beforeAll(async () => {
    instance = await startPgInstance()
    database = createPgDatabase({ url: instance.url, poolMax: 2, applicationName: 'faults' })
    admin = new pg.Client({ connectionString: instance.url })
    await admin.connect()
  })

  afterAll(async () => {
    await admin?.end().catch(() => {})
    await database?.close().catch(() => {})
    await instance?.destroy()
  })

  it('fails a transaction whose connection is terminated between statements, without an unhandled error', async () => {
    const unhandled: unknown[] = []
    const onUncaught = (error: unknown) => unhandled.push(error)
    process.on('uncaughtException', onUncaught)
    try {
      const outcome = await database
        .transaction(async (tx) => {
          const { rows } = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
          await admin.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid])
          // Idle inside the transaction while the server's FATAL arrives (as during a bcrypt hash).
          await sleep(300)
          await tx.query('SELECT 1')
          return 'committed'
        })
        .catch((error: unknown) => error)
      expect(outcome).not.toBe('committed')
      expect(isConnectionError(outcome)).toBe(true)
      expect(infrastructureError(outcome)?.status).toBe(503)
      expect(unhandled).toEqual([])
      // The broken connection was discarded: the next transactions run on fresh ones.
      for (let i = 0; i < 3; i++) {
        expect(await database.transaction(async (tx) => (await tx.query<{ n: number }>('SELECT 1 AS n')).rows[0]!.n)).toBe(1)
      }
    } finally {
      process.off('uncaughtException', onUncaught)
    }
  })

  it('survives a server fast shutdown with transactions open, and serves again after the restart', async () => {
    const open = Array.from({ length: 2 }, () =>
      database
        .transaction(async (tx) => {
          await tx.query('SELECT 1')
          await sleep(1500)
          await tx.query('SELECT 1')
        })
        .then(
          () => 'ok',
          (error: unknown) => (isConnectionError(error) ? 'connection error' : `other: ${(error as Error).message}`),
        ),
    )
    await sleep(200)
    await admin.end().catch(() => {})
    await instance.stop('fast')
    expect(await Promise.all(open)).toEqual(['connection error', 'connection error'])
    const down = await database.query('SELECT 1').catch((error: unknown) => error)
    expect(isConnectionError(down)).toBe(true)
    await instance.start()
    admin = new pg.Client({ connectionString: instance.url })
    await admin.connect()
    expect((await database.query<{ n: number }>('SELECT 1 AS n')).rows[0]!.n).toBe(1)
  })

  it('gives up on a silent network after the query timeout and frees the connection for the pool', async () => {
    const proxy = await startTcpProxy(instance.port)
    // One connection: a statement that kept it would block everything after it.
    const guarded = createPgDatabase({ url: proxy.url(instance.url), poolMax: 1, queryTimeoutMs: 500, connectionTimeoutMs: 1000 })
    try {
      expect(await guarded.transaction(async (tx) => (await tx.query<{ n: number }>('SELECT 1 AS n')).rows[0]!.n)).toBe(1)
      proxy.blackhole()
      const t0 = performance.now()
      const failed = await guarded.transaction((tx) => tx.query('SELECT 1')).catch((error: unknown) => error)
      const ms = performance.now() - t0
      expect(infrastructureError(failed)).toMatchObject({ status: 503, code: 'database_unavailable' })
      // One timeout, not a second one spent on a ROLLBACK nobody will answer.
      expect(ms).toBeLessThan(1000)
      const ping = await guarded.ping(500).catch((error: unknown) => error)
      expect(isConnectionError(ping)).toBe(true)
      proxy.heal()
      // The unanswering connections were discarded: fresh ones serve at once.
      expect(await guarded.transaction(async (tx) => (await tx.query<{ n: number }>('SELECT 2 AS n')).rows[0]!.n)).toBe(2)
      await guarded.ping(500)
    } finally {
      await guarded.close().catch(() => {})
      await proxy.close()
    }
  })
})
