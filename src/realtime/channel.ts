/**
 * One joined channel of one socket: its config from `phx_join` (broadcast `self`/`ack`, presence
 * `key`/`enabled`, `private`, `postgres_changes`), its token (re-checked on `access_token` and
 * before it runs out), and the client's pushes on it: `broadcast`, `presence`, `access_token`,
 * `phx_leave`. Replies and refusals use Supabase Realtime's words.
 * @module
 */
import { randomInt } from 'node:crypto'
import type { Claims, JwtService } from '../jwt/service.ts'
import type { Topic } from './bus.ts'
import { checkColumns, parseParams, type ChangeParams } from './change-filter.ts'
import type { Changes } from './changes.ts'
import type { Hub, Member } from './hub.ts'
import type { ReplayedMessage } from './replay.ts'
import { LIMITS, MESSAGES } from './limits.ts'
import { broadcastSize, encodeBroadcast, type BroadcastBody, type InboundMessage, type OutboundMessage, type Vsn } from './protocol.ts'
import { confirmToken } from './token.ts'

/** What a private channel's claims may do on its topic (RLS on realtime.messages). */
export interface Permissions {
  read: boolean
  write: boolean
}

export type Policies = Record<'broadcast' | 'presence', Permissions>

export interface ChannelContext {
  hub: Hub
  jwt: JwtService
  socketId: string
  vsn: Vsn
  send(message: OutboundMessage): void
  deliver(frame: string | Uint8Array): void
  /** Postgres changes of this server. */
  changes: Changes
  /** Private channels only: what `claims` may do on `subTopic`. */
  authorize(claims: Claims, subTopic: string): Promise<Policies>
}

export interface JoinConfig {
  self: boolean
  ack: boolean
  presenceKey: string
  presenceEnabled: boolean
  private: boolean
  /** `broadcast.replication_ready`: say in a `system` message once broadcasts from the database can arrive. */
  replicationReady: boolean
  postgresChanges: Array<Record<string, unknown>>
  /** `broadcast.replay` as given (replay.ts parses it); undefined when absent. */
  replay: unknown
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {}
}

/** Realtime's flexible booleans: true/false, "true"/"false". */
function flag(value: unknown): boolean {
  return value === true || value === 'true'
}

export function parseJoinConfig(payload: Record<string, unknown>): JoinConfig {
  const config = record(payload.config)
  const broadcast = record(config.broadcast)
  const presence = record(config.presence)
  const key = typeof presence.key === 'string' && presence.key !== '' ? presence.key : crypto.randomUUID()
  const changes = Array.isArray(config.postgres_changes) ? config.postgres_changes.filter((c) => c !== null).map(record) : []
  return {
    self: flag(broadcast.self),
    ack: flag(broadcast.ack),
    presenceKey: key,
    presenceEnabled: flag(presence.enabled),
    private: flag(config.private),
    replicationReady: flag(broadcast.replication_ready),
    postgresChanges: changes,
    replay: broadcast.replay ?? undefined,
  }
}

/** One `postgres_changes` entry of the join: its id, and its parameters or why they are refused. */
export interface ChangeRequest {
  id: number
  raw: Record<string, unknown>
  params?: ChangeParams
  error?: string
}

/** Parses the join's `postgres_changes`, each with an id for the reply (unusable ones too, as Realtime). */
export function changeRequests(config: JoinConfig, changes: Changes): ChangeRequest[] {
  return config.postgresChanges.map((raw) => {
    const id = randomInt(1, 2 ** 31)
    const described = `[event: ${String(raw.event ?? '*')}, schema: ${String(raw.schema ?? '')}, table: ${String(raw.table ?? '*')}, filters: ${raw.filter ? `[${String(raw.filter)}]` : '[]'}]`
    const refused = `Unable to subscribe to changes with given parameters. Please check Realtime is enabled for the given connect parameters: ${described}`
    try {
      const params = parseParams(raw)
      if (params.table === undefined || params.schema === '*') return { id, raw, params }
      const table = changes.table(params.schema, params.table)
      if (!table) return { id, raw, error: refused }
      const invalid = checkColumns(params, table)
      return invalid ? { id, raw, error: `${refused} (${invalid})` } : { id, raw, params }
    } catch (error) {
      return { id, raw, error: `${refused} (${(error as Error).message})` }
    }
  })
}

