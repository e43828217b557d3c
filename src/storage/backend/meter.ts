/**
 * A pass-through stream that counts and MD5-hashes the bytes of an upload on their way to a
 * backend, and fails once they pass the limit (so an oversized upload stops at the limit).
 * @module
 */
import { createHash } from 'node:crypto'
import { Transform } from 'node:stream'

// `bytes`, not `size`: lib-storage reads a body's `size` as its length, before any byte has passed.
export type Meter = Transform & { bytes: number; md5: () => string }

export function meter(maxBytes: number, tooLarge: () => Error): Meter {
  const hash = createHash('md5')
  let digest: string | undefined
  const transform = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      state.bytes += chunk.length
      if (state.bytes > maxBytes) return callback(tooLarge())
      hash.update(chunk)
      callback(null, chunk)
    },
  })
  const state: Meter = Object.assign(transform, { bytes: 0, md5: () => (digest ??= hash.digest('hex')) })
  return state
}
