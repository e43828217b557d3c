/**
 * A pass-through stream that counts the bytes of an upload on their way to a backend (MD5-hashing
 * them when the backend needs the hash for the ETag), and fails once they pass the limit (so an
 * oversized upload stops at the limit).
 * @module
 */
import { createHash } from 'node:crypto'
import { Transform } from 'node:stream'

// `bytes`, not `size`: lib-storage reads a body's `size` as its length, before any byte has passed.
export type Meter = Transform & { bytes: number; md5: () => string }

/** `md5: false` skips the hash (S3 reports the ETag itself): `md5()` then throws. */
export function meter(maxBytes: number, tooLarge: () => Error, { md5 = true }: { md5?: boolean } = {}): Meter {
  const hash = md5 ? createHash('md5') : undefined
  let digest: string | undefined
  const transform = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      state.bytes += chunk.length
      if (state.bytes > maxBytes) return callback(tooLarge())
      hash?.update(chunk)
      callback(null, chunk)
    },
  })
  const state: Meter = Object.assign(transform, {
    bytes: 0,
    md5: () => {
      if (!hash) throw new Error('meter: the bytes were not hashed')
      return (digest ??= hash.digest('hex'))
    },
  })
  return state
}
