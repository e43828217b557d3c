/**
 * `resolution db status | dump | restore | migrate`. Thin: options → the dbtools functions →
 * text. Known failures (a bad dump line, a missing pg_dump, a failed migration) end as one clear
 * message and exit code 1; success is exit code 0.
 * @module
 */
import type { Command } from 'commander'
import { FatalError } from '../../errors.ts'
import { dump, DumpError } from '../../dbtools/dump.ts'
import { migrate, MigrateError, migrationStatus, migrationWarnings } from '../../dbtools/migrate.ts'
import { RestoreError } from '../../dbtools/restore/errors.ts'
import { formatSummary, summaryJson } from '../../dbtools/restore/report.ts'
import { restore } from '../../dbtools/restore/restore.ts'
import { fileSource } from '../../dbtools/restore/source.ts'
import { databaseStatus, formatStatus } from '../../dbtools/status.ts'
import { throughRunningService, withDatabase } from '../context.ts'
import { dumpThroughService } from '../../dbtools/dump-service.ts'

const DATABASE_URL_HELP = 'PostgreSQL URL (overrides DATABASE_URL; without either, the embedded database)'

/** Our own errors become one line on stderr and exit 1 (main renders FatalError). */
async function clearly<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (error) {
    if (error instanceof RestoreError || error instanceof DumpError || error instanceof MigrateError) throw new FatalError(error.message)
    throw error
  }
}

const collect = (value: string, previous: string[] = []) => [...previous, value]

export function registerDbTools(db: Command): void {
  registerStatus(db)
  registerDump(db)
  registerRestore(db)
  registerMigrate(db)
}

function registerStatus(db: Command): void {
  db.command('status')
    .description('Server version, bootstrap version, applied migrations, schemas with table and row counts')
    .option('--database-url <url>', DATABASE_URL_HELP)
    .option('--json', 'print JSON')
    .action(async (options: { databaseUrl?: string; json?: boolean }) => {
      await withDatabase(options, async (database) => {
        const status = await databaseStatus(database)
        process.stdout.write(options.json ? `${JSON.stringify(status, null, 2)}\n` : `${formatStatus(status)}\n`)
      })
    })
}

function registerDump(db: Command): void {
  db.command('dump')
    .description('Dump the database as plain SQL (pg_dump for a server, the WASM pg_dump for the embedded database); --no-owner by default, privileges kept (--no-acl leaves them out)')
    .option('--database-url <url>', DATABASE_URL_HELP)
    .option('--schema-only', 'only the schema')
    .option('--data-only', 'only the data')
    .option('-n, --schema <name>', 'only this schema (repeatable)', collect)
    .option('-N, --exclude-schema <name>', 'not this schema (repeatable)', collect)
    .option('--user-schemas', 'leave out the Supabase service schemas (auth, storage, vault …), as supabase db dump does')
    .option('--inserts', 'data as INSERT statements instead of COPY (the embedded database always uses INSERTs)')
    .option('-f, --file <path>', 'write to this file instead of stdout')
    .option('--owners', 'keep OWNER TO statements')
    .option('--no-acl', 'leave out GRANT/REVOKE statements (kept by default: a move needs them)')
    .option('--privileges', 'keep GRANT/REVOKE statements (the default; kept for old scripts)')
    .action(async (options: { databaseUrl?: string; schemaOnly?: boolean; dataOnly?: boolean; schema?: string[]; excludeSchema?: string[]; userSchemas?: boolean; inserts?: boolean; file?: string; owners?: boolean; acl: boolean }) => {
      if (options.schemaOnly && options.dataOnly) throw new FatalError('--schema-only and --data-only cannot be used together')
      await clearly(() =>
        withDatabase(options, async (database, config) => {
          // While `serve` runs on the embedded database, it dumps itself (see dump-service.ts).
          const bytes = await (throughRunningService(config) ? dumpThroughService : dump)(database, {
            schemaOnly: options.schemaOnly,
            dataOnly: options.dataOnly,
            schemas: options.schema,
            excludeSchemas: options.excludeSchema,
            userSchemasOnly: options.userSchemas,
            inserts: options.inserts,
            file: options.file,
            owners: options.owners,
            privileges: options.acl,
            url: config.databaseUrl,
          })
          if (options.file) process.stderr.write(`wrote ${bytes} bytes to ${options.file}\n`)
        }),
      )
    })
}

function registerRestore(db: Command): void {
  db.command('restore')
    .description('Load plain-SQL dumps (schema, data with COPY or INSERT, full, supabase db dump outputs) atomically, fixing what would fail on this database')
    .argument('<files...>', 'dump files, loaded in order (- reads standard input)')
    .option('--database-url <url>', DATABASE_URL_HELP)
    .option('--dry-run', 'print the plan (skips, rewrites, rows) without changing anything')
    .option('--no-transaction', 'commit statement by statement instead of all or nothing')
    .option('--verbose', 'list every skip and rewrite as it is decided')
    .option('--json', 'print the summary as JSON')
    .option('--allow-unsafe', 'run what the safety check refuses (COPY … PROGRAM or server files, DO blocks, SUPERUSER roles, event triggers …); review the dump first')
    .action(async (files: string[], options: { databaseUrl?: string; dryRun?: boolean; transaction: boolean; verbose?: boolean; json?: boolean; allowUnsafe?: boolean }) => {
      await clearly(async () => {
        const sources = files.map(fileSource) // a missing file fails before the database is opened
        await withDatabase(options, async (database) => {
          const summary = await restore(database, sources, {
            dryRun: options.dryRun,
            transaction: options.transaction,
            allowUnsafe: options.allowUnsafe,
            progressStream: process.stderr,
            onDecision: options.verbose ? (d) => process.stderr.write(`${d.file}:${d.line}: ${d.action} (${d.rule}) ${d.reason}\n`) : undefined,
          })
          process.stdout.write(options.json ? `${JSON.stringify(summaryJson(summary), null, 2)}\n` : `${formatSummary(summary, { verbose: options.verbose })}\n`)
        })
      })
    })
}

function registerMigrate(db: Command): void {
  db.command('migrate')
    .description('Apply <timestamp>_name.sql migrations in order, once each, each in its own transaction (history as the Supabase CLI keeps it)')
    .option('--database-url <url>', DATABASE_URL_HELP)
    .option('--dir <path>', 'migrations directory', 'supabase/migrations')
    .option('--status', 'list applied and pending migrations without applying any')
    .action(async (options: { databaseUrl?: string; dir: string; status?: boolean }) => {
      await clearly(() =>
        withDatabase(options, async (database) => {
          if (options.status) {
            const statuses = await migrationStatus(database, options.dir)
            if (statuses.length === 0) process.stdout.write(`no migrations in ${options.dir}\n`)
            for (const s of statuses) process.stdout.write(`${s.version}  ${s.state.padEnd(21)}  ${s.name}\n`)
            const applied = new Map(statuses.filter((s) => s.state !== 'pending').map((s) => [s.version, s.name]))
            for (const warning of migrationWarnings(options.dir, applied)) process.stderr.write(`warning: ${warning}\n`)
            return
          }
          const result = await migrate(database, options.dir, {
            onApply: (file) => process.stderr.write(`applied ${file.version}_${file.name}\n`),
            onWarning: (warning) => process.stderr.write(`warning: ${warning}\n`),
          })
          process.stdout.write(`${result.applied.length} migration(s) applied, ${result.alreadyApplied} already applied\n`)
        }),
      )
    })
}
