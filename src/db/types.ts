/**
 * The one database interface. Two drivers implement it: `pg` (a server pool) and PGlite
 * (embedded). Callers never special-case a driver.
 * @module
 */
import type { Readable } from 'node:stream'

export interface QueryField {
  name: string
  dataTypeID: number
}

export interface QueryResult<R = Record<string, unknown>> {
  rows: R[]
  /** Rows affected (INSERT/UPDATE/DELETE/COPY) or returned (SELECT). */
  rowCount: number
  fields: QueryField[]
}

export type CopySource = Readable | AsyncIterable<Uint8Array | string>

/** What can run SQL: the database itself (autocommit) or an open transaction. */
export interface Queryable {
  /**
   * One statement with `$n` parameters. Values never go into the SQL text. `options.name` asks the
   * server driver to keep the statement prepared on the connection (hot paths; drivers may ignore it).
   */
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[], options?: { name?: string }): Promise<QueryResult<R>>
  /** Several statements without parameters (DDL scripts). */
  exec(sql: string): Promise<void>
  /**
   * `COPY table (cols) FROM STDIN` fed from a stream of text-format COPY data.
   * `copySql` is the COPY statement as written for a server (`… FROM STDIN`); the PGlite driver
   * rewrites it to `/dev/blob`. Returns the number of rows loaded.
   */
  copyFrom(copySql: string, source: CopySource): Promise<number>
}

export interface TransactionOptions {
  readOnly?: boolean
  isolation?: 'read committed' | 'repeatable read' | 'serializable'
}

/**
 * What a driver can do, declared by the driver, so callers ask for the capability instead of
 * testing which driver they hold.
 */
export interface DatabaseCapabilities {
  /** LISTEN/NOTIFY works (on a connection of its own, or on the one in-process backend). */
  readonly supportsListen: boolean
  /** The engine runs inside this process: one backend, dumped with the bundled pg_dump, bootstrapped by the CLI on first use. */
  readonly inProcess: boolean
  /** Another connection to the same database can be opened from its URL (a long-lived listener's). */
  readonly separateConnections: boolean
}

export interface Database extends Queryable {
  readonly kind: 'pg' | 'pglite'
  readonly capabilities: DatabaseCapabilities
  /** A masked description for logs and `db status` (never a password). */
  readonly description: string
  /**
   * Runs `fn` inside BEGIN … COMMIT (ROLLBACK when it throws). On PGlite transactions are
   * serialised so concurrent callers never interleave.
   */
  transaction<T>(fn: (tx: Queryable) => Promise<T>, options?: TransactionOptions): Promise<T>
  /** Cheap reachability check (`SELECT 1`) with a timeout. */
  ping(timeoutMs?: number): Promise<void>
  /** `server_version_num`, e.g. 150019. */
  serverVersionNum(): Promise<number>
  close(): Promise<void>
}
