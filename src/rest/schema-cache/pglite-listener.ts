/**
 * `NOTIFY pgrst` on the embedded database. PGlite has one backend: after `LISTEN pgrst` there, a
 * notification reaches whoever talks to it next — this service's own queries (PGlite's `listen`
 * callback), or a `psql` session over the wire-protocol server, whose raw protocol bytes PGlite
 * does not parse. So the raw entry points are watched too, and the notice is taken out of what
 * the client receives (it never asked to LISTEN; psql would print every one).
 * @module
 */
import type { PGlite } from '@electric-sql/pglite'
import type { PgliteDatabase } from '../../db/pglite-driver.ts'

type OnNotify = () => void

const CHANNEL = 'pgrst'
const encoder = new TextEncoder()
const CHANNEL_BYTES = encoder.encode(`${CHANNEL}\0`)
const taps = new WeakMap<PGlite, Set<OnNotify>>()

/** A bare NOTIFY, 'reload schema' or 'reload config' (the in-database settings live in the cache). */
const reloads = (payload: string) => ['', 'reload schema', 'reload config'].includes(payload.trim())

/**
 * Finds NotificationResponse messages ('A', int32 length, int32 pid, channel\0, payload\0) on our
 * channel in one chunk of backend output; returns the chunk without them and whether one asked
 * for a reload. A message split across chunks is left alone (the next DDL notifies again).
 */
export function takeNotifications(chunk: Uint8Array): { rest: Uint8Array; reload: boolean } {
  let reload = false
  const keep: Array<[number, number]> = []
  let start = 0
  for (let at = indexOf(chunk, CHANNEL_BYTES, 9); at !== -1; at = indexOf(chunk, CHANNEL_BYTES, at + 1)) {
    const head = at - 9
    if (chunk[head] !== 0x41) continue
    const length = new DataView(chunk.buffer, chunk.byteOffset + head + 1, 4).getInt32(0)
    const end = head + 1 + length
    if (length < 4 + 4 + CHANNEL_BYTES.length + 1 || end > chunk.length || chunk[end - 1] !== 0) continue
    const payload = new TextDecoder().decode(chunk.subarray(at + CHANNEL_BYTES.length, end - 1))
    if (reloads(payload)) reload = true
    keep.push([start, head])
    start = end
  }
  if (keep.length === 0) return { rest: chunk, reload }
  keep.push([start, chunk.length])
  const rest = new Uint8Array(keep.reduce((n, [a, b]) => n + (b - a), 0))
  let offset = 0
  for (const [a, b] of keep) {
    rest.set(chunk.subarray(a, b), offset)
    offset += b - a
  }
  return { rest, reload }
}

function indexOf(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  outer: for (let i = from; i <= haystack.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer
    return i
  }
  return -1
}

/** Wraps PGlite's raw protocol entry points once per instance so their notices reach `taps`. */
function tapRawProtocol(pglite: PGlite): Set<OnNotify> {
  let listeners = taps.get(pglite)
  if (listeners) return listeners
  const set = new Set<OnNotify>()
  listeners = set
  taps.set(pglite, set)
  const fire = () => set.forEach((fn) => queueMicrotask(fn))
  const raw = pglite as unknown as {
    execProtocolRaw: (message: Uint8Array, options?: object) => Promise<Uint8Array>
    execProtocolRawStream: (message: Uint8Array, options: { onRawData: (chunk: Uint8Array) => void }) => Promise<void>
  }
  const execRaw = raw.execProtocolRaw.bind(pglite)
  raw.execProtocolRaw = async (message, options) => {
    const { rest, reload } = takeNotifications(await execRaw(message, options))
    if (reload) fire()
    return rest
  }
  const execStream = raw.execProtocolRawStream.bind(pglite)
  raw.execProtocolRawStream = (message, options) =>
    execStream(message, {
      ...options,
      onRawData: (chunk: Uint8Array) => {
        const { rest, reload } = takeNotifications(chunk)
        if (reload) fire()
        if (rest.length > 0) options.onRawData(rest)
      },
    })
  return set
}

/** LISTENs on the embedded database; `onReload` runs for each reload notice until `stop()`. */
export function startPgliteListener(database: PgliteDatabase, onReload: OnNotify): { ready: Promise<void>; stop(): void } {
  let stopped = false
  const notify = () => {
    if (!stopped) onReload()
  }
  let tapped: Set<OnNotify> | undefined
  // Under the driver's mutex, so LISTEN never lands inside another caller's transaction.
  const ready = database
    .withPglite(async (pglite) => {
      tapped = tapRawProtocol(pglite)
      tapped.add(notify)
      await pglite.listen(CHANNEL, (payload) => {
        if (reloads(payload ?? '')) notify()
      })
    })
    .catch(() => {})
  return {
    ready,
    stop() {
      stopped = true
      tapped?.delete(notify)
    },
  }
}
