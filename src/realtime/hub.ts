/**
 * The process's channels: who is subscribed to which topic, presence, and fan-out. A broadcast
 * or presence change made here reaches local members at once and other nodes through the bus;
 * what other nodes publish arrives through the bus and reaches local members. Each frame is
 * encoded once per protocol version, whatever the number of subscribers.
 * @module
 */
import { randomUUID } from 'node:crypto'
import type { Bus, BusEnvelope, BusEvent, Topic, WireBody } from './bus.ts'
import { diffOf, presenceRef, PresenceTable, type Meta, type PresenceDiff, type PresenceEntry, type PresenceState } from './presence.ts'
import { encodeBroadcast, encodeMessage, type BroadcastBody, type Vsn } from './protocol.ts'

/** A joined channel, as the hub sees it. */
export interface Member {
  /** `node/socket:join_ref`, unique across nodes: presence entries are owned by it. */
  readonly id: string
  readonly vsn: Vsn
  readonly selfBroadcast: boolean
  presenceEnabled: boolean
  /** `messageId`: a stored message's id (from SQL), which a channel that replayed it skips. */
  deliver(frame: string | Uint8Array, extension?: 'broadcast' | 'presence', messageId?: string): void
}

/** How often a node says it lives, and how long one may stay silent before its presences are dropped. */
export interface HubTimings {
  aliveMs: number
  deadMs: number
}
const DEFAULT_TIMINGS: HubTimings = timingsFor(35)

/** A node says it lives every third of the dead timeout (at most every 10 s), so one lost beacon is no death. */
export function timingsFor(deadSeconds: number): HubTimings {
  const deadMs = deadSeconds * 1000
  return { aliveMs: Math.min(10_000, Math.floor(deadMs / 3)), deadMs }
}

export function toWire(body: BroadcastBody): WireBody {
  if (body.form === 'map') return body
  return { form: 'user', event: body.event, encoding: body.encoding, base64: Buffer.from(body.bytes).toString('base64'), ...(body.meta ? { meta: body.meta } : {}) }
}

function fromWire(body: WireBody): BroadcastBody {
  if (body.form === 'map') return body
  return { form: 'user', event: body.event, encoding: body.encoding, bytes: new Uint8Array(Buffer.from(body.base64, 'base64')), ...(body.meta ? { meta: body.meta } : {}) }
}

export class Hub {
  readonly node = randomUUID()
  readonly presence = new PresenceTable()
  readonly #topics = new Map<string, Set<Member>>()
  readonly #seen = new Map<string, number>()
  #timer: NodeJS.Timeout | undefined
  #started: Promise<void> | undefined

  constructor(
    private readonly bus: Bus,
    private readonly timings: HubTimings = DEFAULT_TIMINGS,
  ) {}

  /** Starts hearing other nodes (once; at once on the local bus); resolves when listening. */
  start(): Promise<void> {
    if (this.#started) return this.#started
    this.#timer = setInterval(() => this.#tick(), this.timings.aliveMs)
    this.#timer.unref()
    return (this.#started = this.bus.start({ onEvent: (envelope) => this.#fromBus(envelope), onReady: () => this.#announce() }))
  }

  /**
   * After (re)connecting: ask the others for their presences, and give them ours (they may have
   * dropped it while this node was silent).
   */
  #announce(): void {
    this.#publish({ kind: 'hello' })
    this.#publish({ kind: 'snapshot', to: '*', topics: this.#localSnapshot() })
  }

  stop(): void {
    clearInterval(this.#timer)
    this.bus.stop()
  }

  subscribe(topic: Topic, member: Member): void {
    let members = this.#topics.get(topic.key)
    if (!members) this.#topics.set(topic.key, (members = new Set()))
    members.add(member)
  }

  /** Removes the member and its presence (a leave, a closed socket). */
  unsubscribe(topic: Topic, member: Member): void {
    const members = this.#topics.get(topic.key)
    members?.delete(member)
    if (members?.size === 0) this.#topics.delete(topic.key)
    this.untrack(topic, member)
  }

  subscribers(topic: Topic): number {
    return this.#topics.get(topic.key)?.size ?? 0
  }

  /** A broadcast this process received: to its members, and through the bus to the others. */
  broadcast(topic: Topic, body: BroadcastBody, from?: Member): void {
    this.#deliverBroadcast(topic, body, from)
    this.#publish({ kind: 'broadcast', topic, body: toWire(body) })
  }

  /** A broadcast every process receives by itself (a message from SQL): to local members only. */
  deliverLocal(topic: Topic, body: BroadcastBody): void {
    this.#deliverBroadcast(topic, body)
  }

  track(topic: Topic, member: Member, key: string, payload: Record<string, unknown>): void {
    const meta: Meta = { ...payload, phx_ref: presenceRef() }
    const entry: PresenceEntry = { owner: member.id, key, meta }
    const previous = this.presence.set(topic.key, entry)
    if (previous) meta.phx_ref_prev = previous.meta.phx_ref
    this.#presenceChanged(topic, [entry], previous ? [previous] : [])
  }

  untrack(topic: Topic, member: Member): void {
    const previous = this.presence.remove(topic.key, member.id)
    if (previous) this.#presenceChanged(topic, [], [previous])
  }

  presenceState(topic: Topic): PresenceState {
    return this.presence.state(topic.key)
  }

  #presenceChanged(topic: Topic, joins: PresenceEntry[], leaves: PresenceEntry[]): void {
    this.#deliverDiff(topic, diffOf(joins, leaves))
    this.#publish({ kind: 'presence', topic, joins, leaves })
  }

  #deliverBroadcast(topic: Topic, body: BroadcastBody, from?: Member): void {
    const members = this.#topics.get(topic.key)
    if (!members) return
    const frames = new Map<Vsn, string | Uint8Array | undefined>()
    const meta = body.form === 'map' ? body.payload.meta : body.meta
    const messageId = typeof meta === 'object' && meta !== null && typeof (meta as { id?: unknown }).id === 'string' ? (meta as { id: string }).id : undefined
    for (const member of members) {
      if (member === from && !member.selfBroadcast) continue
      if (!frames.has(member.vsn)) frames.set(member.vsn, encodeBroadcast(member.vsn, topic.name, body))
      const frame = frames.get(member.vsn)
      if (frame !== undefined) member.deliver(frame, 'broadcast', messageId)
    }
  }