export class Channel implements Member {
  readonly id: string
  presenceEnabled: boolean
  #claims: Claims
  #token: string
  #timer: NodeJS.Timeout | undefined
  #policies: Policies | undefined
  #closed = false
  /** Ids of the messages replayed at the join: the same message arriving live is not sent again. */
  #replayed: Set<string> | undefined

  constructor(
    private readonly ctx: ChannelContext,
    readonly topic: Topic,
    readonly subTopic: string,
    readonly joinRef: string,
    readonly config: JoinConfig,
    auth: { claims: Claims; token: string; expiresAtMs: number; policies?: Policies },
  ) {
    this.id = `${ctx.hub.node}/${ctx.socketId}:${joinRef}`
    this.presenceEnabled = config.presenceEnabled
    this.#claims = auth.claims
    this.#token = auth.token
    this.#policies = auth.policies
    this.#schedule(auth.expiresAtMs)
  }

  get vsn(): Vsn {
    return this.ctx.vsn
  }

  get selfBroadcast(): boolean {
    return this.config.self
  }

  /** Broadcasts reach a private channel only with broadcast read; presence diffs with presence read. */
  deliver(frame: string | Uint8Array, extension: 'broadcast' | 'presence' = 'broadcast', messageId?: string): void {
    if (this.#policies && !this.#policies[extension].read) return
    if (messageId !== undefined && this.#replayed?.has(messageId)) return
    this.ctx.deliver(frame)
  }

  /** Sends the stored messages of the join's replay (after `open`, before any live message is read). */
  replay(messages: ReplayedMessage[]): void {
    if (messages.length === 0) return
    this.#replayed = new Set(messages.map((m) => m.id))
    for (const m of messages) {
      const meta = { replayed: true, id: m.id }
      if (!m.binary_payload) this.push('broadcast', { type: 'broadcast', event: m.event, payload: m.payload, meta })
      else {
        // Bytes go in a binary frame; protocol 1.0.0 has none, so it is skipped there (as Realtime does).
        const frame = encodeBroadcast(this.vsn, this.topic.name, { form: 'user', event: m.event ?? '', encoding: 'binary', bytes: new Uint8Array(m.binary_payload), meta })
        if (frame !== undefined) this.ctx.deliver(frame)
      }
    }
  }

  get claims(): Claims {
    return this.#claims
  }

  /** After the join reply: subscribe, send presence state, say how the Postgres changes went. */
  open(requests: ChangeRequest[]): void {
    this.ctx.hub.subscribe(this.topic, this)
    if (this.presenceEnabled) this.#pushPresenceState()
    for (const request of requests) if (request.params) this.ctx.changes.subscribe(this, request.id, request.params)
    const refused = requests.find((r) => r.error)
    if (refused) this.push('system', { extension: 'postgres_changes', status: 'error', message: refused.error, channel: this.subTopic })
    else if (requests.length > 0) this.push('system', { extension: 'postgres_changes', status: 'ok', message: 'Subscribed to PostgreSQL', channel: this.subTopic })
    // The join waited for the database listeners (realtime.ts `ready`), so broadcasts from SQL arrive from now on.
    if (this.config.replicationReady) this.push('system', { extension: 'system', status: 'ok', message: 'Replication connection established', channel: this.subTopic })
  }

  push(event: string, payload: unknown): void {
    this.ctx.send({ joinRef: this.joinRef, topic: this.topic.name, event, payload })
  }

  reply(message: InboundMessage, status: 'ok' | 'error', response: Record<string, unknown> = {}): void {
    this.ctx.send({ joinRef: this.joinRef, ref: message.ref, topic: this.topic.name, event: 'phx_reply', payload: { status, response } })
  }

  async handle(message: InboundMessage): Promise<void> {
    switch (message.event) {
      case 'broadcast':
        return this.#broadcast(message)
      case 'presence':
        return this.#presence(message)
      case 'access_token':
        return this.#refresh(message.payload.access_token)
      case 'phx_leave':
        this.reply(message, 'ok')
        return this.leave()
      default:
        // Realtime ignores what it does not know (no reply), so a client never waits on an error.
        return
    }
  }

  /** The channel ends (leave, socket closed): its presence leaves with it. */
  leave(): void {
    if (this.#closed) return
    this.#closed = true
    clearTimeout(this.#timer)
    this.ctx.hub.unsubscribe(this.topic, this)
    this.ctx.changes.unsubscribe(this)
  }

  /** The server ends the channel: a `system` error saying why, then `phx_close`. */
  shutdown(message: string): void {
    if (this.#closed) return
    this.push('system', { extension: 'system', status: 'error', message, channel: this.subTopic })
    this.ctx.send({ joinRef: this.joinRef, ref: this.joinRef, topic: this.topic.name, event: 'phx_close', payload: {} })
    this.leave()
  }

  get closed(): boolean {
    return this.#closed
  }

  #pushPresenceState(): void {
    if (this.#policies && !this.#policies.presence.read) return
    this.push('presence_state', this.ctx.hub.presenceState(this.topic))
  }

  #writeAllowed(extension: 'broadcast' | 'presence'): boolean {
    return !this.#policies || this.#policies[extension].write
  }

  async #broadcast(message: InboundMessage): Promise<void> {
    const body: BroadcastBody = message.user ? { form: 'user', ...message.user } : { form: 'map', payload: message.payload }
    if (!this.#writeAllowed('broadcast')) return
    if (broadcastSize(body) > LIMITS.payloadBytes) {
      if (this.config.ack) this.reply(message, 'error', { reason: MESSAGES.payloadTooLarge })
      return
    }
    this.ctx.hub.broadcast(this.topic, body, this)
    if (this.config.ack) this.reply(message, 'ok')
  }

  async #presence(message: InboundMessage): Promise<void> {
    const event = message.payload.event
    if (event === 'untrack') {
      this.ctx.hub.untrack(this.topic, this)
      return this.reply(message, 'ok')
    }
    if (event !== 'track') return this.reply(message, 'error', { reason: MESSAGES.trackNotMap })
    const payload = message.payload.payload ?? {}
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return this.reply(message, 'error', { reason: MESSAGES.trackNotMap })
    if (Buffer.byteLength(JSON.stringify(payload)) > LIMITS.payloadBytes) return this.shutdown(MESSAGES.trackTooLarge)
    if (this.ctx.hub.presence.count(this.topic.key) >= LIMITS.presencePerTopic) return this.reply(message, 'error', { reason: MESSAGES.tooManyPresences })
    if (!this.#writeAllowed('presence')) return this.reply(message, 'error', { reason: `Unauthorized: You do not have permissions to write to this Channel topic: ${this.subTopic}` })
    if (!this.presenceEnabled) {
      // Realtime turns presence on for a channel that tracks without having asked for it.
      this.presenceEnabled = true
      this.#pushPresenceState()
    }
    this.ctx.hub.track(this.topic, this, this.config.presenceKey, payload as Record<string, unknown>)
    this.reply(message, 'ok')
  }

  async #refresh(token: unknown): Promise<void> {
    // As Realtime: publishable keys, the same token and null change nothing.
    if (typeof token !== 'string' || token === this.#token || token.startsWith('sb_')) return
    const check = await confirmToken(this.ctx.jwt, token)
    if (!check.ok) return this.shutdown(check.message)
    if (this.#policies) {
      const policies = await this.ctx.authorize(check.claims, this.subTopic)
      const revoked = (['broadcast', 'presence'] as const).some((e) => this.#policies![e].read && !policies[e].read)
      if (revoked) return this.shutdown(`You no longer have permission to read from this Channel topic: ${this.subTopic}`)
      this.#policies = policies
    }
    this.#claims = check.claims
    this.#token = token
    this.#schedule(check.expiresAtMs)
  }

  /** Re-checks the token when it runs out (and every few minutes): an expired one ends the channel. */
  #schedule(expiresAtMs: number): void {
    clearTimeout(this.#timer)
    const wait = Math.max(0, Math.min(LIMITS.confirmTokenMs, expiresAtMs - Date.now()))
    this.#timer = setTimeout(() => void this.#confirm(), wait)
    this.#timer.unref()
  }

  async #confirm(): Promise<void> {
    if (this.#closed) return
    const check = await confirmToken(this.ctx.jwt, this.#token)
    if (check.ok) return this.#schedule(check.expiresAtMs)
    this.shutdown(check.message)
  }
}

