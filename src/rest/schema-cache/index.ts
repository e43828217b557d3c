/**
 * The schema cache per database: loaded on first use, shared by all requests, replaced on
 * reload (`reloadSchemaCache`, `NOTIFY pgrst, 'reload schema'`). A failed load is retried on the
 * next request instead of being cached.
 * @module
 */
import type { Database } from '../../db/types.ts'
import { loadDatabaseSettings, loadSchemaCache } from './load.ts'
import type { SchemaCache } from './types.ts'

export * from './types.ts'
export { loadSchemaCache } from './load.ts'

interface Entry {
  schemas: string[]
  /** `pgrst.db_schemas` in the database may replace `schemas` (no DB_SCHEMAS in the environment). */
  fromDatabase: boolean
  current: Promise<SchemaCache> | undefined
}

/** `pgrst.db_schemas` (comma-separated, as DB_SCHEMAS), when set and naming at least one schema. */
function databaseSchemas(settings: Record<string, string>): string[] | undefined {
  const names = (settings.db_schemas ?? '').split(',').map((name) => name.trim()).filter((name) => name !== '')
  return names.length > 0 ? names : undefined
}

const entries = new Map<Database, Entry>()

/**
 * One read-only transaction with JIT off: the routines query's estimated cost (a subplan per
 * argument) passes `jit_above_cost`, and compiling it took 0.4–0.7 s per load on PostgreSQL 15,
 * which is most of the time a schema change takes to be served. The catalogs are tiny; JIT never pays.
 */
function load(database: Database, schemas: string[], fromDatabase: boolean): Promise<SchemaCache> {
  return database.transaction(async (tx) => {
    await tx.exec('SET LOCAL jit = off')
    const configured = fromDatabase ? databaseSchemas(await loadDatabaseSettings(tx)) : undefined
    return loadSchemaCache(tx, configured ?? schemas)
  }, { readOnly: true })
}

/**
 * The cache for `database` over `schemas` (or, with `fromDatabase`, over the database's
 * `pgrst.db_schemas` when it has one: the cache's `schemas` say which), loading it when there is none yet.
 */
export function getSchemaCache(database: Database, schemas: string[], options: { fromDatabase?: boolean } = {}): Promise<SchemaCache> {
  const fromDatabase = options.fromDatabase ?? false
  let entry = entries.get(database)
  if (!entry || entry.schemas.join(',') !== schemas.join(',') || entry.fromDatabase !== fromDatabase) {
    entry = { schemas, fromDatabase, current: undefined }
    entries.set(database, entry)
  }
  if (!entry.current) {
    const loading = load(database, schemas, fromDatabase)
    entry.current = loading
    loading.catch(() => {
      if (entry!.current === loading) entry!.current = undefined
    })
  }
  return entry.current
}

/**
 * Reloads the cache of `database` now (or of every database when none is given). Requests keep
 * the old cache until the new one is ready. Call after migrations, restores or DDL.
 */
export async function reloadSchemaCache(database?: Database): Promise<void> {
  const targets = database ? [[database, entries.get(database)] as const] : [...entries.entries()]
  await Promise.all(
    targets.map(async ([db, entry]) => {
      if (!entry) return
      // Statements prepared against the old schema may have other result types now.
      db.forgetPreparedStatements()
      const next = await load(db, entry.schemas, entry.fromDatabase)
      entry.current = Promise.resolve(next)
    }),
  )
}

/** Drops the cache of a closed database. */
export function forgetSchemaCache(database: Database): void {
  entries.delete(database)
}
