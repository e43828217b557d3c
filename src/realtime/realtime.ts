/**
 * Realtime for one app instance: the hub, the sockets it serves, the handshake's checks and the
 * broadcasts that arrive over HTTP. Built once per app (app.ts); the runtime that can hold
 * WebSockets hands connections to `connect`, and closes it on shutdown.
 * @module
 */
import { appError } from '../errors.ts'
import { authenticate } from '../http/principal.ts'
import type { Principal } from '../jwt/principal.ts'
import type { Claims } from '../jwt/service.ts'
import type { Services } from '../services.ts'
import { localBus, type Bus } from './bus.ts'
import { policiesFor } from './authorize.ts'
import type { Policies } from './channel.ts'
import { Changes } from './changes.ts'
import { listenForDbMessages } from './db-messages.ts'
import { Hub, timingsFor, topicOf } from './hub.ts'
import { createNotifications, type Notifications } from './notifications.ts'
import { createPgBus } from './pg-bus.ts'
import { VSNS, type BroadcastBody, type Vsn } from './protocol.ts'
import { readReplay, type ReplayRequest } from './replay.ts'
import { CLOSE, RealtimeSocket, type Transport } from './socket.ts'

export interface Handshake {
  vsn: Vsn
  apiKey: string
}

export interface Realtime {
  hub: Hub
  /** Checks a WebSocket request's `apikey` and `vsn` (throws an HttpError, so the upgrade is refused). */
  handshake(query: (name: string) => string | undefined, header: (name: string) => string | undefined): Promise<Handshake>
  connect(transport: Transport, handshake: Handshake): RealtimeSocket
  /** A broadcast from HTTP or SQL: to `subTopic`'s public or private stream. */
  broadcast(subTopic: string, isPrivate: boolean, body: BroadcastBody): void
  /** What a private channel's claims may do: RLS on realtime.messages (service_role bypasses it). */
  authorize(claims: Claims, subTopic: string): Promise<Policies>
  /** Starts hearing other servers and SQL's messages (on the first socket; tests may call it). */
  start(): Promise<void>
  principal(headers: { authorization?: string; apikey?: string }): Promise<Principal>
  /** Closes every socket (1001: clients reconnect elsewhere) and stops listening. */
  close(): void
}

function busFor(services: Services, notifications: Notifications): Bus {
  if (!services.config.databaseUrl) return localBus
  return createPgBus(services, notifications)
}

export function createRealtime(services: Services, notifications: Notifications = createNotifications(services), bus: Bus = busFor(services, notifications)): Realtime {
  const hub = new Hub(bus, timingsFor(services.config.realtimeDeadServerSeconds))
  const changes = new Changes(services, notifications)
  const sockets = new Set<RealtimeSocket>()

  const authorize = (claims: Claims, subTopic: string): Promise<Policies> => policiesFor(services, claims, subTopic)
  let started: Promise<void> | undefined
  let stopMessages: (() => void) | undefined
  const start = () =>
    (started ??= (async () => {
      await hub.start()
      await changes.start()
      stopMessages = await listenForDbMessages(services, notifications, (m) => {
        const topic = topicOf(m.topic, m.private)
        if (m.binary_payload) return hub.deliverLocal(topic, { form: 'user', event: m.event ?? '', encoding: 'binary', bytes: new Uint8Array(m.binary_payload), meta: { id: m.id } })
        const payload: Record<string, unknown> = { type: 'broadcast', event: m.event, payload: m.payload, meta: { id: m.id } }
        hub.deliverLocal(topic, { form: 'map', payload })
      })
    })().catch((error) => {
      started = undefined
      services.logger.warn({ err: error }, 'realtime: could not start listening')
    }))

  return {
    hub,
    async handshake(query, header) {
      const vsn = (query('vsn') ?? '1.0.0') as Vsn
      if (!VSNS.includes(vsn)) throw appError('bad_request', `Unsupported vsn ${JSON.stringify(vsn)}: use 1.0.0 or 2.0.0`)
      const apiKey = query('apikey') ?? header('apikey') ?? header('x-api-key')
      if (!apiKey) {
        if (services.config.apiKeyRequired) throw appError('no_api_key', 'API key is missing')
        return { vsn, apiKey: '' }
      }
      await authenticate(services, { apikey: apiKey })
      return { vsn, apiKey }
    },
    start,
    connect(transport, handshake) {
      void start()
      const replay = (claims: Claims, subTopic: string, request: ReplayRequest) => readReplay(services, claims, subTopic, request)
      const deps = { hub, changes, jwt: services.jwt, logger: services.logger, authorize, replay, ready: start, onClosed: (gone: RealtimeSocket) => sockets.delete(gone) }
      const socket = new RealtimeSocket(deps, transport, handshake.vsn, handshake.apiKey)
      sockets.add(socket)
      return socket
    },
    broadcast(subTopic, isPrivate, body) {
      hub.broadcast(topicOf(subTopic, isPrivate), body)
    },
    authorize,
    principal: (headers) => authenticate(services, headers),
    close() {
      for (const socket of [...sockets]) socket.close(CLOSE.goingAway, 'server shutting down')
      sockets.clear()
      hub.stop()
      changes.stop()
      stopMessages?.()
      notifications.stop()
    },
  }
}
