/**
 * How the processes serving one database hear each other's broadcasts and presence. The hub
 * publishes every event it makes; the bus delivers what other processes (nodes) published.
 * On the embedded database there is one process, so the bus is local and carries nothing; on a
 * server database it is PostgreSQL's LISTEN/NOTIFY (pg-bus.ts).
 * @module
 */
import type { PresenceEntry } from './presence.ts'
import type { UserBroadcast } from './protocol.ts'

/** A topic as subscribers name it (`realtime:room`) and the stream it is in (public or private). */
export interface Topic {
  /** `public:room` or `private:room`: a private channel and a public one of one name are apart. */
  key: string
  /** The Phoenix topic, `realtime:room`. */
  name: string
}

/** A broadcast body in JSON form (user broadcast bytes as base64). */
export type WireBody = { form: 'map'; payload: Record<string, unknown> } | ({ form: 'user'; base64: string } & Omit<UserBroadcast, 'bytes'>)

export type BusEvent =
  | { kind: 'broadcast'; topic: Topic; body: WireBody }
  | { kind: 'presence'; topic: Topic; joins: PresenceEntry[]; leaves: PresenceEntry[] }
  /** A node (re)joined the bus: every other node answers with a snapshot of its presences. */
  | { kind: 'hello' }
  /** A node's whole presence, for one node (`to`: its id) or for all (`*`, after a reconnect). */
  | { kind: 'snapshot'; to: string; topics: Array<{ topic: Topic; entries: PresenceEntry[] }> }
  /** A node is still there; one silent for long is presumed dead and its presences leave. */
  | { kind: 'alive' }

export interface BusEnvelope {
  node: string
  event: BusEvent
}

export interface Bus {
  /** Sends to the other nodes, in the order published. */
  publish(envelope: BusEnvelope): void
  /** Starts delivering other nodes' events (resolves once listening); `onReady` runs after every (re)connect. */
  start(handlers: { onEvent(envelope: BusEnvelope): void; onReady(): void }): Promise<void>
  stop(): void
}

/** One process: nothing to tell anyone. */
export const localBus: Bus = {
  publish() {},
  start: () => Promise.resolve(),
  stop() {},
}
