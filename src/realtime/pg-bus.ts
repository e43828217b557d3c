/**
 * The bus between processes serving one PostgreSQL database: LISTEN/NOTIFY on the channel
 * `resolution_realtime`, on the server's one Realtime LISTEN connection (notifications.ts, over
 * db/listener.ts: heartbeat, reconnect). Publishing goes through the pool, one statement at a time so events
 * keep their order; events published meanwhile go together in the next statement.
 *
 * NOTIFY payloads stop at 8000 bytes: a larger event is cut into parts sent by the same
 * statement. PostgreSQL delivers one transaction's notifications together and in order, so the
 * receiver reassembles them without a table to clean up. Each part carries the node and a
 * sequence number, which also keeps PostgreSQL from folding equal payloads into one.
 * @module
 */
import type { Services } from '../services.ts'
import type { Bus, BusEnvelope, BusEvent } from './bus.ts'
import type { Notifications } from './notifications.ts'

export const BUS_CHANNEL = 'resolution_realtime'
/** Characters of event JSON per NOTIFY, well under the 8000-byte limit once wrapped and UTF-8 encoded. */
const PART_CHARS = 1800
const REASSEMBLY_MS = 30_000

interface Part {
  /** node, sequence, part index, part count, data */
  n: string
  s: number
  i: number
  c: number
  d: string
}

export function splitEvent(node: string, seq: number, event: BusEvent): string[] {
  const json = JSON.stringify(event)
  const count = Math.max(1, Math.ceil(json.length / PART_CHARS))
  const parts: string[] = []
  for (let i = 0; i < count; i++) parts.push(JSON.stringify({ n: node, s: seq, i, c: count, d: json.slice(i * PART_CHARS, (i + 1) * PART_CHARS) } satisfies Part))
  return parts
}

/** Joins parts back into envelopes; an event whose parts never all arrive is dropped after a while. */
export class Reassembler {
  readonly #pending = new Map<string, { parts: string[]; got: number; since: number }>()

  add(raw: string): BusEnvelope | undefined {
    const part = JSON.parse(raw) as Part
    if (part.c === 1) return { node: part.n, event: JSON.parse(part.d) as BusEvent }
    const key = `${part.n}:${part.s}`
    let entry = this.#pending.get(key)
    if (!entry) this.#pending.set(key, (entry = { parts: new Array<string>(part.c), got: 0, since: Date.now() }))
    if (entry.parts[part.i] === undefined) entry.got++
    entry.parts[part.i] = part.d
    if (entry.got < part.c) return this.#sweep()
    this.#pending.delete(key)
    return { node: part.n, event: JSON.parse(entry.parts.join('')) as BusEvent }
  }

  #sweep(): undefined {
    const now = Date.now()
    for (const [key, entry] of this.#pending) if (now - entry.since > REASSEMBLY_MS) this.#pending.delete(key)
    return undefined
  }
}

export function createPgBus(services: Services, notifications: Notifications): Bus {
  let seq = 0
  let queue: string[] = []
  let flushing = false
  let stopListening: (() => void) | undefined

  const flush = async () => {
    if (flushing || queue.length === 0) return
    flushing = true
    const batch = queue
    queue = []
    try {
      const database = await services.database()
      await database.query('SELECT pg_notify($1, part) FROM unnest($2::text[]) AS t(part)', [BUS_CHANNEL, batch])
    } catch (error) {
      // The database is away: these events are lost to other nodes (local members had them).
      services.logger.warn({ err: error, events: batch.length }, 'realtime: publishing to other servers failed')
    } finally {
      flushing = false
      if (queue.length > 0) void flush()
    }
  }

  return {
    publish({ node, event }) {
      queue.push(...splitEvent(node, seq++, event))
      void flush()
    },
    async start({ onEvent, onReady }) {
      if (stopListening) return
      const reassembler = new Reassembler()
      const unlisten = await notifications.listen(BUS_CHANNEL, (payload) => {
        try {
          const envelope = reassembler.add(payload)
          if (envelope) onEvent(envelope)
        } catch (error) {
          services.logger.warn({ err: error }, 'realtime: unreadable bus message')
        }
      })
      // Events sent while disconnected are lost; presence is resynced from every node.
      const noReconnects = notifications.onReconnect(onReady)
      stopListening = () => {
        unlisten()
        noReconnects()
      }
      onReady()
    },
    stop() {
      stopListening?.()
      stopListening = undefined
    },
  }
}
