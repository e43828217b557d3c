/**
 * Several servers, one PostgreSQL: two service instances (each its own hub, sharing nothing in
 * memory) over one database, a realtime-js client on each. Broadcasts and presence cross between
 * them through LISTEN/NOTIFY, payloads past NOTIFY's 8000 bytes included.
 */
import { mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openTestDatabase } from '../support/databases.ts'
import { startTestApp, TEST_JWT_SECRET, type TestApp } from '../support/app.ts'
import { killRunning, runResolution, waitFor } from '../support/processes.ts'
import { startTcpProxy } from '../support/tcp-proxy.ts'
import { eventually, startRealtime, subscribed, type RealtimeHarness } from './support.ts'

// The embedded database is one process: its bus is local, so this is a server database's test.
describe.skipIf(!process.env.TEST_DATABASE_URL)('realtime across servers [postgres]', () => {
  let rt: RealtimeHarness
  let other: TestApp
  let dispose: () => Promise<void>
  let db: Awaited<ReturnType<typeof openTestDatabase>>
  beforeAll(async () => {
    db = await openTestDatabase('postgres')
    dispose = db.dispose
    rt = await startRealtime(db)
    other = await startTestApp(db)
  })
  afterAll(async () => {
    await rt?.close()
    await other?.close()
    await dispose?.()
  })

  it('delivers broadcasts and presence between clients of two servers', async () => {
    const got: Array<Record<string, unknown>> = []
    const a = rt.client().channel('shared', { config: { presence: { key: 'on-a' } } })
    const bClient = rt.client({ url: other.url })
    const b = bClient.channel('shared', { config: { presence: { key: 'on-b' } } })
    b.on('broadcast', { event: '*' }, (m) => got.push(m))
    const joinsOnA: string[] = []
    a.on('presence', { event: 'join' }, ({ key }) => joinsOnA.push(key))
    await Promise.all([subscribed(a), subscribed(b)])
    // Both buses are listening once each side has had a moment after its first connection.
    await new Promise((resolve) => setTimeout(resolve, 300))

    await a.send({ type: 'broadcast', event: 'small', payload: { n: 1 } })
    expect(await eventually(() => got.find((m) => m.event === 'small'))).toMatchObject({ payload: { n: 1 } })
    const big = 'x'.repeat(50_000) + 'é'.repeat(5000)
    await a.send({ type: 'broadcast', event: 'big', payload: { big } })
    expect((await eventually(() => got.find((m) => m.event === 'big'))).payload).toEqual({ big })

    await b.track({ where: 'b' })
    await eventually(() => (joinsOnA.includes('on-b') ? true : undefined))
    expect(a.presenceState()['on-b']![0]).toMatchObject({ where: 'b' })

    // A client leaving server B leaves presence as seen from server A.
    await bClient.realtime.disconnect()
    await eventually(() => (a.presenceState()['on-b'] ? undefined : true))
  })

  it('gives a client joining later the presence tracked on the other server', async () => {
    const early = rt.client({ url: other.url }).channel('late', { config: { presence: { key: 'early' } } })
    await subscribed(early)
    await early.track({ since: 1 })
    const late = rt.client().channel('late', { config: { presence: { key: 'late', enabled: true } } })
    await subscribed(late)
    await eventually(() => late.presenceState().early)
    expect(late.presenceState().early![0]).toMatchObject({ since: 1 })

    // A server started after the track learns it from the others' snapshots (its bus says hello).
    // It listens through REALTIME_LISTEN_URL (as beside a pooled DATABASE_URL).
    const third = await startTestApp(db, { REALTIME_LISTEN_URL: db.url! })
    try {
      const newcomer = rt.client({ url: third.url }).channel('late', { config: { presence: { key: 'new', enabled: true } } })
      await subscribed(newcomer)
      await eventually(() => newcomer.presenceState().early)
      expect(Object.keys(newcomer.presenceState()).sort()).toEqual(['early'])
    } finally {
      await rt.client({ url: third.url }).removeAllChannels()
      await third.close()
    }
  })

  it('delivers Postgres changes, large ones included, to subscribers on both servers', async () => {
    await db.database.exec(`CREATE TABLE public.shared_rows (id int PRIMARY KEY, body text); GRANT SELECT ON public.shared_rows TO anon; ALTER PUBLICATION supabase_realtime ADD TABLE public.shared_rows;`)
    const seen: Record<string, Array<Record<string, unknown>>> = { a: [], b: [] }
    const on = (client: ReturnType<RealtimeHarness['client']>, name: 'a' | 'b') =>
      client.channel(`rows-${name}`).on('postgres_changes', { event: 'INSERT', schema: 'public', table: 'shared_rows' }, (p) => seen[name]!.push(p.new))
    const a = on(rt.client(), 'a')
    const b = on(rt.client({ url: other.url }), 'b')
    await Promise.all([subscribed(a), subscribed(b)])
    const big = 'w'.repeat(20_000)
    await db.database.query(`INSERT INTO public.shared_rows VALUES (1, 'small'), (2, $1)`, [big])
    await eventually(() => (seen.a!.length === 2 && seen.b!.length === 2 ? true : undefined))
    expect(seen.b!.map((r) => r.id)).toEqual([1, 2])
    expect(seen.a![1]!.body).toBe(big)
    expect(seen.b![1]!.body).toBe(big)
  })

  it('holds one LISTEN connection per server, and recovers after every connection of the service is terminated (as in a restart)', async () => {
    await db.database.exec(`CREATE TABLE public.restart_rows (id int PRIMARY KEY); GRANT SELECT ON public.restart_rows TO anon; ALTER PUBLICATION supabase_realtime ADD TABLE public.restart_rows;`)
    const got: Array<Record<string, unknown>> = []
    const rows: number[] = []
    const a = rt.client().channel('restart')
    const b = rt
      .client({ url: other.url })
      .channel('restart')
      .on('broadcast', { event: '*' }, (m) => got.push(m))
      .on('postgres_changes', { event: 'INSERT', schema: 'public', table: 'restart_rows' }, (p) => rows.push(p.new.id as number))
    await Promise.all([subscribed(a), subscribed(b)])
    // The bus, changes and SQL's messages share one connection per server.
    const listeners = async () => {
      const result = await db.database.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'resolution realtime'`).catch(() => undefined)
      return result?.rows[0]!.n
    }
    await eventually(async () => ((await listeners()) === 2 ? true : undefined))
    const { rows: killed } = await db.database.query<{ n: number }>(
      `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`,
    )
    expect(killed[0]!.n).toBeGreaterThanOrEqual(2)
    // What is sent while a server is not listening is lost (broadcasts from other servers, SQL's
    // messages; changes committed meanwhile are caught up from the change log, see
    // catch-up.test.ts); once it listens again, everything flows.
    let polls = 0
    const every10th = () => polls++ % 10 === 0 // polls come every 20 ms: one try per 200 ms
    const tryQuery = (sql: string) => void db.database.query(sql).catch(() => {}) // the pool too lost its connections
    await eventually(() => {
      if (every10th()) void a.send({ type: 'broadcast', event: 'after', payload: {} })
      return got.find((m) => m.event === 'after')
    }, 15_000)
    await eventually(() => {
      if (every10th()) tryQuery(`SELECT realtime.send('{}'::jsonb, 'sql-after', 'restart', false)`)
      return got.find((m) => m.event === 'sql-after')
    }, 15_000)
    let id = 0
    await eventually(() => {
      if (every10th()) tryQuery(`INSERT INTO public.restart_rows VALUES (${++id})`)
      return rows.length > 0 ? true : undefined
    }, 15_000)
    await eventually(async () => ((await listeners()) === 2 ? true : undefined), 10_000)
  })

  it('resyncs presence after its database refused connections for a while; broadcasts sent meanwhile are lost', async () => {
    const proxy = await startTcpProxy(Number(new URL(db.url!).port || 5432), new URL(db.url!).hostname)
    const third = await startTestApp(db, { REALTIME_LISTEN_URL: proxy.url(db.url!) })
    try {
      const got: string[] = []
      const c = rt.client({ url: third.url }).channel('outage', { config: { presence: { key: 'on-c', enabled: true } } })
      c.on('broadcast', { event: '*' }, (m) => got.push(m.event as string))
      const a = rt.client().channel('outage', { config: { presence: { key: 'on-a' } } })
      await Promise.all([subscribed(a), subscribed(c)])
      await new Promise((resolve) => setTimeout(resolve, 300))
      await a.send({ type: 'broadcast', event: 'before', payload: {} })
      await eventually(() => (got.includes('before') ? true : undefined))

      proxy.refuse()
      await new Promise((resolve) => setTimeout(resolve, 500))
      await a.send({ type: 'broadcast', event: 'during', payload: {} })
      await a.track({ joined: 'during the outage' })
      await new Promise((resolve) => setTimeout(resolve, 1500))
      expect(c.presenceState()['on-a']).toBeUndefined()
      proxy.heal()

      // The listener reconnects (backoff from 1 s), says hello, and the others' snapshots bring A's presence.
      await eventually(() => c.presenceState()['on-a'], 15_000)
      expect(c.presenceState()['on-a']![0]).toMatchObject({ joined: 'during the outage' })
      await a.send({ type: 'broadcast', event: 'after', payload: {} })
      await eventually(() => (got.includes('after') ? true : undefined))
      expect(got).toEqual(['before', 'after'])
    } finally {
      await rt.client({ url: third.url }).removeAllChannels()
      await third.close()
      await proxy.close()
    }
  })
})

afterAll(killRunning)

describe.skipIf(!process.env.TEST_DATABASE_URL)('realtime when a server dies [postgres]', () => {
  it('drops the presences of a killed `resolution serve` process after REALTIME_DEAD_SERVER_SECONDS', async () => {
    const db = await openTestDatabase('postgres')
    const rt = await startRealtime(db, { REALTIME_DEAD_SERVER_SECONDS: '3' })
    const child = runResolution(['serve'], {
      PORT: '0',
      DATABASE_URL: db.url!,
      JWT_SECRET: TEST_JWT_SECRET,
      EMBEDDED_DB_PORT: 'off',
      RESOLUTION_DATA_DIR: mkdtempSync(path.join(os.tmpdir(), 'resolution-rt-killed-')),
    })
    try {
      const url = await waitFor(() => /resolution ready on (http:\/\/\S+)/.exec(child.stdout())?.[1], 60_000)
      const leaves: string[] = []
      const watcher = rt.client().channel('killed', { config: { presence: { key: 'watcher', enabled: true } } })
      watcher.on('presence', { event: 'leave' }, ({ key }) => leaves.push(key))
      const doomed = rt.client({ url }).channel('killed', { config: { presence: { key: 'doomed' } } })
      await Promise.all([subscribed(watcher), subscribed(doomed)])
      await new Promise((resolve) => setTimeout(resolve, 300))
      await doomed.track({ on: 'the child' })
      await eventually(() => watcher.presenceState().doomed, 10_000)

      // SIGKILL: no leave, no goodbye on the bus; only the process's silence tells.
      const killedAt = Date.now()
      child.child.kill('SIGKILL')
      await child.exit
      await eventually(() => (leaves.includes('doomed') ? true : undefined), 15_000)
      const took = Date.now() - killedAt
      expect(watcher.presenceState().doomed).toBeUndefined()
      // Presumed dead after 3 s of silence, noticed at the next beacon tick (every second).
      expect(took).toBeGreaterThanOrEqual(1900)
      expect(took).toBeLessThan(10_000)
    } finally {
      child.child.kill('SIGKILL')
      await rt.close()
      await db.dispose()
    }
  }, 90_000)

  it('drops the presences of a server that went silent (killed), and members elsewhere see them leave', async () => {
    const { Hub } = await import('../../src/realtime/hub.ts')
    const { createPgBus } = await import('../../src/realtime/pg-bus.ts')
    const { createNotifications } = await import('../../src/realtime/notifications.ts')
    const { topicOf } = await import('../../src/realtime/hub.ts')
    const { loadConfig } = await import('../../src/config/config.ts')
    const { createServices } = await import('../../src/services.ts')
    const db = await openTestDatabase('postgres')
    const config = loadConfig({ JWT_SECRET: 'test-secret-with-at-least-32-characters-long', LOG_LEVEL: 'silent', DATABASE_URL: db.url!, EMBEDDED_DB_PORT: 'off' })
    const services = await createServices(config, { database: db.database })
    const timings = { aliveMs: 200, deadMs: 1200 }
    // Each hub its own LISTEN connection, as two processes would have.
    const listening = [createNotifications(services, db.url!), createNotifications(services, db.url!)]
    const survivor = new Hub(createPgBus(services, listening[0]!), timings)
    const doomed = new Hub(createPgBus(services, listening[1]!), timings)
    try {
      await Promise.all([survivor.start(), doomed.start()])
      const topic = topicOf('room', false)
      const frames: string[] = []
      const watcher = { id: `${survivor.node}/w:1`, vsn: '2.0.0' as const, selfBroadcast: false, presenceEnabled: true, deliver: (f: string | Uint8Array) => frames.push(String(f)) }
      const tracked = { id: `${doomed.node}/t:1`, vsn: '2.0.0' as const, selfBroadcast: false, presenceEnabled: true, deliver: () => {} }
      survivor.subscribe(topic, watcher)
      doomed.subscribe(topic, tracked)
      doomed.track(topic, tracked, 'doomed-user', { online: true })
      await eventually(() => (survivor.presenceState(topic)['doomed-user'] ? true : undefined))
      // Killed: no leave is ever published; only its silence tells.
      doomed.stop()
      await eventually(() => (survivor.presenceState(topic)['doomed-user'] ? undefined : true), 5000)
      const leave = frames.map((f) => JSON.parse(f) as unknown[]).find((m) => m[3] === 'presence_diff' && Object.keys((m[4] as { leaves: object }).leaves).length > 0)
      expect(leave?.[4]).toMatchObject({ leaves: { 'doomed-user': { metas: [{ online: true }] } } })
    } finally {
      survivor.stop()
      doomed.stop()
      listening.forEach((n) => n.stop())
      await services.close()
      await db.dispose()
    }
  })
})
