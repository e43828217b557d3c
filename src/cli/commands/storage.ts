/**
 * `resolution storage sweep`: removes object bytes no `storage.objects` row points at (see
 * src/storage/sweep.ts), from the configured backend (`STORAGE_BACKEND`, `STORAGE_DIR`, `STORAGE_S3_*`).
 * @module
 */
import type { Command } from 'commander'
import { FatalError } from '../../errors.ts'
import { bootstrap } from '../../schema/bootstrap.ts'
import { createBackend } from '../../storage/backend/index.ts'
import { sweepOrphans } from '../../storage/sweep.ts'
import { withDatabase, type DatabaseOption } from '../context.ts'

export function registerStorage(program: Command): void {
  const storage = program.command('storage').description('Object storage of /storage/v1: maintenance of the byte backend')
  storage
    .command('sweep')
    .description('Remove stored bytes that no storage.objects row points at (older than --older-than minutes)')
    .option('--older-than <minutes>', 'grace period for uploads in flight, minutes', '60')
    .option('--dry-run', 'count, remove nothing')
    .option('--database-url <url>', 'PostgreSQL URL (overrides DATABASE_URL)')
    .action(async (options: DatabaseOption & { olderThan: string; dryRun?: boolean }) => {
      if (!/^\d{1,7}$/.test(options.olderThan)) throw new FatalError('--older-than must be a whole number of minutes')
      const report = await withDatabase(options, async (database, config) => {
        if (database.capabilities.inProcess) await bootstrap(database)
        return sweepOrphans(database, createBackend(config.storage), { olderThanMs: Number(options.olderThan) * 60_000, dryRun: options.dryRun })
      })
      const verb = options.dryRun ? 'would remove' : 'removed'
      process.stdout.write(`storage sweep: ${report.stored} stored item(s), ${report.orphans} orphan(s), ${verb} ${options.dryRun ? report.orphans : report.removed}\n`)
    })
}
