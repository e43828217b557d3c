/**
 * Postgres changes through realtime-js: tables opted in with `alter publication supabase_realtime
 * add table`, INSERT/UPDATE/DELETE and `*`, filters, the payload realtime-js reads (typed by its
 * columns), RLS per subscriber with two users, DELETE carrying the key only unless REPLICA IDENTITY
 * FULL, a change past NOTIFY's size limit, order kept, and a table not in the publication refused.
 */
import type { RealtimeChannel } from '@supabase/supabase-js'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeEachDatabase } from '../support/databases.ts'
import { eventually, startRealtime, subscribed, type RealtimeHarness } from './support.ts'

const ALICE = '11111111-1111-1111-1111-111111111111'
const BOB = '22222222-2222-2222-2222-222222222222'

const SCHEMA = `
CREATE TABLE public.todos (id int PRIMARY KEY, owner uuid NOT NULL, title text, done boolean DEFAULT false, created_at timestamptz DEFAULT now());
ALTER TABLE public.todos ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON public.todos FOR SELECT TO authenticated USING (owner = auth.uid());
GRANT SELECT, INSERT, UPDATE, DELETE ON public.todos TO authenticated;
CREATE TABLE public.events (id int PRIMARY KEY, kind text, n int, body text);
GRANT SELECT ON public.events TO anon, authenticated;
ALTER TABLE public.events REPLICA IDENTITY FULL;
CREATE TABLE public.unpublished (id int PRIMARY KEY);
CREATE TABLE public.staff_notes (id int PRIMARY KEY, note text);
REVOKE ALL ON public.staff_notes FROM anon;
GRANT SELECT ON public.staff_notes TO authenticated;
CREATE TABLE public."we""ird; DROP TABLE public.todos; --" ("i""d" int PRIMARY KEY);
GRANT SELECT ON public."we""ird; DROP TABLE public.todos; --" TO anon;
ALTER PUBLICATION supabase_realtime ADD TABLE public.todos, public.events, public.staff_notes, public."we""ird; DROP TABLE public.todos; --";
`

type Payload = Record<string, unknown> & { eventType: string; new: Record<string, unknown>; old: Record<string, unknown> }

function collect(channel: RealtimeChannel, filter: Record<string, string>): Payload[] {
  const got: Payload[] = []
  channel.on('postgres_changes', filter as never, (p) => got.push(p as unknown as Payload))
  return got
}

