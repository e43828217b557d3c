/**
 * No change lost while a server is not listening: the change log (`_resolution.realtime_changes`)
 * and its cursor. On both databases the cursor's reads: a transaction holding a low position that
 * commits late is read once, a rolled-back one never, pruning after the retention. On PostgreSQL a
 * server whose LISTEN connection is terminated while changes are committed delivers every one of
 * them exactly once, in order, as RLS allows, and a transaction open across the outage too.
 */
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ChangeCursor, pruneChangeLog } from '../../src/realtime/change-log.ts'
import { startTestApp, type TestApp } from '../support/app.ts'
import { startTcpProxy } from '../support/tcp-proxy.ts'
import { describeEachDatabase, openTestDatabase } from '../support/databases.ts'
import { eventually, startRealtime, subscribed, type RealtimeHarness } from './support.ts'

const ALICE = '11111111-1111-1111-1111-111111111111'
const BOB = '22222222-2222-2222-2222-222222222222'

const SCHEMA = `
CREATE TABLE public.ledger (id int PRIMARY KEY, owner uuid NOT NULL, n int);
ALTER TABLE public.ledger ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON public.ledger FOR SELECT TO authenticated USING (owner = auth.uid());
GRANT SELECT ON public.ledger TO authenticated;
ALTER PUBLICATION supabase_realtime ADD TABLE public.ledger;
`

const noGap = () => {
  throw new Error('no gap expected')
}

describeEachDatabase('realtime change log cursor', (db) => {
  let rt: RealtimeHarness
  beforeAll(async () => {
    await db().database.exec(SCHEMA)
    // A server puts the capture trigger on the published table.
    rt = await startRealtime(db())
    const channel = rt.client().channel('sync').on('postgres_changes', { event: '*', schema: 'public', table: 'ledger' }, () => {})
    await subscribed(channel)
  })
  afterAll(() => rt?.close())

  it('reads what it has not taken, once, in position order; a rolled-back transaction never', async () => {
    const database = db().database
    const cursor = new ChangeCursor()
    // The first read only positions the cursor.
    await database.query(`INSERT INTO public.ledger VALUES (1, '${ALICE}', 1)`)
    expect(await cursor.missed(database, noGap)).toEqual([])

    await database.query(`INSERT INTO public.ledger VALUES (2, '${ALICE}', 2), (3, '${ALICE}', 3)`)
    await database.transaction(async (tx) => {
      await tx.query(`INSERT INTO public.ledger VALUES (4, '${ALICE}', 4)`)
      throw new Error('roll back')
    }).catch(() => {})
    const first = await cursor.missed(database, noGap)
    expect(first.map((c) => c.change.record!.id)).toEqual([2, 3])
    expect(first[0]!.change).toMatchObject({ schema: 'public', table: 'ledger', type: 'INSERT' })
    expect(first[0]!.id).toBeLessThan(first[1]!.id)
    expect(await cursor.missed(database, noGap)).toEqual([])

    // A change taken live (from NOTIFY) is not read again.
    await database.query(`UPDATE public.ledger SET n = 20 WHERE id = 2`)
    const { rows } = await database.query<{ id: string; xid: string }>(`SELECT id::text, xid::text FROM _resolution.realtime_changes ORDER BY id DESC LIMIT 1`)
    expect(cursor.take(Number(rows[0]!.id), BigInt(rows[0]!.xid))).toBe(true)
    expect(cursor.take(Number(rows[0]!.id), BigInt(rows[0]!.xid))).toBe(false)
    expect(await cursor.missed(database, noGap)).toEqual([])
  })

  it('prunes the log after its retention', async () => {
    const database = db().database
    await database.query(`INSERT INTO public.ledger VALUES (50, '${ALICE}', 50)`)
    await database.query(`UPDATE _resolution.realtime_changes SET inserted_at = now() - interval '16 minutes' WHERE (change->'record'->>'id') = '50'`)
    expect(await pruneChangeLog(database)).toBe(1)
    const { rows } = await database.query<{ n: number }>(`SELECT count(*)::int AS n FROM _resolution.realtime_changes WHERE (change->'record'->>'id') = '50'`)
    expect(rows[0]!.n).toBe(0)
  })

  it('says so when it was away longer than the retention', async () => {
    const database = db().database
    const cursor = new ChangeCursor()
    await cursor.missed(database, noGap)
    const realNow = Date.now
    Date.now = () => realNow() + 16 * 60_000
    try {
      const gaps: number[] = []
      await cursor.missed(database, (ms) => gaps.push(ms))
      expect(gaps).toHaveLength(1)
      expect(gaps[0]!).toBeGreaterThan(15 * 60_000)
    } finally {
      Date.now = realNow
    }
  })
})

