/**
 * `db migrate`: applies `<version>_<name>.sql` files in version order, once each, each in its own
 * transaction, and records them in `supabase_migrations.schema_migrations` exactly as the
 * Supabase CLI does (version, name, the statements) — so a project moving from the Supabase CLI
 * keeps its history, and `supabase migration list` keeps working against the same database.
 * @module
 */
import { NOTIFY_SCHEMA_RELOAD } from '../db/schema-reload.ts'
import fs from 'node:fs'
import path from 'node:path'
import type { Database, Queryable } from '../db/types.ts'
import { bootstrapStatus } from '../schema/bootstrap.ts'
import { parserReady, parseStatements } from './restore/parse.ts'

/** The Supabase CLI's pattern for migration files. */
const MIGRATION_FILE = /^([0-9]+)_(.*)\.sql$/

export interface MigrationFile {
  version: string
  name: string
  path: string
}

export interface MigrationStatus {
  version: string
  name: string
  state: 'applied' | 'pending' | 'applied, file missing'
}

export interface MigrateResult {
  applied: MigrationFile[]
  alreadyApplied: number
}

export class MigrateError extends Error {
  readonly code: 'migrations_dir_missing' | 'migration_failed' | 'duplicate_version' | 'not_bootstrapped'
  constructor(code: MigrateError['code'], message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'MigrateError'
    this.code = code
  }
}

// As the Supabase CLI creates and extends the history table (pkg/migration/history.go).
const HISTORY_DDL = [
  'CREATE SCHEMA IF NOT EXISTS supabase_migrations',
  'CREATE TABLE IF NOT EXISTS supabase_migrations.schema_migrations (version text NOT NULL PRIMARY KEY)',
  'ALTER TABLE supabase_migrations.schema_migrations ADD COLUMN IF NOT EXISTS statements text[]',
  'ALTER TABLE supabase_migrations.schema_migrations ADD COLUMN IF NOT EXISTS name text',
]

export function listMigrationFiles(dir: string): MigrationFile[] {
  let entries: string[]
  try {
    entries = fs.readdirSync(dir)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new MigrateError('migrations_dir_missing', `migrations directory ${dir} does not exist`)
    throw error
  }
  const files = entries
    .map((file) => ({ file, match: MIGRATION_FILE.exec(file) }))
    .filter((entry) => entry.match)
    .map(({ file, match }) => ({ version: match![1]!, name: match![2]!, path: path.join(dir, file) }))
    .sort((a, b) => (a.version.length - b.version.length) || a.version.localeCompare(b.version))
  const seen = new Set<string>()
  for (const file of files) {
    if (seen.has(file.version)) throw new MigrateError('duplicate_version', `two migration files have version ${file.version} in ${dir}`)
    seen.add(file.version)
  }
  return files
}

async function appliedVersions(db: Queryable): Promise<Map<string, string | null>> {
  const { rows: exists } = await db.query<{ present: boolean }>("SELECT to_regclass('supabase_migrations.schema_migrations') IS NOT NULL AS present")
  if (!exists[0]?.present) return new Map()
  const { rows } = await db.query<{ version: string; name: string | null }>('SELECT version, name FROM supabase_migrations.schema_migrations ORDER BY version')
  return new Map(rows.map((r) => [r.version, r.name]))
}

/**
 * What the Supabase CLI would skip or refuse, said but not refused: files whose name does not
 * match `<timestamp>_name.sql` (never applied), and pending versions older than the newest
 * applied one (applied out of order, so a fresh database would run them in another order).
 */
export function migrationWarnings(dir: string, applied: ReadonlyMap<string, unknown>): string[] {
  const warnings: string[] = []
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isFile() || entry.name.startsWith('.') || MIGRATION_FILE.test(entry.name)) continue
    warnings.push(`skipping ${entry.name}: the name does not match <timestamp>_name.sql`)
  }
  const newest = [...applied.keys()].sort(byVersion).at(-1)
  if (newest !== undefined) {
    for (const file of listMigrationFiles(dir)) {
      if (!applied.has(file.version) && byVersion(file.version, newest) < 0) {
        warnings.push(`${file.version}_${file.name}.sql is older than the newest applied migration ${newest}; it is applied out of order`)
      }
    }
  }
  return warnings
}

function byVersion(a: string, b: string): number {
  return a.length - b.length || a.localeCompare(b)
}

export async function migrationStatus(database: Database, dir: string): Promise<MigrationStatus[]> {
  const files = listMigrationFiles(dir)
  const applied = await appliedVersions(database)
  const statuses: MigrationStatus[] = files.map((f) => ({ version: f.version, name: f.name, state: applied.has(f.version) ? 'applied' : 'pending' }))
  for (const [version, name] of applied) {
    if (!files.some((f) => f.version === version)) statuses.push({ version, name: name ?? '', state: 'applied, file missing' })
  }
  return statuses.sort((a, b) => a.version.localeCompare(b.version))
}

/** Applies every pending migration of `dir`, oldest first; stops at the first failure. */
export async function migrate(
  database: Database,
  dir: string,
  options: { onApply?: (file: MigrationFile) => void; onWarning?: (warning: string) => void } = {},
): Promise<MigrateResult> {
  const files = listMigrationFiles(dir)
  // Migrations written for Supabase use its roles and `auth.uid()`; without them the first GRANT
  // or policy fails with an error that does not say why.
  if ((await bootstrapStatus(database)) === null) {
    throw new MigrateError('not_bootstrapped', `${database.description} is not bootstrapped (no Supabase roles or auth schema): run \`resolution db init\` first`)
  }
  await parserReady()
  await database.transaction(async (tx) => {
    for (const ddl of HISTORY_DDL) await tx.exec(ddl)
  })
  const applied = await appliedVersions(database)
  for (const warning of migrationWarnings(dir, applied)) options.onWarning?.(warning)
  const result: MigrateResult = { applied: [], alreadyApplied: 0 }
  for (const file of files) {
    if (applied.has(file.version)) {
      result.alreadyApplied += 1
      continue
    }
    const text = fs.readFileSync(file.path, 'utf8')
    let statements
    try {
      statements = parseStatements(text, 1, file.path)
    } catch (error) {
      throw new MigrateError('migration_failed', (error as Error).message, { cause: error })
    }
    await database.transaction(async (tx) => {
      for (const statement of statements) {
        try {
          await tx.exec(statement.sql)
        } catch (error) {
          const pg = error as { message: string; code?: string; detail?: string; hint?: string }
          const extra = [pg.detail && `DETAIL: ${pg.detail}`, pg.hint && `HINT: ${pg.hint}`].filter(Boolean).join('\n')
          throw new MigrateError('migration_failed', `${file.path}:${statement.line}: ${pg.message}${pg.code ? ` (SQLSTATE ${pg.code})` : ''}${extra ? `\n${extra}` : ''}\nthe migration was rolled back; nothing of ${path.basename(file.path)} was applied`, { cause: error })
        }
      }
      // Session settings of the migration must not leak into the bookkeeping or the next file.
      await tx.exec('RESET ALL')
      await tx.query('INSERT INTO supabase_migrations.schema_migrations (version, name, statements) VALUES ($1, $2, $3)', [file.version, file.name, statements.map((s) => s.sql)])
      await tx.exec(NOTIFY_SCHEMA_RELOAD)
    })
    result.applied.push(file)
    options.onApply?.(file)
  }
  return result
}

