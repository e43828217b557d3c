/**
 * What the app needs, built once per app instance from its config: logger, JWT service and the
 * database, opened lazily on first use (never captured at import).
 * @module
 */
import { BackgroundWork } from './background.ts'
import { createJwtService, type JwtService } from './jwt/service.ts'
import type { Config } from './config/config.ts'
import { SERVER_PROFILE, type RuntimeProfile } from './config/runtime-profile.ts'
import { lazyDatabase, openDatabase, type OpenOptions } from './db/open.ts'
import type { Database } from './db/types.ts'
import { createLogger, type Logger } from './logger.ts'
import type { Mailer } from './auth/mailer.ts'
import type { AuthLimiters } from './auth/rate-limit.ts'

export interface Services {
  config: Config
  logger: Logger
  jwt: JwtService
  /** The database, opened on first call (and reopened after a failed open). */
  database(): Promise<Database>
  /** What the runtime allows (long-lived connections, worker threads, pool size). */
  profile: RuntimeProfile
  /** Milliseconds since the epoch for time windows (auth limits); tests pass their own. */
  clock?: () => number
  /** Sends auth mails instead of SMTP / the development outbox (tests, another provider). */
  mailer?: Mailer
  /** Auth's limits instead of the ones built from config (tests: their own limits or counters). */
  authLimiters?: AuthLimiters
  /** Work requests leave running after their responses (see background.ts). */
  background: BackgroundWork
  /** Waits for that work, then closes the database. */
  close(): Promise<void>
}

export interface ServicesOptions extends Omit<OpenOptions, 'profile'> {
  /** The runtime's profile; default: a long-running server process. */
  profile?: RuntimeProfile
  logger?: Logger
  /** Use this database instead of opening one from config (tests, CLI). */
  database?: Database
  /** A clock for time windows instead of `Date.now` (tests). */
  clock?: () => number
  /** Auth's mailer instead of the one chosen from config (tests). */
  mailer?: Mailer
  /** Auth's rate limits instead of the ones built from config and `clock` (tests). */
  authLimiters?: AuthLimiters
}

export async function createServices(config: Config, options: ServicesOptions = {}): Promise<Services> {
  const logger = options.logger ?? createLogger(config.logLevel)
  const jwt = await createJwtService(config)
  const given = options.database
  const profile = options.profile ?? SERVER_PROFILE
  // Serving requests, no statement may wait on a silent network for ever: a little past the
  // statement timeout (which answers 504 first when the server is alive), the client gives up.
  const queryTimeoutMs = config.statementTimeoutMs ? config.statementTimeoutMs + 2000 : undefined
  const background = new BackgroundWork()
  const handle = lazyDatabase(() => (given ? Promise.resolve(given) : openDatabase(config, { queryTimeoutMs, ...options, profile })))
  return {
    config,
    logger,
    jwt,
    database: () => handle.get(),
    profile,
    clock: options.clock,
    mailer: options.mailer,
    authLimiters: options.authLimiters,
    background,
    async close() {
      await background.idle()
      // A database handed in belongs to the caller, who closes it.
      if (!given) await handle.close()
    },
  }
}
