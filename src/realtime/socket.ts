/**
 * One client connection: reads its frames in order, answers heartbeats, joins and leaves
 * channels, routes pushes to them, and holds the connection's limits. It knows nothing of the
 * transport beyond `Transport` (the runtime supplies a WebSocket behind it).
 * @module
 */
import { randomUUID } from 'node:crypto'
import type { Logger } from '../logger.ts'
import type { Claims, JwtService } from '../jwt/service.ts'
import { Channel, changeRequests, parseJoinConfig, type JoinConfig, type Policies } from './channel.ts'
import type { Changes } from './changes.ts'
import type { Hub } from './hub.ts'
import { topicOf } from './hub.ts'
import { LIMITS, MESSAGES } from './limits.ts'
import { decodeFrame, encodeMessage, FrameError, type InboundMessage, type OutboundMessage, type Vsn } from './protocol.ts'
import { parseReplay, REPLAY_MESSAGES, type ReplayedMessage, type ReplayRequest } from './replay.ts'
import { confirmToken, reasonOf } from './token.ts'

export interface Transport {
  send(frame: string | Uint8Array): void
  close(code: number, reason: string): void
  /** Bytes accepted by `send` but not yet written to the network. */
  bufferedAmount(): number
}

export interface SocketDeps {
  hub: Hub
  changes: Changes
  jwt: JwtService
  logger: Logger
  authorize(claims: Claims, subTopic: string): Promise<Policies>
  /** The stored broadcasts a private join asked to replay, as `claims` may read them. */
  replay(claims: Claims, subTopic: string, request: ReplayRequest): Promise<ReplayedMessage[]>
  /** Resolves once this server hears the others and SQL's messages: a join waits for it. */
  ready?(): Promise<void>
  /** The connection ended (the owner forgets the socket). */
  onClosed?(socket: RealtimeSocket): void
}

/** WebSocket close codes: 1003 unsupported data, 1008 policy violation, 1001 going away. */
export const CLOSE = { badFrame: 1003, policy: 1008, goingAway: 1001 } as const

export class RealtimeSocket {
  readonly id = randomUUID()
  readonly #channels = new Map<string, Channel>()
  #joinTimes: number[] = []
  #queue: Promise<void> = Promise.resolve()
  #closed = false

  constructor(
    private readonly deps: SocketDeps,
    private readonly transport: Transport,
    readonly vsn: Vsn,
    /** The socket's API key: the token of joins that bring none (as Realtime's tenant token). */
    private readonly apiKey: string,
  ) {}

  /** Frames are handled one after another: a join finishes before the next push is read. */
  receive(data: string | Uint8Array): void {
    this.#queue = this.#queue.then(() => this.#handle(data)).catch((error) => this.deps.logger.warn({ err: error }, 'realtime frame failed'))
  }