describeEachDatabase('realtime postgres changes', (db) => {
  let rt: RealtimeHarness
  const user = async (sub: string) => rt.userClient(await rt.token({ sub, role: 'authenticated', aud: 'authenticated' }))
  beforeAll(async () => {
    await db().database.exec(SCHEMA)
    rt = await startRealtime(db())
  })
  afterAll(() => rt?.close())

  it('delivers each subscriber only the rows its JWT may select, with the payload realtime-js expects', async () => {
    const aliceChannel = (await user(ALICE)).channel('todos-a')
    const toAlice = collect(aliceChannel, { event: '*', schema: 'public', table: 'todos' })
    const bobChannel = (await user(BOB)).channel('todos-b')
    const toBob = collect(bobChannel, { event: 'INSERT', schema: 'public', table: 'todos' })
    await Promise.all([subscribed(aliceChannel), subscribed(bobChannel)])

    await db().database.query(`INSERT INTO public.todos (id, owner, title) VALUES (1, $1, 'alice''s'), (2, $2, 'bob''s')`, [ALICE, BOB])
    await db().database.query(`UPDATE public.todos SET done = true WHERE id = 1`)
    // Visibility is judged on the row as it is at delivery: let the update arrive before deleting.
    await eventually(() => (toAlice.length >= 2 ? true : undefined))
    await db().database.query(`DELETE FROM public.todos WHERE id = 1`)

    await eventually(() => (toAlice.length >= 3 ? true : undefined))
    await eventually(() => toBob[0])
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(toAlice.map((p) => p.eventType)).toEqual(['INSERT', 'UPDATE', 'DELETE'])
    expect(toAlice[0]).toMatchObject({ schema: 'public', table: 'todos', eventType: 'INSERT', new: { id: 1, owner: ALICE, title: "alice's", done: false }, old: {}, errors: null })
    expect(typeof toAlice[0]!.commit_timestamp).toBe('string')
    expect(toAlice[1]).toMatchObject({ eventType: 'UPDATE', new: { id: 1, done: true }, old: { id: 1 } })
    // Not REPLICA IDENTITY FULL: a DELETE names the key only.
    expect(toAlice[2]).toMatchObject({ eventType: 'DELETE', new: {}, old: { id: 1 } })
    expect(Object.keys(toAlice[2]!.old)).toEqual(['id'])
    expect(toBob.map((p) => p.new.id)).toEqual([2])
  })

  it('sends no change of a table without RLS to a role that may not SELECT it, deletes included', async () => {
    const anonChannel = rt.client().channel('notes-anon')
    const toAnon = collect(anonChannel, { event: '*', schema: 'public', table: 'staff_notes' })
    const aliceChannel = (await user(ALICE)).channel('notes-alice')
    const toAlice = collect(aliceChannel, { event: '*', schema: 'public', table: 'staff_notes' })
    await Promise.all([subscribed(anonChannel), subscribed(aliceChannel)])
    await db().database.query(`INSERT INTO public.staff_notes VALUES (1, 'private')`)
    await eventually(() => toAlice[0])
    await db().database.query(`DELETE FROM public.staff_notes WHERE id = 1`)
    await eventually(() => (toAlice.length >= 2 ? true : undefined))
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(toAlice.map((p) => p.eventType)).toEqual(['INSERT', 'DELETE'])
    expect(toAlice[0]!.new).toEqual({ id: 1, note: 'private' })
    expect(toAnon).toEqual([])
  })

  it('judges a burst of changes row by row for each user (checks batched), in commit order', async () => {
    const aliceChannel = (await user(ALICE)).channel('burst-a')
    const toAlice = collect(aliceChannel, { event: 'INSERT', schema: 'public', table: 'todos' })
    const bobChannel = (await user(BOB)).channel('burst-b')
    const toBob = collect(bobChannel, { event: 'INSERT', schema: 'public', table: 'todos' })
    await Promise.all([subscribed(aliceChannel), subscribed(bobChannel)])
    // One statement, then a few more at once: the notifications arrive together and are checked together.
    await db().database.query(`INSERT INTO public.todos (id, owner, title) SELECT i, CASE WHEN i % 3 = 0 THEN $1::uuid ELSE $2::uuid END, 'burst' FROM generate_series(100, 159) i`, [ALICE, BOB])
    await Promise.all([160, 161, 162].map((id) => db().database.query(`INSERT INTO public.todos (id, owner, title) VALUES ($1, $2, 'burst')`, [id, ALICE])))
    const aliceIds = [...Array.from({ length: 60 }, (_, k) => 100 + k).filter((i) => i % 3 === 0), 160, 161, 162]
    const bobIds = Array.from({ length: 60 }, (_, k) => 100 + k).filter((i) => i % 3 !== 0)
    await eventually(() => (toAlice.length >= aliceIds.length && toBob.length >= bobIds.length ? true : undefined))
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(toAlice.slice(0, 20).map((p) => p.new.id)).toEqual(aliceIds.slice(0, 20))
    expect(toAlice.map((p) => p.new.id).sort()).toEqual(aliceIds)
    expect(toBob.map((p) => p.new.id)).toEqual(bobIds)
    await db().database.query(`DELETE FROM public.todos WHERE title = 'burst'`)
  })

  it('applies filters, keeps order, carries full old rows with REPLICA IDENTITY FULL and large rows', async () => {
    const channel = rt.client().channel('events')
    const filtered = collect(channel, { event: 'INSERT', schema: 'public', table: 'events', filter: 'kind=eq.keep' })
    const ranged = collect(channel, { event: 'INSERT', schema: 'public', table: 'events', filter: 'n=gte.5' })
    const listed = collect(channel, { event: 'INSERT', schema: 'public', table: 'events', filter: 'kind=in.(a,"b,c")' })
    const deletes = collect(channel, { event: 'DELETE', schema: 'public', table: 'events' })
    await subscribed(channel)
    for (let i = 1; i <= 10; i++) await db().database.query(`INSERT INTO public.events (id, kind, n) VALUES ($1, $2, $1)`, [i, i % 2 ? 'keep' : i === 4 ? 'b,c' : 'drop'])
    const big = 'z'.repeat(12_000)
    await db().database.query(`INSERT INTO public.events (id, kind, n, body) VALUES (11, 'keep', 0, $1)`, [big])
    await db().database.query(`DELETE FROM public.events WHERE id = 2`)
    await eventually(() => (filtered.length >= 6 && deletes.length >= 1 ? true : undefined))
    expect(filtered.map((p) => p.new.id)).toEqual([1, 3, 5, 7, 9, 11])
    expect(filtered.at(-1)!.new.body).toBe(big)
    expect(ranged.map((p) => p.new.id)).toEqual([5, 6, 7, 8, 9, 10])
    expect(listed.map((p) => p.new.id)).toEqual([4])
    expect(deletes[0]!.old).toEqual({ id: 2, kind: 'drop', n: 2, body: null })
  })

  it('captures a table whose name and columns are hostile SQL, quoting them', async () => {
    const table = 'we"ird; DROP TABLE public.todos; --'
    const channel = rt.client().channel('weird')
    const got = collect(channel, { event: '*', schema: 'public', table, filter: 'i"d=eq.7' })
    await subscribed(channel)
    await db().database.query(`INSERT INTO public."we""ird; DROP TABLE public.todos; --" VALUES (6), (7)`)
    expect((await eventually(() => got[0])).new).toEqual({ 'i"d': 7 })
    const { rows } = await db().database.query(`SELECT to_regclass('public.todos') IS NOT NULL AS present`)
    expect(rows[0]).toEqual({ present: true })
  })

  it('refuses a table that is not in the publication with a system message, as Realtime does', async () => {
    const system: Array<Record<string, unknown>> = []
    const channel = rt.client().channel('unpublished')
    collect(channel, { event: '*', schema: 'public', table: 'unpublished' })
    channel.on('system', {}, (m) => system.push(m))
    await subscribed(channel)
    const message = await eventually(() => system.find((m) => m.extension === 'postgres_changes'))
    expect(message).toMatchObject({ status: 'error' })
    expect(String(message.message)).toMatch(/^Unable to subscribe to changes with given parameters/)
  })
})
