/**
 * The bus's NOTIFY parts: every part fits NOTIFY's 8000-byte limit whatever the text (quotes,
 * CJK, emoji cut between surrogates), and parts reassemble to the event, in any order.
 */
import { describe, expect, it } from 'vitest'
import { Reassembler, splitEvent } from '../../src/realtime/pg-bus.ts'
import type { BusEvent } from '../../src/realtime/bus.ts'

describe('realtime bus parts', () => {
  it('fit NOTIFY and reassemble', () => {
    const text = '"\\\u0001é漢🙂'.repeat(3000)
    const event: BusEvent = { kind: 'broadcast', topic: { key: 'public:t', name: 'realtime:t' }, body: { form: 'map', payload: { text } } }
    const parts = splitEvent('node-a', 7, event)
    expect(parts.length).toBeGreaterThan(10)
    for (const part of parts) expect(Buffer.byteLength(part)).toBeLessThan(8000)
    const reassembler = new Reassembler()
    const shuffled = [...parts.slice(1), parts[0]!]
    const results = shuffled.map((part) => reassembler.add(part)).filter(Boolean)
    expect(results).toEqual([{ node: 'node-a', event }])
    // Equal events from one node still differ on the wire (PostgreSQL folds equal payloads).
    expect(splitEvent('node-a', 8, { kind: 'alive' })).not.toEqual(splitEvent('node-a', 9, { kind: 'alive' }))
  })
})
