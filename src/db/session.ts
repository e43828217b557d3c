/**
 * The request-scoped session: one transaction per request, held in AsyncLocalStorage, with the
 * role and JWT claims set by `set_config(…, true)` so nothing outlives the transaction (safe
 * behind transaction poolers).
 * @module
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import type { Database, Queryable } from './types.ts'

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

interface Session {
  tx: Queryable
  rollbackOnly: boolean
}

const storage = new AsyncLocalStorage<Session>()

/** The request's transaction. Throws outside a request so a query can never run unscoped. */
export function db(): Queryable {
  const session = storage.getStore()
  if (!session) throw new Error('db() called outside a request session: wrap the work in withSession()')
  return session.tx
}

export function tryDb(): Queryable | undefined {
  return storage.getStore()?.tx
}

/** Ends the current request's transaction with ROLLBACK instead of COMMIT (e.g. `Prefer: tx=rollback`). */
export function markRollback(): void {
  const session = storage.getStore()
  if (!session) throw new Error('markRollback() called outside a request session')
  session.rollbackOnly = true
}

class RollbackSignal<T> {
  constructor(readonly value: T) {}
}

/** The `set_config` calls of a session, as one parameterised statement. */
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
  return { sql: calls.length ? `SELECT ${calls.join(', ')}` : '', params }
}

/** Runs `fn` in a new transaction bound to the async context. */
export async function withSession<T>(database: Database, options: SessionOptions, fn: () => Promise<T>): Promise<T> {
  try {
    return await database.transaction(
      async (tx) => {
        const { sql, params } = sessionSettings(options)
        if (sql) await tx.query(sql, params)
        const session: Session = { tx, rollbackOnly: false }
        const value = await storage.run(session, fn)
        if (session.rollbackOnly) throw new RollbackSignal(value)
        return value
      },
      { readOnly: options.readOnly },
    )
  } catch (error) {
    if (error instanceof RollbackSignal) return error.value as T
    throw error
  }
}
