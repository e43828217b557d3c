/**
 * The server driver: a `pg` pool. Used for `DATABASE_URL` (container, EC2, Lambda with a pool of
 * one). Broken connections are discarded by the pool and replaced on next use.
 * @module
 */
import { pipeline } from 'node:stream/promises'
import { Readable } from 'node:stream'
import pg from 'pg'
import { from as copyFromStdin } from 'pg-copy-streams'
import { maskUrl } from '../config/config.ts'
import { isConnectionError } from './errors.ts'
import type { CopySource, Database, DatabaseCapabilities, Queryable, QueryResult, TransactionOptions } from './types.ts'

// Dates and timestamps stay the text PostgreSQL sent: no time-zone surprises, same as PGlite's driver.
for (const oid of [1082, 1114, 1184, 1083, 1266]) pg.types.setTypeParser(oid, (value: string) => value)

export interface PgDriverOptions {
  url: string
  poolMax: number
  /** Per-connection idle timeout, ms; 0 keeps connections forever (Lambda). */
  idleTimeoutMs?: number
  connectionTimeoutMs?: number
  /**
   * Client-side limit on waiting for any answer to a statement, ms. In a network partition no
   * FIN or RST arrives: without it a statement waits forever and its connection is lost to the
   * pool for good. On expiry the statement fails as a connection error and the connection is
   * discarded. Undefined: no limit (CLI work such as a restore's COPY may take minutes).
   */
  queryTimeoutMs?: number
  applicationName?: string
}

function toResult<R>(result: pg.QueryResult): QueryResult<R> {
  // A multi-statement text returns an array of results; the interface reports the last one.
  const last = Array.isArray(result) ? (result as pg.QueryResult[]).at(-1)! : result
  return {
    rows: (last?.rows ?? []) as R[],
    rowCount: last?.rowCount ?? last?.rows?.length ?? 0,
    fields: (last?.fields ?? []).map((f) => ({ name: f.name, dataTypeID: f.dataTypeID })),
  }
}

function clientQueryable(client: pg.PoolClient | pg.Pool): Queryable {
  return {
    async query<R>(sql: string, params: readonly unknown[] = [], options: { name?: string } = {}) {
      if (options.name) return toResult<R>(await client.query({ name: options.name, text: sql, values: params as unknown[] }))
      return toResult<R>(await client.query(sql, params as unknown[]))
    },
    async exec(sql: string) {
      await client.query(sql)
    },
    async copyFrom(copySql: string, source: CopySource) {
      if (!('release' in client)) throw new Error('copyFrom needs a transaction or a dedicated connection')
      const stream = client.query(copyFromStdin(copySql))
      await pipeline(source instanceof Readable ? source : Readable.from(source), stream)
      return stream.rowCount ?? 0
    },
  }
}

export function beginStatement(options: TransactionOptions = {}): string {
  const parts = ['BEGIN']
  if (options.isolation) parts.push('ISOLATION LEVEL', options.isolation.toUpperCase())
  if (options.readOnly) parts.push('READ ONLY')
  return parts.join(' ')
}

export const PG_CAPABILITIES: DatabaseCapabilities = { supportsListen: true, inProcess: false, separateConnections: true }

export function createPgDatabase(options: PgDriverOptions): Database {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolMax,
    idleTimeoutMillis: options.idleTimeoutMs ?? 30_000,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 5_000,
    query_timeout: options.queryTimeoutMs,
    application_name: options.applicationName ?? 'resolution',
  })
  // An idle connection the server dropped emits here; the pool already removed it. Without a
  // listener Node would crash the process on a database restart.
  pool.on('error', () => {})

  const autocommit = clientQueryable(pool)

  const database: Database = {
    kind: 'pg',
    capabilities: PG_CAPABILITIES,
    description: maskUrl(options.url),
    query: autocommit.query,
    exec: autocommit.exec,
    async copyFrom(copySql, source) {
      return database.transaction((tx) => tx.copyFrom(copySql, source))
    },
    async transaction(fn, txOptions) {
      const client = await pool.connect()
      let broken: Error | undefined
      // A checked-out client has no pool listener: a server shutdown or pg_terminate_backend
      // between two statements would be an unhandled 'error' event and kill the process.
      const onError = (error: Error) => {
        broken ??= error
      }
      client.on('error', onError)
      try {
        await client.query(beginStatement(txOptions))
        try {
          const result = await fn(clientQueryable(client))
          await client.query('COMMIT')
          return result
        } catch (error) {
          // The connection is gone or unanswering: the server rolls back when it is closed, and a
          // ROLLBACK on it would only wait out another timeout.
          if (isConnectionError(error)) {
            broken = error as Error
            throw error
          }
          await client.query('ROLLBACK').catch((rollbackError: Error) => {
            broken = rollbackError
          })
          throw error
        }
      } catch (error) {
        // A connection-level failure (no SQLSTATE) means the connection is unusable.
        if (!(error as { code?: string }).code || broken) broken ??= error as Error
        throw error
      } finally {
        client.removeListener('error', onError)
        client.release(broken)
      }
    },
    async ping(timeoutMs = 2000) {
      let timer: NodeJS.Timeout | undefined
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(Object.assign(new Error('database ping timed out'), { code: 'ETIMEDOUT' })), timeoutMs)
      })
      try {
        // The query timeout discards a connection that does not answer, instead of leaving it checked out.
        await Promise.race([pool.query({ text: 'SELECT 1', query_timeout: timeoutMs } as pg.QueryConfig), timeout])
      } finally {
        clearTimeout(timer)
      }
    },
    async serverVersionNum() {
      const { rows } = await pool.query<{ v: string }>("SELECT current_setting('server_version_num') AS v")
      return Number(rows[0]!.v)
    },
    async close() {
      await pool.end()
    },
  }
  return database
}
