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
import { isConnectionError, isStalePlan } from './errors.ts'
import { ChainedQuery } from './pg-chain.ts'
import { PreparedNames } from './prepared.ts'
import type { CopySource, Database, DatabaseCapabilities, Queryable, QueryOptions, QueryResult, Statement, TransactionOptions } from './types.ts'

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
  /** Keep repeated statements prepared per connection (default true); off behind poolers that cannot keep them. */
  preparedStatements?: boolean
  /** How many distinct statements may be kept prepared (default 500). */
  preparedStatementsMax?: number
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

/** Autocommit statements on the pool: named only by their caller (`options.name`), never by text. */
function poolQueryable(pool: pg.Pool, named: boolean): Omit<Queryable, 'copyFrom'> {
  return {
    async query<R>(sql: string, params: readonly unknown[] = [], options: QueryOptions = {}) {
      if (named && options.name) return toResult<R>(await pool.query({ name: options.name, text: sql, values: params as unknown[] }))
      return toResult<R>(await pool.query(sql, params as unknown[]))
    },
    async exec(sql: string) {
      await pool.query(sql)
    },
  }
}

const READ_ONLY_SQL = "SELECT set_config('transaction_read_only', 'on', true)"

/**
 * What opens a transaction that has no BEGIN (one implicit transaction up to a Sync): the
 * prelude, made READ ONLY by the transaction-local setting BEGIN READ ONLY sets — joined to the
 * prelude's SELECT, since each statement costs a protocol cycle.
 */
export function implicitPrelude(options: TransactionOptions): Statement | undefined {
  const { prelude, readOnly } = options
  if (prelude) return readOnly ? { sql: `SELECT FROM (${READ_ONLY_SQL}) AS read_only, LATERAL (${prelude.sql}) AS prelude`, params: prelude.params } : prelude
  return readOnly ? { sql: READ_ONLY_SQL, params: [] } : undefined
}

/** Whether a transaction can run without BEGIN/COMMIT: its first statement is its last, and no isolation level is asked for. */
export function canRunImplicitly(options: TransactionOptions, commit: boolean): boolean {
  return commit && !options.isolation
}

export function beginStatement(options: TransactionOptions = {}): string {
  const parts = ['BEGIN']
  if (options.isolation) parts.push('ISOLATION LEVEL', options.isolation.toUpperCase())
  if (options.readOnly) parts.push('READ ONLY')
  return parts.join(' ')
}

/**
 * Writes `configs` in one write (the client is in pipeline mode: each statement has its own Sync,
 * so one failing does not swallow the others) and reads every answer. The first failure is
 * thrown once all have answered, so the connection is quiet again when this returns.
 */