  /** The connection ended: every channel leaves (its presence with it). */
  closed(): void {
    if (this.#closed) return
    this.#closed = true
    this.deps.onClosed?.(this)
    for (const channel of this.#channels.values()) channel.leave()
    this.#channels.clear()
  }

  /** The server goes away (shutdown): clients reconnect to another instance. */
  close(code: number, reason: string): void {
    this.closed()
    this.transport.close(code, reason)
  }

  send(message: OutboundMessage): void {
    this.deliver(encodeMessage(this.vsn, message))
  }

  /** Sends, unless the client stopped reading: then it is dropped instead of buffered for ever. */
  deliver(frame: string | Uint8Array): void {
    if (this.#closed) return
    if (this.transport.bufferedAmount() > LIMITS.slowConsumerBytes) return this.close(CLOSE.policy, MESSAGES.slowConsumer)
    this.transport.send(frame)
  }

  async #handle(data: string | Uint8Array): Promise<void> {
    if (this.#closed) return
    let message: InboundMessage
    try {
      message = decodeFrame(this.vsn, data)
    } catch (error) {
      if (error instanceof FrameError) return this.close(CLOSE.badFrame, error.message)
      throw error
    }
    if (message.topic === 'phoenix' && message.event === 'heartbeat') {
      return this.send({ ref: message.ref, topic: 'phoenix', event: 'phx_reply', payload: { status: 'ok', response: {} } })
    }
    if (message.event === 'phx_join') return this.#join(message)
    const channel = this.#channels.get(message.topic)
    if (channel?.closed) this.#channels.delete(message.topic)
    if (!channel || channel.closed || (message.joinRef !== null && message.joinRef !== channel.joinRef)) return this.#refuse(message, MESSAGES.unmatchedTopic)
    await channel.handle(message)
    if (channel.closed) this.#channels.delete(message.topic)
  }

  #refuse(message: InboundMessage, reason: string): void {
    this.send({ joinRef: message.joinRef, ref: message.ref, topic: message.topic, event: 'phx_reply', payload: { status: 'error', response: { reason } } })
  }

  #tooManyJoins(): boolean {
    const now = Date.now()
    this.#joinTimes = this.#joinTimes.filter((t) => now - t < 1000)
    this.#joinTimes.push(now)
    return this.#joinTimes.length > LIMITS.joinsPerSecond
  }

  async #join(message: InboundMessage): Promise<void> {
    const joinRef = message.joinRef ?? message.ref ?? ''
    const reply = { ...message, joinRef }
    if (!message.topic.startsWith('realtime:')) return this.#refuse(reply, MESSAGES.unmatchedTopic)
    const subTopic = message.topic.slice('realtime:'.length)
    if (subTopic === '') return this.#refuse(reply, MESSAGES.topicRequired)
    // Joining a topic again replaces the channel, as Phoenix does.
    const previous = this.#channels.get(message.topic)
    if (previous) {
      previous.leave()
      this.#channels.delete(message.topic)
    }
    if (this.#tooManyJoins()) {
      this.#refuse(reply, MESSAGES.tooManyJoins)
      return this.close(CLOSE.policy, MESSAGES.tooManyJoins)
    }
    if (this.#channels.size >= LIMITS.channelsPerConnection) return this.#refuse(reply, MESSAGES.tooManyChannels)

    await this.deps.ready?.()
    const config = parseJoinConfig(message.payload)
    const given = message.payload.access_token ?? message.payload.user_token
    const token = typeof given === 'string' && !given.startsWith('sb_') ? given : this.apiKey
    const check = await confirmToken(this.deps.jwt, token)
    if (!check.ok) return this.#refuse(reply, reasonOf(check))
    let policies: Policies | undefined
    if (config.private) {
      policies = await this.deps.authorize(check.claims, subTopic)
      if (!policies.broadcast.read && !policies.presence.read) return this.#refuse(reply, `Unauthorized: You do not have permissions to read from this Channel topic: ${subTopic}`)
    }
    const replayed = await this.#replay(config, subTopic, check.claims, policies)
    if (typeof replayed === 'string') return this.#refuse(reply, replayed)
    // Captures what the publication holds now, so every change committed after SUBSCRIBED arrives.
    if (config.postgresChanges.length > 0) await this.deps.changes.sync().catch((error) => this.deps.logger.warn({ err: error }, 'realtime: publication sync failed'))
    const requests = changeRequests(config, this.deps.changes)
    if (this.#closed) return

    const channel = new Channel(this.#context(), topicOf(subTopic, config.private), subTopic, joinRef, config, { claims: check.claims, token, expiresAtMs: check.expiresAtMs, policies })
    this.#channels.set(message.topic, channel)
    channel.reply(reply, 'ok', { postgres_changes: requests.map((r) => ({ ...r.raw, id: r.id })) })
    channel.open(requests)
    channel.replay(replayed)
  }

  /** The join's broadcast replay: the messages, or why the join is refused (Realtime's checks, in its order). */
  async #replay(config: JoinConfig, subTopic: string, claims: Claims, policies: Policies | undefined): Promise<ReplayedMessage[] | string> {
    if (config.replay === undefined) return []
    if (policies && !policies.broadcast.read) return `Unauthorized: You do not have permissions to read from this Channel topic: ${subTopic}`
    if (!config.private) return REPLAY_MESSAGES.publicChannel
    const request = parseReplay(config.replay)
    if (typeof request === 'string') return request
    try {
      return await this.deps.replay(claims, subTopic, request)
    } catch (error) {
      this.deps.logger.warn({ err: error, topic: subTopic }, 'realtime: broadcast replay failed')
      return REPLAY_MESSAGES.failed
    }
  }

  #context() {
    return {
      hub: this.deps.hub,
      changes: this.deps.changes,
      jwt: this.deps.jwt,
      socketId: this.id,
      vsn: this.vsn,
      send: (message: OutboundMessage) => this.send(message),
      deliver: (frame: string | Uint8Array) => this.deliver(frame),
      authorize: this.deps.authorize,
    }
  }
}