  /**
   * A diff that both joins and leaves (a re-track) goes out as two, leaves first: realtime-js's
   * join handler strips `phx_ref` from the metas it already holds, so a leave in the same diff
   * would no longer find the old meta and it would stay in the client's state for ever.
   */
  #deliverDiff(topic: Topic, diff: PresenceDiff): void {
    const hasJoins = Object.keys(diff.joins).length > 0
    const hasLeaves = Object.keys(diff.leaves).length > 0
    if (hasJoins && hasLeaves) {
      this.#deliverOneDiff(topic, { joins: {}, leaves: diff.leaves })
      return this.#deliverOneDiff(topic, { joins: diff.joins, leaves: {} })
    }
    this.#deliverOneDiff(topic, diff)
  }

  #deliverOneDiff(topic: Topic, diff: PresenceDiff): void {
    const members = this.#topics.get(topic.key)
    if (!members) return
    const frames = new Map<Vsn, string>()
    for (const member of members) {
      if (!member.presenceEnabled) continue
      if (!frames.has(member.vsn)) frames.set(member.vsn, encodeMessage(member.vsn, { topic: topic.name, event: 'presence_diff', payload: diff }))
      member.deliver(frames.get(member.vsn)!, 'presence')
    }
  }

  #publish(event: BusEvent): void {
    this.bus.publish({ node: this.node, event })
  }

  #fromBus({ node, event }: BusEnvelope): void {
    if (node === this.node) return
    this.#seen.set(node, Date.now())
    this.#apply(node, event)
  }

  #apply(node: string, event: BusEvent): void {
    switch (event.kind) {
      case 'broadcast':
        return this.#deliverBroadcast(event.topic, fromWire(event.body))
      case 'presence':
        for (const entry of event.leaves) this.presence.remove(event.topic.key, entry.owner)
        for (const entry of event.joins) this.presence.set(event.topic.key, entry)
        return this.#deliverDiff(event.topic, diffOf(event.joins, event.leaves))
      case 'hello':
        return this.#publish({ kind: 'snapshot', to: node, topics: this.#localSnapshot() })
      case 'snapshot':
        if (event.to === this.node || event.to === '*') this.#replaceNode(node, event.topics)
        return
      case 'alive':
        return
    }
  }

  #ownedBy(node: string): (owner: string) => boolean {
    return (owner) => owner.startsWith(`${node}/`)
  }

  #localSnapshot(): Array<{ topic: Topic; entries: PresenceEntry[] }> {
    return this.presence.entriesWhere(this.#ownedBy(this.node)).map(({ topicKey, entries }) => ({ topic: topicOfKey(topicKey), entries }))
  }

  /** A node's full presence replaces what was known of it; members see only the difference. */
  #replaceNode(node: string, topics: Array<{ topic: Topic; entries: PresenceEntry[] }>): void {
    const removed = this.presence.removeWhere(this.#ownedBy(node))
    const touched = new Map<string, Topic>()
    for (const { topic, entries } of topics) {
      touched.set(topic.key, topic)
      for (const entry of entries) this.presence.set(topic.key, entry)
    }
    for (const key of removed.keys()) if (!touched.has(key)) touched.set(key, topicOfKey(key))
    for (const topic of touched.values()) {
      const before = removed.get(topic.key) ?? []
      const after = topics.find((t) => t.topic.key === topic.key)?.entries ?? []
      const refs = (list: PresenceEntry[]) => new Set(list.map((e) => e.meta.phx_ref))
      const beforeRefs = refs(before)
      const afterRefs = refs(after)
      const joins = after.filter((e) => !beforeRefs.has(e.meta.phx_ref))
      const leaves = before.filter((e) => !afterRefs.has(e.meta.phx_ref))
      if (joins.length > 0 || leaves.length > 0) this.#deliverDiff(topic, diffOf(joins, leaves))
    }
  }

  /** Tells the others this node lives; drops the presences of nodes long silent (killed, cut off). */
  #tick(): void {
    this.#publish({ kind: 'alive' })
    const now = Date.now()
    for (const [node, seen] of this.#seen) {
      if (now - seen < this.timings.deadMs) continue
      this.#seen.delete(node)
      this.#replaceNode(node, [])
    }
  }
}

/** `public:room` → the topic; the key's first segment is the stream, the rest the sub-topic. */
export function topicOfKey(key: string): Topic {
  return { key, name: `realtime:${key.slice(key.indexOf(':') + 1)}` }
}

export function topicOf(subTopic: string, isPrivate: boolean): Topic {
  const key = `${isPrivate ? 'private' : 'public'}:${subTopic}`
  return { key, name: `realtime:${subTopic}` }
}
