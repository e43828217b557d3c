/**
 * Broadcast replay through realtime-js (`broadcast: { replay: { since, limit } }` on a private
 * channel): the topic's stored broadcasts since `since`, newest `limit` (capped at 25) sent oldest
 * first with `meta.replayed` and the id, then live ones; RLS on realtime.messages as the joining
 * user decides which are replayed; Realtime's refusals for bad parameters, public channels and a
 * joiner without broadcast read.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { localBus } from '../../src/realtime/bus.ts'
import { Channel, parseJoinConfig, type ChannelContext } from '../../src/realtime/channel.ts'
import { Hub, timingsFor, topicOf } from '../../src/realtime/hub.ts'
import type { OutboundMessage } from '../../src/realtime/protocol.ts'
import { describeEachDatabase } from '../support/databases.ts'
import { eventually, startRealtime, subscribed, type RealtimeHarness } from './support.ts'

const ALICE = '11111111-1111-1111-1111-111111111111'
const BOB = '22222222-2222-2222-2222-222222222222'
const PRESENCE_ONLY = '44444444-4444-4444-4444-444444444444'

// Members read the room's messages; Bob does not see the ones marked hidden. PRESENCE_ONLY may read presence only.
const POLICIES = `
CREATE TABLE public.replay_members (user_id uuid, topic text);
GRANT SELECT ON public.replay_members TO authenticated;
INSERT INTO public.replay_members VALUES ('${ALICE}', 'replay-room'), ('${BOB}', 'replay-room'), ('${ALICE}', 'other-room');
CREATE POLICY replay_read ON realtime.messages FOR SELECT TO authenticated USING (
  EXISTS (SELECT FROM public.replay_members m WHERE m.user_id = auth.uid() AND m.topic = realtime.topic())
  AND (coalesce(payload->>'hidden', '') <> 'true' OR auth.uid() = '${ALICE}'::uuid));
CREATE POLICY replay_presence_read ON realtime.messages FOR SELECT TO authenticated USING (
  extension = 'presence' AND auth.uid() = '${PRESENCE_ONLY}'::uuid);
`

type Message = { event: string; payload: Record<string, unknown>; meta?: { replayed?: boolean; id?: string } }

describeEachDatabase('realtime broadcast replay', (db) => {
  let rt: RealtimeHarness
  const user = async (sub: string) => rt.userClient(await rt.token({ sub, role: 'authenticated', aud: 'authenticated' }))
  /** The database's clock, ms since the epoch (the rows' inserted_at come from it). */
  const dbNow = async () => Number((await db().database.query<{ ms: string }>(`SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint::text AS ms`)).rows[0]!.ms)
  const send = (n: number, extra = '', topic = 'replay-room', isPrivate = true) =>
    db().database.query(`SELECT realtime.send(jsonb_build_object('n', ${n}${extra}), 'e${n}', '${topic}', ${isPrivate})`)
  const join = async (sub: string, replay: Record<string, unknown>, topic = 'replay-room') => {
    const got: Message[] = []
    const channel = (await user(sub)).channel(topic, { config: { private: true, broadcast: { replay: replay as never } } }).on('broadcast', { event: '*' }, (m) => got.push(m as unknown as Message))
    return { channel, got }
  }
  let start = 0
  let middle = 0

  beforeAll(async () => {
    await db().database.exec(POLICIES)
    rt = await startRealtime(db())
    start = await dbNow()
    // Replay orders by inserted_at (as Realtime): the embedded clock counts whole milliseconds.
    for (let n = 1; n <= 28; n++) {
      await send(n)
      await new Promise((resolve) => setTimeout(resolve, 2))
    }
    await new Promise((resolve) => setTimeout(resolve, 30))
    middle = await dbNow()
    await new Promise((resolve) => setTimeout(resolve, 30))
    await send(29, `, 'hidden', true`)
    await new Promise((resolve) => setTimeout(resolve, 2))
    await send(30)
    // Not replayed into replay-room: a public message of the same name, another topic.
    await send(99, '', 'replay-room', false)
    await send(98, '', 'other-room')
  })
  afterAll(() => rt?.close())

  it('replays the newest stored broadcasts since `since`, oldest first, capped at 25, then live ones once', async () => {
    const { channel, got } = await join(ALICE, { since: start, limit: 100 })
    await subscribed(channel)
    await eventually(() => (got.length >= 25 ? true : undefined))
    expect(got.map((m) => m.payload.n)).toEqual(Array.from({ length: 25 }, (_, i) => i + 6))
    expect(got[0]).toMatchObject({ event: 'e6', meta: { replayed: true } })
    expect(got.every((m) => m.meta?.replayed === true && typeof m.meta.id === 'string')).toBe(true)
    expect(new Set(got.map((m) => m.meta!.id)).size).toBe(25)

    await send(31)
    await eventually(() => got.find((m) => m.payload.n === 31))
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(got).toHaveLength(26)
    expect(got[25]!.meta?.replayed).toBeUndefined()
    await channel.unsubscribe()
  })

  it('honours `limit` and `since`, and replays only what RLS lets the joining user read', async () => {
    const few = await join(ALICE, { since: start, limit: 3 })
    await subscribed(few.channel)
    await eventually(() => (few.got.length >= 3 ? true : undefined))
    // The three newest (31 came from the previous test), oldest first.
    expect(few.got.map((m) => m.payload.n)).toEqual([29, 30, 31])

    const sinceMiddle = await join(ALICE, { since: middle })
    await subscribed(sinceMiddle.channel)
    await eventually(() => (sinceMiddle.got.length >= 2 ? true : undefined))
    expect(sinceMiddle.got.map((m) => m.payload.n).slice(0, 2)).toEqual([29, 30])

    const bob = await join(BOB, { since: middle })
    await subscribed(bob.channel)
    await eventually(() => (bob.got.length >= 1 ? true : undefined))
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(bob.got.map((m) => m.payload.n)).not.toContain(29)
    expect(bob.got[0]!.payload.n).toBe(30)

    const nothing = await join(ALICE, { since: (await dbNow()) + 60_000 })
    await subscribed(nothing.channel)
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(nothing.got).toEqual([])
  })

  it('refuses bad parameters, a joiner who may not read broadcasts, and public channels, in Realtime words', async () => {
    for (const bad of [{ since: 'yesterday' }, { limit: 5 }, { since: 1, limit: 1.5 }, { since: 1e20 }]) {
      const { channel } = await join(ALICE, bad)
      await expect(subscribed(channel), JSON.stringify(bad)).rejects.toThrow('UnableToReplayMessages: Replay params are not valid')
    }
    const { channel } = await join(PRESENCE_ONLY, { since: 0 })
    await expect(subscribed(channel)).rejects.toThrow('Unauthorized: You do not have permissions to read from this Channel topic: replay-room')

    // realtime-js refuses replay on a public channel itself; another client reaches the server.
    const url = `${rt.app.url.replace(/^http/, 'ws')}/realtime/v1/websocket?apikey=${rt.app.anonKey}&vsn=1.0.0`
    const ws = new WebSocket(url)
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject))
    const reply = new Promise<Record<string, unknown>>((resolve) => ws.on('message', (data) => resolve(JSON.parse(String(data)) as Record<string, unknown>)))
    ws.send(JSON.stringify({ topic: 'realtime:replay-room', event: 'phx_join', ref: '1', join_ref: '1', payload: { config: { broadcast: { replay: { since: 0 } } } } }))
    expect(await reply).toMatchObject({ event: 'phx_reply', payload: { status: 'error', response: { reason: 'UnableToReplayMessages: Replay is not allowed for public channels' } } })
    ws.close()
  })
})

