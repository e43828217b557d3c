/**
 * Makes any PostgreSQL 15+ (plain, RDS-like, Supabase) or PGlite database Supabase-shaped: the
 * roles, the service schemas, `auth` as current Supabase Auth has it, `vault.secrets`, a minimal
 * `storage`, and the API roles' privileges on `public`. See ./README.md.
 *
 * Versioned: when `_resolution.bootstrap` already records BOOTSTRAP_VERSION the whole call is one
 * cheap query. Otherwise every step runs in ONE transaction under an advisory lock, and each
 * statement is idempotent, so a database that already has these objects (a real Supabase one, a
 * restored dump, a 2023 `auth` schema) gains only what it lacks and nothing raises.
 * @module
 */
import { hasSqlState } from '../db/sqlstate.ts'
import type { Database, Queryable } from '../db/types.ts'
import type { Logger } from '../logger.ts'
import { ensurePrivilege, ensureTable, schemaAccessWarning, WARNINGS_SETTING } from './ddl.ts'
import { AUTH_OUTBOX } from './sql/outbox.ts'
import { AUTH_RATE_LIMITS } from './sql/auth-limits.ts'
import { ddlWatchStatements } from './sql/ddl-watch.ts'
import { authStatements } from './sql/auth.ts'
import { CAPABILITIES_QUERY, planRoles, SUPABASE_ROLES, type Capabilities } from './sql/roles.ts'
import { grantStatements, REALTIME_PUBLICATION, schemaStatements } from './sql/schemas.ts'
import { REALTIME_TABLES, realtimeStatements } from './sql/realtime.ts'
import { shimStatements } from './sql/shims.ts'
import { STORAGE_TABLES, storageStatements } from './sql/storage.ts'
import { VAULT_ACCESS_WARNING, VAULT_SECRETS } from './sql/vault.ts'

/** Bump when a step changes; databases at a lower version re-run every (idempotent) step. */
export const BOOTSTRAP_VERSION = 7

export interface BootstrapReport {
  /** The version the database is at afterwards. */
  version: number
  /** The version recorded before this call; null on a database never bootstrapped. */
  previousVersion: number | null
  /** False when the database was already current and nothing ran. */
  applied: boolean
  durationMs: number
  /** What could not be done as Supabase does it (attributes the connecting role may not grant…). */
  warnings: string[]
  /** Time per step when applied (empty for a no-op). */
  steps: Array<{ name: string; durationMs: number }>
}

export interface BootstrapOptions {
  logger?: Logger
  /** Run every step even when the recorded version is current (repair, tests). */
  force?: boolean
}

export interface BootstrapStep {
  name: string
  /** Statements for this step; roles depend on what the connecting role may do. */
  statements: (context: StepContext) => string[]
}

export interface StepContext {
  capabilities: Capabilities
  existingRoles: ReadonlySet<string>
  warnings: string[]
}

const VERSION_TABLE = `CREATE TABLE IF NOT EXISTS _resolution.bootstrap (
  version integer PRIMARY KEY,
  applied_at timestamp with time zone NOT NULL DEFAULT now(),
  server_version text NOT NULL DEFAULT current_setting('server_version')
)`

/** The steps in order. Exported so `db status`/docs and tests can list them. */
export const BOOTSTRAP_STEPS: readonly BootstrapStep[] = [
  {
    name: 'roles',
    statements: ({ capabilities, existingRoles, warnings }) => {
      const plan = planRoles(capabilities, existingRoles)
      warnings.push(...plan.warnings)
      return plan.statements
    },
  },
  { name: 'schemas and extensions', statements: () => [...schemaStatements(), VERSION_TABLE] },
  { name: 'auth', statements: () => authStatements() },
  { name: 'auth outbox', statements: () => [AUTH_OUTBOX] },
  { name: 'auth limits', statements: () => [AUTH_RATE_LIMITS] },
  { name: 'vault', statements: () => [VAULT_ACCESS_WARNING, VAULT_SECRETS] },
  {
    name: 'storage',
    statements: () => [schemaAccessWarning('storage'), ...STORAGE_TABLES.map(ensureTable), ...storageStatements(), ensurePrivilege('SCHEMA', 'storage', 'USAGE', ['anon', 'authenticated', 'service_role'])],
  },
  {
    name: 'realtime',
    statements: () => [schemaAccessWarning('realtime'), ...REALTIME_TABLES.map(ensureTable), ...realtimeStatements(), ensurePrivilege('SCHEMA', 'realtime', 'USAGE', ['anon', 'authenticated', 'service_role'])],
  },
  { name: 'shims', statements: () => shimStatements() },
  { name: 'grants', statements: () => [...grantStatements(), REALTIME_PUBLICATION] },
  // Last: the bootstrap's own DDL above fires no reload notices on a fresh database.
  { name: 'schema watch', statements: () => ddlWatchStatements() },
]

