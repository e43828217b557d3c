/**
 * Chooses the driver from config. Called when the database is first needed, never at import,
 * so two apps in one process with different URLs each get their own database.
 * @module
 */
import type { Config } from '../config/config.ts'
import { SERVER_PROFILE, type RuntimeProfile } from '../config/runtime-profile.ts'
import { createPgDatabase } from './pg-driver.ts'
import type { Database } from './types.ts'

export interface OpenOptions {
  /** The runtime's pool size and idle timeout (Lambda: one connection, kept across invocations). */
  profile?: Pick<RuntimeProfile, 'poolSize' | 'idleTimeoutMs'>
  /** Client-side limit per statement on a server database (see `PgDriverOptions.queryTimeoutMs`). */
  queryTimeoutMs?: number
}

export async function openDatabase(config: Pick<Config, 'databaseUrl' | 'dataDir' | 'dbPoolMax'>, options: OpenOptions = {}): Promise<Database> {
  if (config.databaseUrl) {
    const profile = options.profile ?? SERVER_PROFILE
    return createPgDatabase({
      url: config.databaseUrl,
      poolMax: profile.poolSize ?? config.dbPoolMax,
      idleTimeoutMs: profile.idleTimeoutMs,
      queryTimeoutMs: options.queryTimeoutMs,
    })
  }
  // Loaded only when needed, so server and Lambda bundles carry no PGlite.
  const { createPgliteDatabase } = await import('./pglite-driver.ts')
  return createPgliteDatabase({ dataDir: config.dataDir })
}

/** Opens on first use, once, even under concurrent first calls. */
export function lazyDatabase(open: () => Promise<Database>): { get(): Promise<Database>; close(): Promise<void>; opened(): boolean } {
  let pending: Promise<Database> | undefined
  return {
    get() {
      pending ??= open().catch((error) => {
        pending = undefined // let the next caller retry
        throw error
      })
      return pending
    },
    async close() {
      const current = pending
      pending = undefined
      if (current) await (await current.catch(() => undefined))?.close()
    },
    opened: () => pending !== undefined,
  }
}
