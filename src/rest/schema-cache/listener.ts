/**
 * `LISTEN pgrst` on a dedicated connection (server databases, src/db/listener.ts: heartbeat,
 * reconnect with backoff): `NOTIFY pgrst, 'reload schema'`, `'reload config'` (or a bare `NOTIFY
 * pgrst`) reloads the schema cache and with it the in-database `pgrst.*` settings, as with
 * PostgREST; after a reconnect it reloads anyway. On
 * PGlite the one backend LISTENs (pglite-listener.ts). The bootstrap's event triggers send the
 * NOTIFY after DDL (src/schema/sql/ddl-watch.ts).
 * @module
 */
import { startListener } from '../../db/listener.ts'
import type { PgliteDatabase } from '../../db/pglite-driver.ts'
import type { Database } from '../../db/types.ts'
import type { Services } from '../../services.ts'
import { reloadSchemaCache } from './index.ts'
import { startPgliteListener } from './pglite-listener.ts'

interface Started {
  ready: Promise<void>
  stop(): void
}

/** `waiting` until the first LISTEN settled; undefined after, so requests skip the await. */
const listeners = new WeakMap<Database, { listener: Started; waiting: Promise<void> | undefined }>()

/**
 * Starts listening for `database` (once) and returns a promise for when the LISTEN is in place,
 * or `undefined` when there is nothing to wait for. Load the cache only after it: DDL committed
 * between loading and LISTEN would otherwise never reach the cache.
 */
export function ensureSchemaListener(services: Services, database: Database): Promise<void> | undefined {
  const existing = listeners.get(database)
  if (existing) return existing.waiting
  if (!services.config.rest.channelEnabled) return undefined
  const listener = startFor(services, database)
  if (!listener) return undefined
  const entry = { listener, waiting: listener.ready as Promise<void> | undefined }
  listener.ready.then(() => (entry.waiting = undefined))
  listeners.set(database, entry)
  return entry.waiting
}

function startFor(services: Services, database: Database): Started | undefined {
  // The embedded database: LISTEN on its one backend (see pglite-listener.ts).
  if (database.capabilities.inProcess) return startPgliteListener(database as PgliteDatabase, coalesced(database, services))
  // A frozen Lambda instance cannot hold a connection (it reloads on cold start instead).
  const { capabilities } = database
  if (!capabilities.supportsListen || !capabilities.separateConnections || !services.profile.longLivedConnections) return undefined
  if (!services.config.databaseUrl) return undefined
  return startServerListener(services.config.databaseUrl, database, services)
}

/** One reload at a time, and one more after it when notices arrived meanwhile (a burst of DDL). */
function coalesced(database: Database, services: Services): () => void {
  let running = false
  let again = false
  const run = () => {
    if (running) {
      again = true
      return
    }
    running = true
    reloadSchemaCache(database)
      .catch((error) => services.logger.warn({ err: error }, 'schema cache reload failed'))
      .finally(() => {
        running = false
        if (again) {
          again = false
          run()
        }
      })
  }
  return run
}

export function stopSchemaListener(database: Database): void {
  listeners.get(database)?.listener.stop()
  listeners.delete(database)
}

function startServerListener(url: string, database: Database, services: Services): Started {
  // Reloads overlapping would let an older one finish last and win.
  const reload = coalesced(database, services)
  return startListener({
    url,
    channels: ['pgrst'],
    applicationName: 'resolution schema listener',
    onNotification(payload) {
      const text = payload.trim()
      // The schema cache holds the in-database pgrst.* settings too: 'reload config' reloads it.
      if (text === '' || text === 'reload schema' || text === 'reload config') reload()
    },
    // Anything may have changed while we were not listening.
    onReconnect: reload,
    onError: (error) => services.logger.warn({ error: (error as Error).message }, 'schema listener connection lost; reconnecting'),
  })
}
