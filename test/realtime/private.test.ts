/**
 * Private channels authorized by RLS policies on realtime.messages (realtime.topic(), extension),
 * broadcasts from SQL (realtime.send, realtime.broadcast_changes in a trigger, a payload past
 * NOTIFY's 8000 bytes), and private HTTP broadcasts, with three users: a writer, a reader, and one
 * the policies do not know.
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeEachDatabase } from '../support/databases.ts'
import { eventually, startRealtime, subscribed, type RealtimeHarness } from './support.ts'

const ALICE = '11111111-1111-1111-1111-111111111111'
const BOB = '22222222-2222-2222-2222-222222222222'
const EVE = '33333333-3333-3333-3333-333333333333'

const POLICIES = `
CREATE TABLE public.room_members (user_id uuid, topic text, can_write boolean);
GRANT SELECT ON public.room_members TO authenticated;
INSERT INTO public.room_members VALUES ('${ALICE}', 'secret', true), ('${BOB}', 'secret', false);
CREATE POLICY members_read ON realtime.messages FOR SELECT TO authenticated USING (
  extension IN ('broadcast', 'presence')
  AND EXISTS (SELECT FROM public.room_members m WHERE m.user_id = auth.uid() AND m.topic = realtime.topic()));
CREATE POLICY writers_write ON realtime.messages FOR INSERT TO authenticated WITH CHECK (
  EXISTS (SELECT FROM public.room_members m WHERE m.user_id = auth.uid() AND m.topic = realtime.topic() AND m.can_write));
CREATE TABLE public.notes (id int PRIMARY KEY, body text);
CREATE FUNCTION public.notes_broadcast() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
BEGIN
  PERFORM realtime.broadcast_changes('secret', TG_OP, TG_OP, TG_TABLE_NAME, TG_TABLE_SCHEMA, NEW, OLD);
  RETURN NULL;
END $$;
CREATE TRIGGER notes_broadcast AFTER INSERT OR UPDATE OR DELETE ON public.notes FOR EACH ROW EXECUTE FUNCTION public.notes_broadcast();
`

describeEachDatabase('realtime private channels and SQL broadcasts', (db) => {
  let rt: RealtimeHarness
  const user = async (sub: string) => rt.userClient(await rt.token({ sub, role: 'authenticated', aud: 'authenticated' }))
  beforeAll(async () => {
    await db().database.exec(POLICIES)
    rt = await startRealtime(db())
  })
  afterAll(() => rt?.close())

  it('lets in whom the policies let read, and carries broadcasts only from those who may write', async () => {
    const eve = (await user(EVE)).channel('secret', { config: { private: true } })
    await expect(subscribed(eve)).rejects.toThrow('Unauthorized: You do not have permissions to read from this Channel topic: secret')

    const toAlice: Array<Record<string, unknown>> = []
    const toBob: Array<Record<string, unknown>> = []
    const toPublic: unknown[] = []
    const alice = (await user(ALICE)).channel('secret', { config: { private: true } }).on('broadcast', { event: '*' }, (m) => toAlice.push(m))
    const bob = (await user(BOB)).channel('secret', { config: { private: true } }).on('broadcast', { event: '*' }, (m) => toBob.push(m))
    const outsider = rt.client().channel('secret').on('broadcast', { event: '*' }, (m) => toPublic.push(m))
    await Promise.all([subscribed(alice), subscribed(bob), subscribed(outsider)])

    await alice.send({ type: 'broadcast', event: 'hello', payload: { from: 'alice' } })
    expect(await eventually(() => toBob.find((m) => m.event === 'hello'))).toMatchObject({ payload: { from: 'alice' } })
    await bob.send({ type: 'broadcast', event: 'sneaky', payload: {} })

    await db().database.query(`SELECT realtime.send('{"n": 1}'::jsonb, 'from-sql', 'secret', true)`)
    const fromSql = await eventually(() => toAlice.find((m) => m.event === 'from-sql'))
    expect(fromSql).toMatchObject({ payload: { n: 1 } })
    expect((fromSql.payload as { id: string }).id).toMatch(/^[0-9a-f-]{36}$/)

    await db().database.query(`INSERT INTO public.notes VALUES (1, 'first')`)
    const change = await eventually(() => toBob.find((m) => m.event === 'INSERT'))
    expect(change.payload).toMatchObject({ operation: 'INSERT', table: 'notes', schema: 'public', record: { id: 1, body: 'first' }, old_record: null })

    const big = 'y'.repeat(20_000)
    await db().database.query(`SELECT realtime.send(jsonb_build_object('big', $1::text), 'big', 'secret', true)`, [big])
    expect((await eventually(() => toAlice.find((m) => m.event === 'big'))).payload).toMatchObject({ big })

    await db().database.query(`SELECT realtime.send('{"open": true}'::jsonb, 'public-sql', 'secret', false)`)
    expect(await eventually(() => toPublic[0])).toMatchObject({ event: 'public-sql', payload: { open: true } })
    await new Promise((resolve) => setTimeout(resolve, 150))
    expect(toAlice.find((m) => m.event === 'sneaky')).toBeUndefined()
    expect(toAlice.find((m) => m.event === 'public-sql')).toBeUndefined()
    expect(toPublic).toHaveLength(1)
  })

  it('skips private HTTP broadcasts the caller may not write', async () => {
    const got: Array<Record<string, unknown>> = []
    const alice = (await user(ALICE)).channel('secret', { config: { private: true } }).on('broadcast', { event: '*' }, (m) => got.push(m))
    await subscribed(alice)
    const post = async (sub: string, event: string) =>
      fetch(`${rt.app.url}/realtime/v1/api/broadcast`, {
        method: 'POST',
        headers: { apikey: rt.app.anonKey, authorization: `Bearer ${await rt.token({ sub, role: 'authenticated' })}`, 'content-type': 'application/json' },
        body: JSON.stringify({ messages: [{ topic: 'secret', event, payload: {}, private: true }] }),
      })
    expect((await post(EVE, 'from-eve')).status).toBe(202)
    expect((await post(ALICE, 'from-alice')).status).toBe(202)
    await eventually(() => got.find((m) => m.event === 'from-alice'))
    expect(got.find((m) => m.event === 'from-eve')).toBeUndefined()
  })
})

describeEachDatabase('realtime.messages retention', (db) => {
  it('prunes messages older than the retention and keeps the rest', async () => {
    const { pruneMessages, MESSAGE_RETENTION_DAYS } = await import('../../src/realtime/db-messages.ts')
    await db().database.query(`INSERT INTO realtime.messages (topic, extension, inserted_at) VALUES ('old', 'broadcast', now() - make_interval(days => $1 + 1)), ('new', 'broadcast', now())`, [MESSAGE_RETENTION_DAYS])
    expect(await pruneMessages(db().database)).toBe(1)
    const { rows } = await db().database.query<{ topic: string }>(`SELECT topic FROM realtime.messages WHERE topic IN ('old', 'new')`)
    expect(rows.map((r) => r.topic)).toEqual(['new'])
  })
})
