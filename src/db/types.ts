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

export interface QueryOptions {
  /** Autocommit only: keep the statement prepared under this name (hot paths; drivers may ignore it). */
  name?: string
  /**
   * Keep the statement prepared on the connection, named after its text, so PostgreSQL parses and
   * plans it once per connection (shapes that repeat). Drivers may ignore it (PGlite; poolers
   * that cannot keep prepared statements).
   */
  prepare?: boolean
  /**
   * Inside `transaction()` only: this is the transaction's last statement and its success means
   * COMMIT. The driver writes COMMIT together with it (one round trip) and the promise settles
   * once COMMIT answered; a COMMIT failure rejects it. The transaction runs nothing after it.
   * When it is also the first statement (no isolation level asked), the drivers send neither
   * BEGIN nor COMMIT: prelude and statement share one Sync, PostgreSQL's implicit transaction.
   */
  commit?: boolean
}

/** A statement with its parameters. */
export interface Statement {
  sql: string
  params: readonly unknown[]
}

/** What can run SQL: the database itself (autocommit) or an open transaction. */
export interface Queryable {
  /** One statement with `$n` parameters. Values never go into the SQL text. */
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[], options?: QueryOptions): Promise<QueryResult<R>>
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
  /**
   * A SELECT that opens the transaction (the request's `set_config` settings), run prepared.
   * BEGIN and the prelude are sent with the transaction's first statement, in one write; a
   * transaction that runs no statement sends nothing at all. (PGlite may run it as a subquery.)
   */
  prelude?: Statement
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
  /**
   * Forget the statements kept prepared (after a schema change their result types may differ):
   * each connection drops its own before its next use.
   */
  forgetPreparedStatements(): void
  /** Cheap reachability check (`SELECT 1`) with a timeout. */
  ping(timeoutMs?: number): Promise<void>
  /** `server_version_num`, e.g. 150019. */
  serverVersionNum(): Promise<number>
  close(): Promise<void>
}
