/**
 * `/realtime/v1`: the WebSocket (`/websocket?apikey=…&vsn=…`) where the runtime can hold one,
 * and the HTTP broadcasts that work on every runtime: `POST /api/broadcast` (a batch, as
 * realtime-js's REST fallback sends it) and `POST /api/broadcast/{topic}/events/{event}`
 * (`channel.httpSend`). Unauthorized private messages are skipped, as Realtime does.
 * @module
 */
import { Hono, type Context } from 'hono'
import type { UpgradeWebSocket, WSContext } from 'hono/ws'
import { appError } from '../errors.ts'
import type { Services } from '../services.ts'
import { realtimeError } from './errors.ts'
import { LIMITS } from './limits.ts'
import type { BroadcastBody } from './protocol.ts'
import type { Realtime } from './realtime.ts'
import type { RealtimeSocket, Transport } from './socket.ts'

export interface RealtimeRouterOptions {
  /** The runtime's WebSocket upgrade; absent where connections cannot stay open (Lambda). */
  upgradeWebSocket?: UpgradeWebSocket
}

interface BatchMessage {
  topic: string
  event: string
  payload: Record<string, unknown>
  private: boolean
  id?: string
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Realtime's batch validation: `messages` required; each needs `topic`, `event` and a map `payload`. */
export function parseBatch(body: unknown): BatchMessage[] {
  if (!isRecord(body) || !Array.isArray(body.messages) || body.messages.length === 0) {
    throw realtimeError('realtime_invalid_broadcast', 'messages: can\'t be blank', { messages: ["can't be blank"] })
  }
  return body.messages.map((raw, index) => {
    const m = isRecord(raw) ? raw : {}
    const errors: Record<string, string[]> = {}
    for (const field of ['topic', 'event'] as const) if (typeof m[field] !== 'string' || m[field] === '') errors[field] = ["can't be blank"]
    if (!isRecord(m.payload)) errors.payload = m.payload === undefined ? ["can't be blank"] : ['is invalid']
    else if (Buffer.byteLength(JSON.stringify(m.payload)) > LIMITS.payloadBytes) errors.payload = ['Payload size exceeds tenant limit']
    if (m.private !== undefined && typeof m.private !== 'boolean') errors.private = ['is invalid']
    if (Object.keys(errors).length > 0) throw realtimeError('realtime_invalid_broadcast', `messages[${index}] is invalid`, { messages: [errors] })
    return { topic: m.topic as string, event: m.event as string, payload: m.payload as Record<string, unknown>, private: m.private === true, id: typeof m.id === 'string' ? m.id : undefined }
  })
}

async function principalOf(realtime: Realtime, c: Context) {
  return realtime.principal({ authorization: c.req.header('authorization'), apikey: c.req.header('apikey') })
}

/** Private topics are written only where the caller's policies allow it (one check per topic). */
async function writable(realtime: Realtime, c: Context, topics: string[]): Promise<Set<string>> {
  const principal = await principalOf(realtime, c)
  const allowed = new Set<string>()
  for (const topic of new Set(topics)) {
    const policies = await realtime.authorize({ ...principal.claims, role: principal.role }, topic)
    if (policies.broadcast.write) allowed.add(topic)
  }
  return allowed
}

/** The TCP socket under a `ws` WebSocket, where the runtime has one. */
type Corkable = { cork(): void; uncork(): void }

/**
 * Frames sent to one socket in one turn of the event loop go out in one write: a burst of
 * changes fanned out to many sockets otherwise costs a system call per frame (the profile of
 * 200 changes/s to 50 sockets spent more time in writev than in everything else).
 */
function coalescing(ws: WSContext): (frame: string | Uint8Array) => void {
  let corked = false
  return (frame) => {
    const socket = (ws.raw as { _socket?: Partial<Corkable> } | undefined)?._socket
    if (!corked && typeof socket?.cork === 'function' && typeof socket.uncork === 'function') {
      corked = true
      socket.cork()
      process.nextTick(() => {
        corked = false
        socket.uncork!()
      })
    }
    ws.send(frame as string | Uint8Array<ArrayBuffer>)
  }
}

function transportOf(ws: WSContext): Transport {
  return {
    send: coalescing(ws),
    close: (code, reason) => ws.close(code, reason),
    bufferedAmount: () => (ws.raw as { bufferedAmount?: number } | undefined)?.bufferedAmount ?? 0,
  }
}

export function realtimeRouter(services: Services, realtime: Realtime, options: RealtimeRouterOptions = {}): Hono {
  const app = new Hono()

  app.get('/websocket', async (c, next) => {
    const upgrade = options.upgradeWebSocket
    if (!upgrade || !services.profile.longLivedConnections) {
      throw realtimeError('realtime_websocket_unsupported', 'Realtime WebSockets need a container runtime (ECS Fargate, EC2, `resolution serve`); this runtime cannot keep a connection open. POST /realtime/v1/api/broadcast works here.')
    }
    if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') throw realtimeError('realtime_upgrade_required', 'Expected a WebSocket upgrade')
    const handshake = await realtime.handshake((name) => c.req.query(name), (name) => c.req.header(name))
    let socket: RealtimeSocket | undefined
    return upgrade(() => ({
      onOpen: (_event, ws) => {
        socket = realtime.connect(transportOf(ws), handshake)
      },
      onMessage: (event) => {
        const data = event.data
        socket?.receive(typeof data === 'string' ? data : new Uint8Array(data as ArrayBuffer))
      },
      onClose: () => socket?.closed(),
      onError: () => socket?.closed(),
    }))(c, next)
  })

  app.post('/api/broadcast', async (c) => {
    let body: unknown
    try {
      body = await c.req.json()
    } catch {
      throw appError('invalid_json', 'The request body is not valid JSON')
    }
    const messages = parseBatch(body)
    const privateTopics = messages.filter((m) => m.private).map((m) => m.topic)
    const allowed = privateTopics.length > 0 ? await writable(realtime, c, privateTopics) : new Set<string>()
    if (privateTopics.length === 0) await principalOf(realtime, c)
    for (const m of messages) {
      if (m.private && !allowed.has(m.topic)) continue
      const payload: Record<string, unknown> = { type: 'broadcast', event: m.event, payload: m.payload }
      if (m.id) payload.meta = { id: m.id }
      realtime.broadcast(m.topic, m.private, { form: 'map', payload })
    }
    return c.body(null, 202)
  })

  app.post('/api/broadcast/:topic/events/:event', async (c) => {
    const topic = c.req.param('topic')
    const event = c.req.param('event')
    const isPrivate = c.req.query('private') === 'true'
    const bytes = new Uint8Array(await c.req.arrayBuffer())
    if (bytes.length > LIMITS.payloadBytes) throw appError('payload_too_large', 'Payload size exceeds tenant limit')
    let body: BroadcastBody
    if (/^application\/octet-stream/i.test(c.req.header('content-type') ?? '')) {
      body = { form: 'user', event, encoding: 'binary', bytes }
    } else {
      let payload: unknown
      try {
        payload = JSON.parse(new TextDecoder().decode(bytes))
      } catch {
        throw appError('invalid_json', 'The request body is not valid JSON')
      }
      body = { form: 'map', payload: { type: 'broadcast', event, payload } }
    }
    const allowed = isPrivate ? await writable(realtime, c, [topic]) : (await principalOf(realtime, c), new Set([topic]))
    if (allowed.has(topic)) realtime.broadcast(topic, isPrivate, body)
    return c.body(null, 202)
  })

  return app
}
