/**
 * The Phoenix wire format realtime-js speaks, both versions:
 * - `vsn=1.0.0`: JSON objects `{topic, event, payload, ref, join_ref}`;
 * - `vsn=2.0.0`: JSON arrays `[join_ref, ref, topic, event, payload]`, plus binary frames for
 *   broadcasts: kind 3 (a client's user broadcast push) in, kind 4 (user broadcast) out, laid out
 *   as realtime-js's `lib/serializer.ts` writes and reads them.
 * Pure functions: frames in, messages out, and back.
 * @module
 */

export type Vsn = '1.0.0' | '2.0.0'
export const VSNS: readonly Vsn[] = ['1.0.0', '2.0.0']

/** A user broadcast sent as a binary frame: its payload stays bytes end to end. */
export interface UserBroadcast {
  event: string
  /** How the payload bytes are encoded: JSON text, or opaque binary. */
  encoding: 'json' | 'binary'
  bytes: Uint8Array
  /** Sent as the frame's metadata (JSON, at most 255 bytes): a stored message's `id`, `replayed`. */
  meta?: Record<string, unknown>
}

export interface InboundMessage {
  joinRef: string | null
  ref: string | null
  topic: string
  event: string
  payload: Record<string, unknown>
  /** Set for a binary user broadcast push (kind 3); `payload` is then `{}`. */
  user?: UserBroadcast
}

/** What a broadcast carries to subscribers: the client's map as sent, or a user broadcast's bytes. */
export type BroadcastBody = { form: 'map'; payload: Record<string, unknown> } | ({ form: 'user' } & UserBroadcast)

export interface OutboundMessage {
  joinRef?: string | null
  ref?: string | null
  topic: string
  event: string
  payload: unknown
}

/** Why a frame could not be read; the socket answers with a close (Phoenix drops such frames). */
export class FrameError extends Error {}

const KIND_USER_BROADCAST_PUSH = 3
const KIND_USER_BROADCAST = 4
const ENCODING_BINARY = 0
const ENCODING_JSON = 1

const decoder = new TextDecoder('utf-8', { fatal: true })
const encoder = new TextEncoder()

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function refOf(value: unknown): string | null {
  if (value === null || value === undefined) return null
  if (typeof value === 'string') return value
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  throw new FrameError('ref and join_ref must be strings')
}

function fromParts(joinRef: unknown, ref: unknown, topic: unknown, event: unknown, payload: unknown): InboundMessage {
  if (typeof topic !== 'string' || typeof event !== 'string') throw new FrameError('topic and event must be strings')
  if (payload !== undefined && payload !== null && !isRecord(payload)) throw new FrameError('payload must be an object')
  return { joinRef: refOf(joinRef), ref: refOf(ref), topic, event, payload: (payload as Record<string, unknown> | undefined) ?? {} }
}

function decodeText(vsn: Vsn, text: string): InboundMessage {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new FrameError('frame is not valid JSON')
  }
  if (vsn === '2.0.0') {
    if (!Array.isArray(parsed) || parsed.length !== 5) throw new FrameError('a 2.0.0 frame is a JSON array of 5 elements')
    return fromParts(...(parsed as [unknown, unknown, unknown, unknown, unknown]))
  }
  if (!isRecord(parsed)) throw new FrameError('a 1.0.0 frame is a JSON object')
  return fromParts(parsed.join_ref, parsed.ref, parsed.topic, parsed.event, parsed.payload)
}