describe('a replayed message arriving live', () => {
  it('is not sent twice; other stored messages and plain broadcasts are', () => {
    const hub = new Hub(localBus, timingsFor(35))
    const pushed: OutboundMessage[] = []
    const delivered: string[] = []
    const ctx = {
      hub,
      jwt: undefined as never,
      changes: { subscribe() {}, unsubscribe() {} } as never,
      socketId: 'socket',
      vsn: '1.0.0',
      send: (message: OutboundMessage) => pushed.push(message),
      deliver: (frame: string | Uint8Array) => delivered.push(String(frame)),
      authorize: async () => ({ broadcast: { read: true, write: true }, presence: { read: true, write: true } }),
    } satisfies ChannelContext
    const topic = topicOf('room', true)
    const all = { read: true, write: true }
    const channel = new Channel(ctx, topic, 'room', '1', parseJoinConfig({ config: { private: true } }), { claims: {}, token: '', expiresAtMs: Date.now() + 3_600_000, policies: { broadcast: all, presence: all } })
    channel.open([])
    channel.replay([{ id: 'stored-1', event: 'e', payload: { n: 1 } }])
    expect(pushed).toMatchObject([{ event: 'broadcast', payload: { event: 'e', payload: { n: 1 }, meta: { replayed: true, id: 'stored-1' } } }])
    const live = (id?: string) => ({ form: 'map' as const, payload: { type: 'broadcast', event: 'e', payload: { id }, ...(id ? { meta: { id } } : {}) } })
    hub.deliverLocal(topic, live('stored-1'))
    hub.deliverLocal(topic, live('stored-2'))
    hub.deliverLocal(topic, live())
    expect(delivered).toHaveLength(2)
    expect(delivered[0]).toContain('stored-2')
    channel.leave()
  })
})
