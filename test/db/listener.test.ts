/**
 * The long-lived listener (src/db/listener.ts) on a real PostgreSQL: a notification is delivered;
 * after a silent network partition (a proxy that drops every byte, no FIN) the heartbeat notices
 * within its timeout, and once the network heals a new connection listens again.
 */
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startListener, type Listener } from '../../src/db/listener.ts'
import { createServerDatabase } from '../support/databases.ts'
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts'

async function until<T>(probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error('timed out waiting')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

describe.runIf(process.env.TEST_DATABASE_URL)('long-lived listener [postgres]', () => {
  let server: { url: string; drop: () => Promise<void> }
  let proxy: TcpProxy
  let notifier: pg.Client
  let listener: Listener | undefined

  beforeAll(async () => {
    server = await createServerDatabase()
    proxy = await startTcpProxy(Number(new URL(server.url).port || 5432), new URL(server.url).hostname)
    notifier = new pg.Client({ connectionString: server.url })
    await notifier.connect()
  })
  afterAll(async () => {
    listener?.stop()
    await notifier?.end()
    await proxy?.close()
    await server?.drop()
  })

  it('delivers, notices a partition by its heartbeat, and listens again once the network heals', async () => {
    const payloads: string[] = []
    const errors: unknown[] = []
    let reconnects = 0
    listener = startListener({
      url: proxy.url(server.url),
      channels: ['listener_test'],
      onNotification: (payload) => payloads.push(payload),
      onReconnect: () => reconnects++,
      onError: (error) => errors.push(error),
      heartbeatMs: 200,
      queryTimeoutMs: 500,
      retryMinMs: 100,
      retryMaxMs: 400,
    })
    // Once `ready` settles the LISTEN is in place: a NOTIFY right after is not lost.
    await listener.ready
    const first = listener.backendPid()
    expect(first).toBeTypeOf('number')
    await notifier.query("NOTIFY listener_test, 'one'")
    await until(() => (payloads.includes('one') ? true : undefined))

    proxy.blackhole()
    // A NOTIFY during the partition is lost; the heartbeat gives up on the connection.
    await notifier.query("NOTIFY listener_test, 'lost'")
    await until(() => (errors.length > 0 ? true : undefined), 5000)
    expect(listener.backendPid()).toBeUndefined()

    proxy.heal()
    const second = await until(() => listener!.backendPid(), 10_000)
    expect(second).not.toBe(first)
    expect(reconnects).toBe(1)
    await notifier.query("NOTIFY listener_test, 'two'")
    await until(() => (payloads.includes('two') ? true : undefined))
    expect(payloads).toEqual(['one', 'two'])
  })

  it('listens on several channels over one connection, adds one to the live connection, and keeps all after a reconnect', async () => {
    const heard: string[] = []
    const several = startListener({ url: proxy.url(server.url), channels: ['first', 'we"ird; LISTEN x'], onNotification: (payload, channel) => heard.push(`${channel}:${payload}`), retryMinMs: 100 })
    try {
      await several.ready
      const pid = several.backendPid()
      await several.add('later')
      expect(several.backendPid()).toBe(pid)
      await notifier.query(`NOTIFY first, 'a'; NOTIFY "we""ird; LISTEN x", 'b'; NOTIFY later, 'c'; NOTIFY unheard, 'd'`)
      await until(() => (heard.length >= 3 ? true : undefined))
      const { rows } = await notifier.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1`, [pid])
      expect(rows[0]!.n).toBe(1)

      proxy.refuse()
      await until(() => (several.backendPid() === undefined ? true : undefined))
      proxy.heal()
      await until(() => several.backendPid())
      await notifier.query(`NOTIFY later, 'e'; NOTIFY first, 'f'`)
      await until(() => (heard.length >= 5 ? true : undefined))
      expect(heard).toEqual(['first:a', 'we"ird; LISTEN x:b', 'later:c', 'later:e', 'first:f'])
    } finally {
      several.stop()
    }
  })

  it('stops for good when its database is dropped', async () => {
    const scratch = await createServerDatabase()
    const errors: unknown[] = []
    const gone = startListener({ url: scratch.url, channels: ['gone'], onNotification: () => {}, onError: (error) => errors.push(error), retryMinMs: 50 })
    await until(() => gone.backendPid())
    await scratch.drop()
    await new Promise((resolve) => setTimeout(resolve, 1000))
    // The drop ended the connection once; the reconnect found no database and stopped.
    expect(gone.backendPid()).toBeUndefined()
    expect(errors.length).toBe(1)
    gone.stop()
  })
})