// The embedded database's listener is in-process and never drops: a server database's test.
describe.skipIf(!process.env.TEST_DATABASE_URL)('realtime catch-up after a lost LISTEN connection [postgres]', () => {
  let rt: RealtimeHarness
  let db: Awaited<ReturnType<typeof openTestDatabase>>
  let opened: pg.Client | undefined
  beforeAll(async () => {
    db = await openTestDatabase('postgres')
    await db.database.exec(SCHEMA)
    rt = await startRealtime(db)
  })
  afterAll(async () => {
    await opened?.end().catch(() => {})
    await rt?.close()
    await db?.dispose()
  })

  const listeners = async () =>
    (await db.database.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'resolution realtime'`)).rows.map((r) => r.pid)

  it('delivers every change committed while it reconnects exactly once and in order, as RLS allows', async () => {
    // A second server, whose LISTEN connection is the one terminated.
    const before = new Set(await listeners())
    let server: TestApp | undefined
    try {
      server = await startTestApp(db)
      const user = async (sub: string) => rt.userClient(await rt.token({ sub, role: 'authenticated', aud: 'authenticated' }), { url: server!.url })
      const got: Record<string, number[]> = { alice: [], bob: [] }
      const watch = (client: Awaited<ReturnType<typeof user>>, name: 'alice' | 'bob') =>
        client.channel(`ledger-${name}`).on('postgres_changes', { event: 'INSERT', schema: 'public', table: 'ledger' }, (p) => got[name]!.push(p.new.id as number))
      await Promise.all([subscribed(watch(await user(ALICE), 'alice')), subscribed(watch(await user(BOB), 'bob'))])
      const pid = await eventually(async () => (await listeners()).find((p) => !before.has(p)))

      // A transaction that takes its position now and commits after the outage.
      opened = new pg.Client({ connectionString: db.url })
      await opened.connect()
      await opened.query('BEGIN')
      await opened.query(`INSERT INTO public.ledger VALUES (9999, '${ALICE}', 0)`)

      const written: number[] = []
      let next = 1
      const write = async () => {
        await db.database.query(`INSERT INTO public.ledger VALUES ($1, '${ALICE}', $1)`, [next])
        written.push(next++)
      }
      for (let i = 0; i < 10; i++) await write()
      await eventually(() => (got.alice!.length === 10 ? true : undefined))

      const { rows: killed } = await db.database.query<{ ok: boolean }>('SELECT pg_terminate_backend($1) AS ok', [pid])
      expect(killed[0]!.ok).toBe(true)
      // Changes committed while it is down (reconnects come after 1 s), and a rolled-back one.
      const until = Date.now() + 1500
      while (Date.now() < until) {
        await write()
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      await db.database
        .transaction(async (tx) => {
          await tx.query(`INSERT INTO public.ledger VALUES (-1, '${ALICE}', -1)`)
          throw new Error('roll back')
        })
        .catch(() => {})
      const reconnected = await eventually(async () => (await listeners()).find((p) => !before.has(p) && p !== pid), 10_000)
      expect(reconnected).not.toBe(pid)
      for (let i = 0; i < 10; i++) await write()
      await opened.query('COMMIT')

      const expected = [...written, 9999]
      await eventually(() => (got.alice!.length >= expected.length ? true : undefined), 10_000)
      // Whatever would arrive twice has had time to.
      await new Promise((resolve) => setTimeout(resolve, 500))
      expect(written.length).toBeGreaterThan(30)
      expect(got.alice).toEqual(expected)
      expect(got.bob).toEqual([])
    } finally {
      await server?.close()
    }
  })

  it('delivers the changes committed before its first LISTEN succeeded, once it does (the database refused it at start)', async () => {
    const proxy = await startTcpProxy(Number(new URL(db.url!).port || 5432), new URL(db.url!).hostname)
    proxy.refuse()
    let server: TestApp | undefined
    try {
      server = await startTestApp(db, { REALTIME_LISTEN_URL: proxy.url(db.url!) })
      const client = await rt.userClient(await rt.token({ sub: ALICE, role: 'authenticated', aud: 'authenticated' }), { url: server.url })
      const got: number[] = []
      const channel = client.channel('late-first').on('postgres_changes', { event: 'INSERT', schema: 'public', table: 'ledger' }, (p) => got.push(p.new.id as number))
      await subscribed(channel)
      for (let id = 20_001; id <= 20_005; id++) await db.database.query(`INSERT INTO public.ledger VALUES ($1, '${ALICE}', 0)`, [id])
      await new Promise((resolve) => setTimeout(resolve, 300))
      expect(got).toEqual([])
      proxy.heal()
      await eventually(() => (got.length >= 5 ? true : undefined), 15_000)
      await db.database.query(`INSERT INTO public.ledger VALUES (20006, '${ALICE}', 0)`)
      await eventually(() => (got.length >= 6 ? true : undefined))
      await new Promise((resolve) => setTimeout(resolve, 300))
      expect(got).toEqual([20_001, 20_002, 20_003, 20_004, 20_005, 20_006])
    } finally {
      await server?.close()
      await proxy.close()
    }
  })
})
