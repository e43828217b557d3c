/**
 * What every command needs: the validated config (with `--database-url` overriding
 * DATABASE_URL, and development secrets filled in) and a database it closes afterwards.
 * @module
 */
import { loadConfig, type Config, type Env } from '../config/config.ts'
import { resolveDevSecrets } from '../config/dev-secrets.ts'
import { openDatabase } from '../db/open.ts'
import type { Database } from '../db/types.ts'

export interface DatabaseOption {
  databaseUrl?: string
}

export async function commandConfig(options: DatabaseOption = {}, env: Env = process.env): Promise<Config> {
  const merged = options.databaseUrl ? { ...env, DATABASE_URL: options.databaseUrl } : env
  return resolveDevSecrets(loadConfig(merged))
}

/** Opens the configured database, runs `fn`, and always closes it. */
export async function withDatabase<T>(options: DatabaseOption, fn: (database: Database, config: Config) => Promise<T>): Promise<T> {
  const config = await commandConfig(options)
  const database = await openDatabase(config)
  try {
    return await fn(database, config)
  } finally {
    await database.close()
  }
}
