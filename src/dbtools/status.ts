/**
 * `db status`: what the database is — server version, the bootstrap version it is at, the
 * migrations applied, and its schemas with table counts and row estimates.
 * @module
 */
import type { Database } from '../db/types.ts'
import { bootstrapStatus } from '../schema/bootstrap.ts'
import { BOOTSTRAP_VERSION } from '../schema/bootstrap.ts'
import { DDL_WATCH_TRIGGERS } from '../schema/sql/ddl-watch.ts'
import { engineMismatch } from './engine-version.ts'

export interface SchemaStatus {
  schema: string
  tables: number
  /** Planner estimate (reltuples), or live tuples from the statistics when never analyzed. */
  rowEstimate: number
}

export interface DatabaseStatus {
  database: string
  kind: 'pg' | 'pglite'
  serverVersion: string
  bootstrapVersion: number | null
  /** The version this build of resolution bootstraps to. */
  bootstrapCurrent: number
  migrations: { count: number; latest: { version: string; name: string | null } | null }
  schemas: SchemaStatus[]
  /** Whether the event triggers that notify the API of DDL are installed and enabled. */
  schemaWatch: boolean
  /** What the operator should know: an engine version differing from the embedded one, no schema watch. */
  warnings: string[]
}

export async function databaseStatus(database: Database): Promise<DatabaseStatus> {
  const { rows: version } = await database.query<{ server_version: string }>('SHOW server_version')
  const bootstrapVersion = await bootstrapStatus(database)
  const { rows: history } = await database.query<{ present: boolean }>("SELECT to_regclass('supabase_migrations.schema_migrations') IS NOT NULL AS present")
  let migrations: DatabaseStatus['migrations'] = { count: 0, latest: null }
  if (history[0]?.present) {
    const { rows } = await database.query<{ count: string; version: string | null; name: string | null }>(
      `SELECT (SELECT count(*) FROM supabase_migrations.schema_migrations) AS count, version, name
         FROM supabase_migrations.schema_migrations ORDER BY version DESC LIMIT 1`,
    )
    migrations = { count: Number(rows[0]?.count ?? 0), latest: rows[0]?.version ? { version: rows[0].version, name: rows[0].name } : null }
  }
  const { rows: schemas } = await database.query<{ schema: string; tables: string; rows: string }>(
    `SELECT n.nspname AS schema,
            count(c.oid) AS tables,
            coalesce(sum(greatest(c.reltuples::bigint, s.n_live_tup, 0)), 0)::bigint AS rows
       FROM pg_catalog.pg_namespace n
       LEFT JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r', 'p')
       LEFT JOIN pg_catalog.pg_stat_user_tables s ON s.relid = c.oid
      WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg\\_%'
      GROUP BY n.nspname ORDER BY n.nspname`,
  )
  const { rows: watch } = await database.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM pg_catalog.pg_event_trigger WHERE evtname = ANY($1::text[]) AND evtenabled <> 'D'",
    [DDL_WATCH_TRIGGERS],
  )
  const schemaWatch = watch[0]?.n === DDL_WATCH_TRIGGERS.length
  const warnings: string[] = []
  if (!database.capabilities.inProcess) {
    const mismatch = engineMismatch(await database.serverVersionNum())
    if (mismatch) warnings.push(mismatch)
  }
  if (!schemaWatch && bootstrapVersion !== null) {
    warnings.push("schema watch not installed (event triggers pgrst_ddl_watch/pgrst_drop_watch need a superuser): after DDL made outside resolution, run NOTIFY pgrst, 'reload schema'")
  }
  return {
    database: database.description,
    kind: database.kind,
    serverVersion: version[0]?.server_version ?? 'unknown',
    bootstrapVersion,
    bootstrapCurrent: BOOTSTRAP_VERSION,
    migrations,
    schemas: schemas.map((s) => ({ schema: s.schema, tables: Number(s.tables), rowEstimate: Number(s.rows) })),
    schemaWatch,
    warnings,
  }
}

export function formatStatus(status: DatabaseStatus): string {
  const lines = [
    `Database:   ${status.database}`,
    `Server:     PostgreSQL ${status.serverVersion}${status.kind === 'pglite' ? ' (embedded PGlite)' : ''}`,
    `Bootstrap:  ${status.bootstrapVersion === null ? `not bootstrapped (run: resolution db init)` : `version ${status.bootstrapVersion}${status.bootstrapVersion < status.bootstrapCurrent ? ` (this build has ${status.bootstrapCurrent}; run: resolution db init)` : ''}`}`,
    `Schema watch: ${status.schemaWatch ? 'on (DDL is served without a reload)' : 'off'}`,
    `Migrations: ${status.migrations.count === 0 ? 'none applied' : `${status.migrations.count} applied, latest ${status.migrations.latest!.version}${status.migrations.latest!.name ? `_${status.migrations.latest!.name}` : ''}`}`,
    'Schemas:',
  ]
  const width = Math.max(6, ...status.schemas.map((s) => s.schema.length))
  lines.push(`  ${'schema'.padEnd(width)}  tables  rows (estimate)`)
  for (const s of status.schemas) lines.push(`  ${s.schema.padEnd(width)}  ${String(s.tables).padStart(6)}  ${s.rowEstimate}`)
  for (const warning of status.warnings) lines.push(`warning: ${warning}`)
  return lines.join('\n')
}