async function sendTogether(client: pg.PoolClient, configs: Array<pg.QueryConfig | ChainedQuery>): Promise<pg.QueryResult[]> {
  const stream = (client as unknown as { connection: { stream: NodeJS.WritableStream & { cork(): void; uncork(): void } } }).connection.stream
  stream.cork()
  let pending: Array<Promise<pg.QueryResult | pg.QueryResult[]>>
  try {
    pending = configs.map((config) => {
      if (!(config instanceof ChainedQuery)) return client.query(config)
      client.query(config as unknown as pg.QueryConfig)
      return config.done
    })
  } finally {
    stream.uncork()
  }
  const settled = await Promise.allSettled(pending)
  const failed = settled.find((s) => s.status === 'rejected')
  if (failed) throw failed.reason
  // A chain answers with one result per statement.
  return settled.flatMap((s) => (s as PromiseFulfilledResult<pg.QueryResult | pg.QueryResult[]>).value)
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
    // Statements issued together are written together (see sendTogether); issued one by one
    // they behave as without it.
    pipeline: true,
  } as pg.PoolConfig)
  // An idle connection the server dropped emits here; the pool already removed it. Without a
  // listener Node would crash the process on a database restart.
  pool.on('error', () => {})

  const prepared = options.preparedStatements === false ? undefined : new PreparedNames(options.preparedStatementsMax ?? 500)
  // The prepared-statement generation each connection's statements belong to.
  const generations = new WeakMap<pg.PoolClient, number>()
  const statement = (sql: string, params: readonly unknown[], prepare?: boolean): pg.QueryConfig => {
    const name = prepare ? prepared?.nameFor(sql) : undefined
    return name ? { name, text: sql, values: params as unknown[] } : { text: sql, values: params as unknown[] }
  }

  /** DEALLOCATE ALL when the schema changed since `client` prepared its statements. */
  const forgetStale = (client: pg.PoolClient): pg.QueryConfig[] => {
    const configs: pg.QueryConfig[] = []
    if (prepared) {
      const seen = generations.get(client)
      if (seen !== undefined && seen !== prepared.generation) {
        // The schema changed since this connection prepared its statements.
        configs.push({ text: 'DEALLOCATE ALL' })
        const connection = (client as unknown as { connection: { parsedStatements: object; submittedNamedStatements: object } }).connection
        connection.parsedStatements = {}
        connection.submittedNamedStatements = {}
      }
      generations.set(client, prepared.generation)
    }
    return configs
  }

  /** What opens a transaction on `client`: sent together with its first statement. */
  const opening = (client: pg.PoolClient, txOptions: TransactionOptions = {}): pg.QueryConfig[] => {
    const configs = forgetStale(client)
    configs.push({ text: beginStatement(txOptions) })
    if (txOptions.prelude) configs.push(statement(txOptions.prelude.sql, txOptions.prelude.params, true))
    return configs
  }

  const autocommit = poolQueryable(pool, options.preparedStatements !== false)

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
      // idle: nothing sent yet (BEGIN waits for the first statement); open: BEGIN sent;
      // done: COMMIT went out with the last statement.
      let state = 'idle' as 'idle' | 'open' | 'done'
      const run = async (configs: pg.QueryConfig[], commit = false): Promise<pg.QueryResult[]> => {
        if (state === 'idle' && canRunImplicitly(txOptions ?? {}, commit) && configs.every((c) => c.values !== undefined)) {
          // The first statement is the last: no BEGIN/COMMIT, one Sync (see pg-chain.ts).
          state = 'done'
          const head = forgetStale(client)
          const prelude = implicitPrelude(txOptions ?? {})
          const chain = [...(prelude ? [statement(prelude.sql, prelude.params, true)] : []), ...configs]
          const results = await sendTogether(client, [...head, new ChainedQuery(chain.map((c) => ({ text: c.text, values: c.values ?? [], name: c.name })))])
          return results.slice(results.length - configs.length)
        }
        const head = state === 'idle' ? opening(client, txOptions) : []
        state = 'open'
        try {
          return (await sendTogether(client, [...head, ...configs, ...(commit ? [{ text: 'COMMIT' }] : [])])).slice(head.length)
        } finally {
          // COMMIT was answered either way: on a transaction a failed statement aborted, it rolls back.
          if (commit) state = 'done'
        }
      }
      const tx: Queryable = {
        async query<R>(sql: string, params: readonly unknown[] = [], queryOptions: QueryOptions = {}) {
          const [result] = await run([statement(sql, params, queryOptions.prepare)], queryOptions.commit)
          return toResult<R>(result!)
        },
        async exec(sql: string) {
          await run([{ text: sql }])
        },
        async copyFrom(copySql: string, source: CopySource) {
          if (state === 'idle') await run([])
          // COPY keeps the connection in a sub-protocol: it cannot share a pipeline.
          const raw = client as unknown as { pipeline: boolean }
          raw.pipeline = false
          try {
            const stream = client.query(copyFromStdin(copySql))
            await pipeline(source instanceof Readable ? source : Readable.from(source), stream)
            return stream.rowCount ?? 0
          } finally {
            raw.pipeline = true
          }
        },
      }
      try {
        try {
          const result = await fn(tx)
          if (state === 'open') {
            state = 'done'
            await client.query('COMMIT')
          }
          return result
        } catch (error) {
          // The connection is gone or unanswering: the server rolls back when it is closed, and a
          // ROLLBACK on it would only wait out another timeout.
          if (isConnectionError(error)) {
            broken = error as Error
            throw error
          }
          if (state === 'open') {
            state = 'done'
            await client.query('ROLLBACK').catch((rollbackError: Error) => {
              broken = rollbackError
            })
          }
          throw error
        }
      } catch (error) {
        // A statement kept prepared across a schema change (before the reload notice arrived):
        // every connection re-prepares from now on.
        if (isStalePlan(error)) prepared?.forget()
        // A connection-level failure (no SQLSTATE) means the connection is unusable.
        if (!(error as { code?: string }).code || broken) broken ??= error as Error
        throw error
      } finally {
        client.removeListener('error', onError)
        client.release(broken)
      }
    },
    forgetPreparedStatements() {
      prepared?.forget()
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
