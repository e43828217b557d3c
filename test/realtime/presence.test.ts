/**
 * Presence through realtime-js: track/untrack, join/leave/sync events, keys, the state a late
 * joiner receives, updates replacing a meta, and leaving when a client disconnects.
 */
import type { RealtimeChannel } from '@supabase/supabase-js'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeEachDatabase } from '../support/databases.ts'
import { eventually, startRealtime, subscribed, type RealtimeHarness } from './support.ts'

interface Seen {
  joins: Array<{ key: string; newPresences: Array<Record<string, unknown>> }>
  leaves: Array<{ key: string; leftPresences: Array<Record<string, unknown>> }>
}

function watch(channel: RealtimeChannel): Seen {
  const seen: Seen = { joins: [], leaves: [] }
  channel.on('presence', { event: 'join' }, (e) => seen.joins.push(e as never))
  channel.on('presence', { event: 'leave' }, (e) => seen.leaves.push(e as never))
  return seen
}

/** The presence state by key with presence_ref dropped, for comparing. */
function state(channel: RealtimeChannel): Record<string, Array<Record<string, unknown>>> {
  const out: Record<string, Array<Record<string, unknown>>> = {}
  for (const [key, metas] of Object.entries(channel.presenceState())) out[key] = metas.map(({ presence_ref: _ref, ...meta }) => meta)
  return out
}

describeEachDatabase('realtime presence', (db) => {
  let rt: RealtimeHarness
  beforeAll(async () => {
    rt = await startRealtime(db())
  })
  afterAll(() => rt?.close())

  for (const vsn of ['1.0.0', '2.0.0'] as const) {
    it(`tracks, updates, untracks and leaves on disconnect (vsn ${vsn})`, async () => {
      const topic = `lobby-${vsn}`
      const alice = rt.client({ vsn }).channel(topic, { config: { presence: { key: 'alice' } } })
      const bobClient = rt.client({ vsn })
      const bob = bobClient.channel(topic, { config: { presence: { key: 'bob' } } })
      const seenByAlice = watch(alice)
      const seenByBob = watch(bob)
      await Promise.all([subscribed(alice), subscribed(bob)])

      expect(await alice.track({ status: 'online' })).toBe('ok')
      await eventually(() => seenByBob.joins.find((j) => j.key === 'alice'))
      expect(state(bob)).toEqual({ alice: [{ status: 'online' }] })
      expect(await bob.track({ status: 'away' })).toBe('ok')
      await eventually(() => (state(alice).bob ? true : undefined))
      expect(state(alice)).toEqual({ alice: [{ status: 'online' }], bob: [{ status: 'away' }] })

      // A second track replaces the meta: one entry per channel, never two.
      await alice.track({ status: 'busy' })
      await eventually(() => (state(bob).alice?.[0]?.status === 'busy' ? true : undefined))
      expect(state(bob).alice).toHaveLength(1)

      // A late joiner gets the whole state at once.
      const carol = rt.client({ vsn }).channel(topic, { config: { presence: { key: 'carol', enabled: true } } })
      await subscribed(carol)
      await eventually(() => (Object.keys(state(carol)).length === 2 ? true : undefined))
      expect(state(carol)).toEqual({ alice: [{ status: 'busy' }], bob: [{ status: 'away' }] })

      expect(await alice.untrack()).toBe('ok')
      await eventually(() => (state(bob).alice ? undefined : true))
      expect(Object.keys(state(bob))).toEqual(['bob'])
      expect(seenByBob.leaves.filter((l) => l.key === 'alice').at(-1)!.leftPresences[0]).toMatchObject({ status: 'busy' })

      await bobClient.realtime.disconnect()
      await eventually(() => seenByAlice.leaves.find((l) => l.key === 'bob'))
      await eventually(() => (Object.keys(state(carol)).length === 0 ? true : undefined))
    })
  }

  it('refuses a track payload that is not a map', async () => {
    const channel = rt.client().channel('typed', { config: { presence: { key: 'k' } } })
    await subscribed(channel)
    expect(await channel.send({ type: 'presence', event: 'track', payload: [1, 2] })).toBe('error')
  })
})
