/** `resolution db init`: create or update the Supabase-compatible roles and schemas. */
import type { Command } from 'commander'
import { bootstrap } from '../../schema/bootstrap.ts'
import { withDatabase } from '../context.ts'

export function registerDbInit(db: Command): void {
  db.command('init')
    .description('Bootstrap the database: Supabase roles, auth, extensions and vault schemas (idempotent)')
    .option('--database-url <url>', 'PostgreSQL URL (overrides DATABASE_URL)')
    .option('--force', 're-run every (idempotent) step even when the database is current')
    .action(async (options: { databaseUrl?: string; force?: boolean }) => {
      await withDatabase(options, async (database) => {
        const report = await bootstrap(database, { force: options.force })
        const what = report.applied ? `bootstrapped to version ${report.version}` : `already at version ${report.version}`
        process.stdout.write(`${database.description}: ${what} (${report.durationMs} ms)\n`)
        // Degradations (e.g. attributes a non-superuser cannot grant) are worth an operator's look.
        for (const warning of report.warnings) process.stderr.write(`warning: ${warning}\n`)
      })
    })
}