// Advisory locks are per database, so this serialises bootstraps of one database only; roles,
// shared by the cluster, are made race-safe statement by statement instead.
const LOCK_KEY = '7215553893301' // arbitrary, constant: "resolution bootstrap"

async function readVersion(queryable: Queryable): Promise<number | null> {
  const { rows } = await queryable.query<{ version: number | null }>('SELECT max(version) AS version FROM _resolution.bootstrap')
  return rows[0]?.version ?? null
}

/** The bootstrap version installed in the database, or null when it was never bootstrapped. */
export async function bootstrapStatus(database: Queryable): Promise<number | null> {
  try {
    return await readVersion(database)
  } catch (error) {
    // One query in the common case; a fresh database has no _resolution schema yet.
    if (hasSqlState(error, 'undefined_table', 'invalid_schema_name')) return null
    throw error
  }
}

export async function bootstrap(database: Database, options: BootstrapOptions = {}): Promise<BootstrapReport> {
  const started = performance.now()
  const elapsed = () => Math.round((performance.now() - started) * 10) / 10
  const installed = await bootstrapStatus(database)
  if (installed !== null && installed >= BOOTSTRAP_VERSION && !options.force) {
    return { version: installed, previousVersion: installed, applied: false, durationMs: elapsed(), warnings: [], steps: [] }
  }

  const report = await database.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1::bigint)', [LOCK_KEY])
    // Another process may have finished while we waited for the lock.
    const exists = await tx.query<{ present: boolean }>("SELECT to_regclass('_resolution.bootstrap') IS NOT NULL AS present")
    const previous = exists.rows[0]?.present ? await readVersion(tx) : null
    if (previous !== null && previous >= BOOTSTRAP_VERSION && !options.force) {
      return { version: previous, previousVersion: previous, applied: false, warnings: [] as string[], steps: [] as BootstrapReport['steps'] }
    }
    const capabilities = (await tx.query<Capabilities>(CAPABILITIES_QUERY)).rows[0]
    if (!capabilities) throw new Error('bootstrap: cannot read the attributes of the connecting role')
    const roleNames = SUPABASE_ROLES.map((r) => r.name)
    const existing = await tx.query<{ rolname: string }>('SELECT rolname FROM pg_catalog.pg_roles WHERE rolname = ANY($1::text[])', [roleNames])
    const context: StepContext = { capabilities, existingRoles: new Set(existing.rows.map((r) => r.rolname)), warnings: [] }
    const steps: BootstrapReport['steps'] = []
    for (const step of BOOTSTRAP_STEPS) {
      const stepStarted = performance.now()
      // One round trip per step: the statements are independent DO blocks and DDL.
      try {
        await tx.exec(step.statements(context).map((statement) => statement.replace(/;\s*$/, '') + ';').join('\n'))
      } catch (error) {
        const cause = error as Error
        throw Object.assign(new Error(`bootstrap step "${step.name}" failed: ${cause.message}`, { cause }), { code: (cause as { code?: string }).code })
      }
      steps.push({ name: step.name, durationMs: Math.round((performance.now() - stepStarted) * 10) / 10 })
    }
    const recorded = await tx.query<{ warnings: string | null }>('SELECT current_setting($1, true) AS warnings', [WARNINGS_SETTING])
    context.warnings.push(...(recorded.rows[0]?.warnings ?? '').split('\n').filter(Boolean))
    // A newer version recorded by a newer build is kept: max(version) is what status reports.
    await tx.query(
      `INSERT INTO _resolution.bootstrap (version) VALUES ($1)
       ON CONFLICT (version) DO UPDATE SET applied_at = now(), server_version = current_setting('server_version')`,
      [BOOTSTRAP_VERSION],
    )
    return { version: Math.max(BOOTSTRAP_VERSION, previous ?? 0), previousVersion: previous, applied: true, warnings: context.warnings, steps }
  })

  const result: BootstrapReport = { ...report, durationMs: elapsed() }
  if (result.applied) {
    options.logger?.info({ version: result.version, previousVersion: result.previousVersion, durationMs: result.durationMs, steps: result.steps }, 'database bootstrapped')
    for (const warning of result.warnings) options.logger?.warn({ warning }, 'bootstrap: degraded')
  }
  return result
}