/** Reads a kind-3 frame: a header of lengths, then join_ref, ref, topic, event, metadata, payload. */
function decodeUserBroadcastPush(bytes: Uint8Array): InboundMessage {
  if (bytes.length < 7 || bytes[0] !== KIND_USER_BROADCAST_PUSH) throw new FrameError('unknown binary frame kind')
  const [joinRefLength, refLength, topicLength, eventLength, metadataLength, encoding] = bytes.subarray(1, 7)
  let offset = 7
  const take = (length: number): string => {
    if (offset + length > bytes.length) throw new FrameError('binary frame is shorter than its header says')
    const field = bytes.subarray(offset, (offset += length))
    try {
      return decoder.decode(field)
    } catch {
      // realtime-js up to 2.10x wrote header strings one char code per byte: Latin-1 reads them.
      return Buffer.from(field).toString('latin1')
    }
  }
  const joinRef = take(joinRefLength!)
  const ref = take(refLength!)
  const topic = take(topicLength!)
  const event = take(eventLength!)
  take(metadataLength!) // metadata: realtime-js may send allowed keys; Realtime does not use them yet
  if (encoding !== ENCODING_BINARY && encoding !== ENCODING_JSON) throw new FrameError('unknown payload encoding')
  const payload = bytes.slice(offset)
  if (encoding === ENCODING_JSON) {
    try {
      JSON.parse(decoder.decode(payload))
    } catch {
      throw new FrameError('JSON payload of a binary frame is not valid JSON')
    }
  }
  return {
    joinRef: joinRef === '' ? null : joinRef,
    ref: ref === '' ? null : ref,
    topic,
    event: 'broadcast',
    payload: {},
    user: { event, encoding: encoding === ENCODING_JSON ? 'json' : 'binary', bytes: payload },
  }
}

/** One frame from a client. Binary frames exist only in 2.0.0. */
export function decodeFrame(vsn: Vsn, data: string | Uint8Array): InboundMessage {
  if (typeof data === 'string') return decodeText(vsn, data)
  if (vsn !== '2.0.0') throw new FrameError('binary frames need vsn 2.0.0')
  return decodeUserBroadcastPush(data)
}

export function encodeMessage(vsn: Vsn, message: OutboundMessage): string {
  const joinRef = message.joinRef ?? null
  const ref = message.ref ?? null
  if (vsn === '2.0.0') return JSON.stringify([joinRef, ref, message.topic, message.event, message.payload])
  return JSON.stringify({ topic: message.topic, event: message.event, payload: message.payload, ref, join_ref: joinRef })
}

function encodeUserBroadcast(topic: string, body: UserBroadcast): Uint8Array {
  const topicBytes = encoder.encode(topic)
  const eventBytes = encoder.encode(body.event)
  const metaText = body.meta ? encoder.encode(JSON.stringify(body.meta)) : new Uint8Array()
  // The header gives the metadata one byte of length: larger metadata is left out, never cut.
  const metaBytes = metaText.length <= 255 ? metaText : new Uint8Array()
  const header = 1 + 4
  const frame = new Uint8Array(header + topicBytes.length + eventBytes.length + metaBytes.length + body.bytes.length)
  frame.set([KIND_USER_BROADCAST, topicBytes.length, eventBytes.length, metaBytes.length, body.encoding === 'json' ? ENCODING_JSON : ENCODING_BINARY])
  frame.set(topicBytes, header)
  frame.set(eventBytes, header + topicBytes.length)
  frame.set(metaBytes, header + topicBytes.length + eventBytes.length)
  frame.set(body.bytes, header + topicBytes.length + eventBytes.length + metaBytes.length)
  return frame
}

/**
 * A broadcast as one subscriber's version reads it, or undefined when it cannot: 1.0.0 has no
 * binary frames, so a binary payload is not delivered there (as Realtime does).
 */
export function encodeBroadcast(vsn: Vsn, topic: string, body: BroadcastBody): string | Uint8Array | undefined {
  if (body.form === 'map') return encodeMessage(vsn, { topic, event: 'broadcast', payload: body.payload })
  if (vsn === '2.0.0') return encodeUserBroadcast(topic, body)
  if (body.encoding === 'binary') return undefined
  const payload = JSON.parse(decoder.decode(body.bytes)) as unknown
  return encodeMessage(vsn, { topic, event: 'broadcast', payload: { type: 'broadcast', event: body.event, payload, ...(body.meta ? { meta: body.meta } : {}) } })
}

/** Bytes a broadcast's payload takes, for the size limit. */
export function broadcastSize(body: BroadcastBody): number {
  return body.form === 'user' ? body.bytes.length : Buffer.byteLength(JSON.stringify(body.payload))
}

/** Topic and event names must fit the one-byte lengths of the binary header. */
export function fitsBinaryHeader(topic: string, event: string): boolean {
  return Buffer.byteLength(topic) <= 255 && Buffer.byteLength(event) <= 255
}
