/**
 * Realtime's one LISTEN connection per server: the bus between servers, Postgres changes and
 * SQL's messages each have a channel on it (db/listener.ts keeps it alive and reconnects it). On
 * the embedded database PGlite's own `listen` serves; where the runtime or the database cannot
 * hold a session (Lambda, a transaction pooler without REALTIME_LISTEN_URL) nothing is heard.
 * @module
 */
import { startListener, type Listener } from '../db/listener.ts'
import type { PgliteDatabase } from '../db/pglite-driver.ts'
import type { Services } from '../services.ts'

export interface Notifications {
  /** Hears `channel`; resolves once listening (at once where nothing can be heard), with how to stop. */
  listen(channel: string, onPayload: (payload: string) => void): Promise<() => void>
  /** `handler` runs when a listening connection is lost (a reconnect follows); returns how to remove it. */
  onLost(handler: () => void): () => void
  /** `handler` runs after every reconnect (what was sent meanwhile is lost); returns how to remove it. */
  onReconnect(handler: () => void): () => void
  /** The server process of the shared connection while listening (tests). */
  backendPid(): number | undefined
  stop(): void
}

/** `url`: where to LISTEN; default REALTIME_LISTEN_URL, else DATABASE_URL (a direct URL beside a pooler). */
export function createNotifications(services: Services, url = services.config.realtimeListenUrl ?? services.config.databaseUrl): Notifications {
  const handlers = new Map<string, Set<(payload: string) => void>>()
  const reconnectHandlers = new Set<() => void>()
  const lostHandlers = new Set<() => void>()
  let listener: Listener | undefined
  /** Whether a connection ever listened, and whether it is down now (lost handlers ran, no connect since). */
  let connectedOnce = false
  let down = false

  const deliver = (channel: string, payload: string) => {
    for (const handler of handlers.get(channel) ?? []) handler(payload)
  }

  const serverListener = async (channel: string): Promise<void> => {
    if (listener) return listener.add(channel)
    listener = startListener({
      url: url!,
      channels: [channel],
      applicationName: 'resolution realtime',
      onNotification: (payload, from) => deliver(from, payload),
      onConnect: () => {
        // The listener reports a reconnect only after a connection that listened; a first
        // connect that came after failed attempts is one too (notifications were missed).
        const lateFirst = !connectedOnce && down
        connectedOnce = true
        down = false
        if (lateFirst) reconnectHandlers.forEach((handler) => handler())
      },
      onReconnect: () => reconnectHandlers.forEach((handler) => handler()),
      onError: (error) => {
        services.logger.warn({ err: error }, 'realtime: listening connection lost; reconnecting')
        // Once per outage: failed attempts to reconnect lose nothing more.
        if (down) return
        down = true
        lostHandlers.forEach((handler) => handler())
      },
    })
    await listener.ready
  }

  return {
    async listen(channel, onPayload) {
      const handler = (payload: string | undefined) => onPayload(payload ?? '')
      const database = await services.database()
      if (database.capabilities.inProcess) {
        // Notifications from this process's own statements; a psql session over the embedded wire
        // server does not reach PGlite's listen callback (see rest/schema-cache/pglite-listener.ts).
        const unlisten = await (database as PgliteDatabase).withPglite((pglite) => pglite.listen(channel, handler))
        return () => void unlisten().catch(() => {})
      }
      const { capabilities } = database
      if (!url || !capabilities.supportsListen || !capabilities.separateConnections || !services.profile.longLivedConnections) return () => {}
      let set = handlers.get(channel)
      if (!set) handlers.set(channel, (set = new Set()))
      set.add(handler)
      await serverListener(channel)
      // The LISTEN stays (a later subscriber of the channel is likely); only the handler goes.
      return () => void set.delete(handler)
    },
    onLost(handler) {
      lostHandlers.add(handler)
      return () => void lostHandlers.delete(handler)
    },
    onReconnect(handler) {
      reconnectHandlers.add(handler)
      return () => void reconnectHandlers.delete(handler)
    },
    backendPid: () => listener?.backendPid(),
    stop() {
      listener?.stop()
      listener = undefined
      handlers.clear()
      reconnectHandlers.clear()
      lostHandlers.clear()
    },
  }
}
