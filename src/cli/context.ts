/**
 * What every command needs: the validated config (with `--database-url` overriding
 * DATABASE_URL, and development secrets filled in) and a database it closes afterwards.
 * @module
 */
import { loadConfig, type Config, type Env } from '../config/config.ts'
import { resolveDevSecrets } from '../config/dev-secrets.ts'
import { openDatabase } from '../db/open.ts'
import { embeddedState } from '../db/wire-info.ts'
import type { Database } from '../db/types.ts'

export interface DatabaseOption {
  databaseUrl?: string
}

export async function commandConfig(options: DatabaseOption = {}, env: Env = process.env): Promise<Config> {
  const merged = options.databaseUrl ? { ...env, DATABASE_URL: options.databaseUrl } : env
  return resolveDevSecrets(loadConfig(merged))
}

/** Configs whose DATABASE_URL is a running service's embedded database (see `databaseConfig`). */
const viaService = new WeakSet<Config>()

/**
 * The config a database command uses. Without a DATABASE_URL, when a running `serve` holds the
 * embedded data dir and serves it over the wire, the command goes through that port instead of
 * failing on the lock.
 */
export async function databaseConfig(options: DatabaseOption = {}, env: Env = process.env): Promise<Config> {
  const config = await commandConfig(options, env)
  if (config.databaseUrl) return config
  const embedded = embeddedState(config.dataDir)
  if (embedded.state !== 'serving') return config
  const through = { ...config, databaseUrl: embedded.url }
  viaService.add(through)
  return through
}

/** Whether `config` reaches the embedded database through a running service. */
export const throughRunningService = (config: Config) => viaService.has(config)

/** Opens the configured database, runs `fn`, and always closes it. */
export async function withDatabase<T>(options: DatabaseOption, fn: (database: Database, config: Config) => Promise<T>): Promise<T> {
  const config = await databaseConfig(options)
  const database = await openDatabase(config)
  try {
    return await fn(database, config)
  } finally {
    await database.close()
  }
}
