/**
 * The bootstrap of a restore target runs INSIDE the restore's transaction, so a failed restore
 * rolls back what the bootstrap made too (`auth`, `storage`, `vault`, `_resolution` …) and the
 * target is exactly as it was. `bootstrap()` wants a `Database`; this gives it one over the open
 * transaction: each of its queries and its own transaction become savepoints, so a probe that
 * fails (`_resolution` absent on a fresh target) does not abort the restore's transaction.
 * @module
 */
import type { Database, Queryable } from '../../db/types.ts'
import { bootstrap, type BootstrapReport } from '../../schema/bootstrap.ts'

let counter = 0

async function inSavepoint<T>(tx: Queryable, fn: () => Promise<T>): Promise<T> {
  const name = `resolution_restore_${++counter}`
  await tx.exec(`SAVEPOINT ${name}`)
  try {
    const result = await fn()
    await tx.exec(`RELEASE SAVEPOINT ${name}`)
    return result
  } catch (error) {
    await tx.exec(`ROLLBACK TO SAVEPOINT ${name}; RELEASE SAVEPOINT ${name}`)
    throw error
  }
}

/** A `Database` whose statements and transactions are savepoints of `tx`. */
export function savepointDatabase(outer: Database, tx: Queryable): Database {
  return {
    kind: outer.kind,
    capabilities: outer.capabilities,
    description: outer.description,
    query: (sql, params, options) => inSavepoint(tx, () => tx.query(sql, params, options)),
    exec: (sql) => inSavepoint(tx, () => tx.exec(sql)),
    copyFrom: (sql, source) => inSavepoint(tx, () => tx.copyFrom(sql, source)),
    transaction: (fn) => inSavepoint(tx, () => fn(tx)),
    ping: () => tx.query('SELECT 1').then(() => undefined),
    serverVersionNum: async () => Number((await tx.query<{ v: string }>("SELECT current_setting('server_version_num') AS v")).rows[0]?.v ?? 0),
    close: async () => {},
  }
}

/** Bootstraps the target within the restore's open transaction `tx`. */
export function bootstrapInTransaction(database: Database, tx: Queryable): Promise<BootstrapReport> {
  return bootstrap(savepointDatabase(database, tx))
}

/** Role names of the cluster, to tell after a failure which roles a restore left behind. */
export async function roleNames(db: Queryable): Promise<Set<string>> {
  const { rows } = await db.query<{ rolname: string }>('SELECT rolname FROM pg_catalog.pg_roles')
  return new Set(rows.map((r) => r.rolname))
}
