/**
 * `LISTEN pgrst` on a dedicated connection (server databases): `NOTIFY pgrst, 'reload schema'`,
 * `'reload config'` or a bare `NOTIFY pgrst` reloads the schema cache, which holds the in-database
 * `pgrst.*` settings too, as with PostgREST. The
 * connection is unref'd so it never keeps a process alive, and reconnects with backoff. On
 * PGlite the one backend LISTENs (pglite-listener.ts). The bootstrap's event triggers send the
 * NOTIFY after DDL (src/schema/sql/ddl-watch.ts).
 * @module
 */
import pg from 'pg'
import type { PgliteDatabase } from '../../db/pglite-driver.ts'
import type { Database } from '../../db/types.ts'
import type { Services } from '../../services.ts'
import { reloadSchemaCache } from './index.ts'
import { startPgliteListener } from './pglite-listener.ts'

const listeners = new WeakMap<Database, { stop(): void }>()

export function ensureSchemaListener(services: Services, database: Database): void {
  if (listeners.has(database) || !services.config.rest.channelEnabled) return
  // The embedded database: LISTEN on its one backend (see pglite-listener.ts).
  if (database.kind === 'pglite') {
    listeners.set(database, startPgliteListener(database as PgliteDatabase, coalesced(database, services)))
    return
  }
  // Lambda instances are short-lived and reload on cold start; a pooler cannot carry LISTEN.
  if (database.kind !== 'pg' || !services.config.databaseUrl || services.lambda) return
  listeners.set(database, startListener(services.config.databaseUrl, database, services))
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
  listeners.get(database)?.stop()
  listeners.delete(database)
}

function startListener(url: string, database: Database, services: Services): { stop(): void } {
  // Reloads overlapping would let an older one finish last and win.
  const reload = coalesced(database, services)
  let stopped = false
  let client: pg.Client | undefined
  let delay = 1000
  let connectedBefore = false
  let timer: NodeJS.Timeout | undefined

  const retry = () => {
    if (stopped) return
    timer = setTimeout(connect, delay)
    timer.unref()
    delay = Math.min(delay * 2, 30_000)
  }

  const connect = async () => {
    if (stopped) return
    const next = new pg.Client({ connectionString: url, application_name: 'resolution schema listener' })
    client = next
    next.on('error', () => {
      next.end().catch(() => {})
      if (client === next) retry()
    })
    next.on('notification', (message) => {
      if (message.channel !== 'pgrst') return
      const payload = (message.payload ?? '').trim()
      if (payload === '' || payload === 'reload schema' || payload === 'reload config') reload()
    })
    try {
      await next.connect()
      // Let the process exit even while listening.
      ;(next as unknown as { connection?: { stream?: { unref?: () => void } } }).connection?.stream?.unref?.()
      await next.query('LISTEN pgrst')
      delay = 1000
      // Anything may have changed while we were not listening.
      if (connectedBefore && !stopped) await reloadSchemaCache(database).catch(() => {})
      connectedBefore = true
    } catch (error) {
      next.end().catch(() => {})
      // The database is gone for good (dropped): stop listening instead of retrying forever.
      if ((error as { code?: string }).code === '3D000') stopped = true
      if (client === next) retry()
    }
  }
  void connect()
  return {
    stop() {
      stopped = true
      if (timer) clearTimeout(timer)
      client?.end().catch(() => {})
    },
  }
}
