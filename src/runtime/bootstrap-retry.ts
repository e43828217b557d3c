/**
 * Start-up's database step for any long-running runtime: bootstrap (a fast no-op when current),
 * retrying with capped exponential backoff while the server is unreachable, so the process stays
 * up and answers 503 on /health meanwhile. Any other failure is one clear line.
 * @module
 */
import { isConnectionError } from '../db/errors.ts'
import { connectFailure } from '../db/startup-errors.ts'
import { FatalError } from '../errors.ts'
import { bootstrap } from '../schema/bootstrap.ts'
import { DDL_WATCH_INSTALLED, DDL_WATCH_WARNING } from '../schema/sql/ddl-watch.ts'
import type { Services } from '../services.ts'

/** Gives up quietly once `stop` fires (shutdown during an outage is not a failure). */
export async function bootstrapWithRetry(services: Services, stop: AbortSignal): Promise<void> {
  let delay = 250
  while (!stop.aborted) {
    try {
      const database = await services.database()
      const report = await bootstrap(database, { logger: services.logger })
      services.logger.info({ version: report.version, applied: report.applied, durationMs: report.durationMs }, 'database bootstrap')
      // Said at every start, not only the one that bootstrapped: DDL from psql will not be served.
      const watch = await database.query<{ installed: boolean }>(DDL_WATCH_INSTALLED)
      if (!watch.rows[0]?.installed) services.logger.warn({ warning: DDL_WATCH_WARNING }, 'schema watch off')
      return
    } catch (error) {
      if (stop.aborted) return
      if (!isConnectionError(error)) {
        // No retry fixes these; say so in one line rather than a stack.
        throw connectFailure(error, services.config.databaseUrl) ?? (error instanceof FatalError ? error : new FatalError(`database bootstrap failed: ${(error as Error).message}`))
      }
      services.logger.warn({ retryInMs: delay, error: (error as Error).message }, 'database unreachable; retrying')
      await sleep(delay, stop)
      delay = Math.min(delay * 2, 10_000)
    }
  }
}

function sleep(ms: number, stop: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms)
    stop.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true })
  })
}
