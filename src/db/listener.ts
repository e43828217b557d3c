/**
 * The one home for long-lived `LISTEN` connections to a server database (the schema reload today,
 * Realtime next). A dedicated connection, apart from the pool, that never keeps the process alive
 * and never stays dead:
 * - the server closing it (restart, `pg_terminate_backend`, idle kill) → reconnect with backoff;
 * - a silent network (a partition drops every byte, no FIN): TCP keepalive, and a heartbeat
 *   `SELECT 1` that must answer within `queryTimeoutMs`, or the connection is replaced;
 * - after a reconnect `onReconnect` runs: notifications sent meanwhile were lost.
 * One connection may LISTEN on several channels (Realtime's bus, changes and messages share one);
 * channels added later are listened on at once and again after every reconnect.
 * Only runtimes whose profile allows long-lived connections start one (not Lambda).
 * @module
 */
import pg from 'pg'
import { ident } from './sql.ts'
import { hasSqlState } from './sqlstate.ts'

export interface ListenerOptions {
  url: string
  channels: string[]
  onNotification(payload: string, channel: string): void
  /** After a reconnect (not the first connect): anything may have changed meanwhile. */
  onReconnect?(): void
  /** After every connect, the first included, once every channel is listened on. */
  onConnect?(): void
  /** A lost connection, for the log; the listener reconnects by itself. */
  onError?(error: unknown): void
  applicationName?: string
  /** How often the connection proves it is alive. */
  heartbeatMs?: number
  /** Limit for connecting, `LISTEN` and the heartbeat. */
  queryTimeoutMs?: number
  /** First reconnect delay; it doubles up to `retryMaxMs`. */
  retryMinMs?: number
  retryMaxMs?: number
}

export interface Listener {
  /**
   * Settles once the first connection attempt has (LISTEN issued, or failed and retrying). A
   * reader that loads state and then relies on notifications awaits it first: a NOTIFY sent
   * before LISTEN is lost, and the first connect does not call `onReconnect`.
   */
  ready: Promise<void>
  /** The server process of the current connection while listening (logs, tests). */
  backendPid(): number | undefined
  /** Listens on one more channel; resolves once its LISTEN is in place (or at the next connect, if down). */
  add(channel: string): Promise<void>
  stop(): void
}

export function startListener(options: ListenerOptions): Listener {
  const { heartbeatMs = 30_000, queryTimeoutMs = 10_000, retryMinMs = 1000, retryMaxMs = 30_000 } = options
  let stopped = false
  let current: pg.Client | undefined
  let listening = false
  let connectedBefore = false
  let delay = retryMinMs
  let retryTimer: NodeJS.Timeout | undefined
  let settleFirst!: () => void
  const channels = new Set(options.channels)
  /** The channels the current connection LISTENs on. */
  let heard = new Set<string>()
  const ready = new Promise<void>((resolve) => (settleFirst = resolve))

  const retry = () => {
    if (stopped) return
    retryTimer = setTimeout(connect, delay)
    retryTimer.unref()
    delay = Math.min(delay * 2, retryMaxMs)
  }

  /** Drops `client` (once, however many events report it) and schedules the next one. */
  const lost = (client: pg.Client, error: unknown) => {
    if (current !== client) return
    current = undefined
    listening = false
    client.end().catch(() => {})
    if (!stopped) options.onError?.(error)
    retry()
  }

  const connect = async () => {
    if (stopped) return
    const client = new pg.Client({
      connectionString: options.url,
      application_name: options.applicationName ?? `resolution listener ${[...channels].join(' ')}`,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      connectionTimeoutMillis: queryTimeoutMs,
      query_timeout: queryTimeoutMs,
    })
    current = client
    client.on('error', (error) => lost(client, error))
    client.on('end', () => lost(client, new Error('listener connection closed')))
    client.on('notification', (message) => {
      if (channels.has(message.channel)) options.onNotification(message.payload ?? '', message.channel)
    })
    try {
      await client.connect()
      // Let the process exit even while listening.
      ;(client as unknown as { connection?: { stream?: { unref?: () => void } } }).connection?.stream?.unref?.()
      heard = new Set()
      await listenAll(client)
    } catch (error) {
      // The database is gone for good (dropped): stop instead of retrying for ever.
      if (hasSqlState(error, 'invalid_catalog_name')) stopped = true
      lost(client, error)
      return
    }
    if (current !== client) return
    listening = true
    delay = retryMinMs
    if (!stopped) options.onConnect?.()
    if (connectedBefore && !stopped) options.onReconnect?.()
    connectedBefore = true
  }

  /** LISTENs on every channel not yet heard by `client`, in one round trip; again if more were added meanwhile. */
  const listenAll = async (client: pg.Client) => {
    for (;;) {
      const missing = [...channels].filter((channel) => !heard.has(channel))
      if (missing.length === 0) return
      await client.query(missing.map((channel) => `LISTEN ${ident(channel)}`).join('; '))
      if (current !== client) return
      for (const channel of missing) heard.add(channel)
    }
  }

  const heartbeat = setInterval(() => {
    const client = current
    if (!client || !listening) return
    client.query('SELECT 1').catch((error: unknown) => lost(client, error))
  }, heartbeatMs)
  heartbeat.unref()

  void connect().finally(settleFirst)
  return {
    ready,
    async add(channel) {
      channels.add(channel)
      // During the first connect its LISTEN takes the new channel too.
      await ready
      const client = current
      if (!client || !listening) return
      await listenAll(client).catch((error: unknown) => lost(client, error))
    },
    backendPid: () => (listening ? (current as unknown as { processID?: number } | undefined)?.processID : undefined),
    stop() {
      stopped = true
      clearInterval(heartbeat)
      if (retryTimer) clearTimeout(retryTimer)
      const client = current
      current = undefined
      client?.end().catch(() => {})
    },
  }
}
