/**
 * The request-scoped session: one transaction per request, passed explicitly to the work (no
 * AsyncLocalStorage: its promise hooks cost every request), with the role and JWT claims set by
 * `set_config(…, true)` so nothing outlives the transaction (safe behind transaction poolers).
 * The settings go with the request's first statement, and a statement marked `commit` takes the
 * COMMIT with it: a one-statement request is one round trip (and, as the drivers run it, one
 * implicit transaction without BEGIN or COMMIT).
 * @module
 */
import { isStalePlan } from './errors.ts'
import type { Database, Queryable, QueryOptions, QueryResult } from './types.ts'

export interface SessionOptions {
  /** The role for the transaction (`SET LOCAL ROLE`); undefined keeps the connecting role. */
  role?: string
  /** JWT claims, exposed as `request.jwt.claims` and the legacy `request.jwt.claim.*`. */
  claims?: Record<string, unknown>
  readOnly?: boolean
  /** Further transaction-local settings (e.g. `request.method`), names are trusted constants. */
  settings?: Record<string, string>
  /** Statement timeout for this transaction, ms; 0 or undefined = the server's default. */
  statementTimeoutMs?: number
}

/** The request's transaction. Its statements are kept prepared (the shapes repeat). */
export interface RequestTx extends Queryable {
  readonly readOnly: boolean
  /**
   * `options.commit`: the request's last statement, whose success means COMMIT (written with
   * it). Ignored once `markRollback()` was called.
   */
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[], options?: Pick<QueryOptions, 'commit'>): Promise<QueryResult<R>>
  /** End with ROLLBACK instead of COMMIT (e.g. `Prefer: tx=rollback`). */
  markRollback(): void
}

class RollbackSignal<T> {
  constructor(readonly value: T) {}
}

/**
 * The `set_config` calls of a session, as one parameterised statement. It answers one row of no
 * columns: each call returns the value it set (the claims, the request's headers: ≈ 1 KB), which
 * nothing reads, so they stay in a subquery. PostgreSQL keeps a subquery's unread outputs when
 * they are volatile (set_config is), so every call still runs.
 */
export function sessionSettings(options: SessionOptions): { sql: string; params: string[] } {
  const pairs: Array<[string, string]> = []
  if (options.role) pairs.push(['role', options.role])
  if (options.claims) {
    pairs.push(['request.jwt.claims', JSON.stringify(options.claims)])
    // Legacy per-claim settings, still read by older policies and auth.uid() variants.
    for (const name of ['sub', 'role', 'email'] as const) {
      const value = options.claims[name]
      pairs.push([`request.jwt.claim.${name}`, value === undefined || value === null ? '' : String(value)])
    }
  }
  if (options.statementTimeoutMs) pairs.push(['statement_timeout', String(options.statementTimeoutMs)])
  for (const [name, value] of Object.entries(options.settings ?? {})) pairs.push([name, value])
  const params: string[] = []
  const calls = pairs.map(([name, value]) => {
    params.push(name, value)
    return `set_config($${params.length - 1}, $${params.length}, true)`
  })
  return { sql: calls.length ? `SELECT FROM (SELECT ${calls.join(', ')}) AS pgrst_settings` : '', params }
}

/**
 * Runs `fn` in a new transaction carrying the session's settings. `fn` does database work only:
 * when a kept-prepared statement went stale with a schema change, the rolled-back transaction is
 * run once more (the driver has forgotten its prepared statements by then).
 */
export async function withSession<T>(database: Database, options: SessionOptions, fn: (tx: RequestTx) => Promise<T>): Promise<T> {
  try {
    return await runSession(database, options, fn)
  } catch (error) {
    if (!isStalePlan(error)) throw error
    return runSession(database, options, fn)
  }
}

async function runSession<T>(database: Database, options: SessionOptions, fn: (tx: RequestTx) => Promise<T>): Promise<T> {
  const { sql, params } = sessionSettings(options)
  try {
    return await database.transaction(
      async (tx) => {
        let rollbackOnly = false
        let committed = false
        const request: RequestTx = {
          readOnly: Boolean(options.readOnly),
          query(statementSql, statementParams, queryOptions) {
            const commit = Boolean(queryOptions?.commit) && !rollbackOnly
            committed ||= commit
            return tx.query(statementSql, statementParams, { prepare: true, commit })
          },
          exec: (script) => tx.exec(script),
          copyFrom: (copySql, source) => tx.copyFrom(copySql, source),
          markRollback() {
            if (committed && !options.readOnly) throw new Error('markRollback() after a statement that committed')
            rollbackOnly = true
          },
        }
        const value = await fn(request)
        if (rollbackOnly) throw new RollbackSignal(value)
        return value
      },
      { readOnly: options.readOnly, prelude: sql ? { sql, params } : undefined },
    )
  } catch (error) {
    if (error instanceof RollbackSignal) return error.value as T
    throw error
  }
}
