/** `resolution db init`: create or update the Supabase-compatible roles and schemas. */
import type { Command } from 'commander'
import { bootstrap } from '../../schema/bootstrap.ts'
import { withDatabase } from '../context.ts'

export function registerDbInit(db: Command): void {
  db.command('init')
    .description('Bootstrap the database: Supabase roles, auth, extensions and vault schemas (idempotent)')
    .option('--database-url <url>', 'PostgreSQL URL (overrides DATABASE_URL)')
    .action(async (options: { databaseUrl?: string }) => {
      await withDatabase(options, async (database) => {
        const report = await bootstrap(database)
        const what = report.applied ? `bootstrapped to version ${report.version}` : `already at version ${report.version}`
        process.stdout.write(`${database.description}: ${what} (${report.durationMs} ms)\n`)
      })
    })
}
