/**
 * Object keys as stored in S3, apart from the SDK so the lazy S3 backend can name locations
 * without loading it.
 * @module
 */
import { createHash } from 'node:crypto'

/** S3's limit on a key, in UTF-8 bytes. */
const MAX_KEY_BYTES = 1024

/** The S3 key of a storage key; names too long for S3's 1024 bytes are hashed (kept unique). */
export function s3Key(key: string): string {
  if (Buffer.byteLength(key, 'utf8') <= MAX_KEY_BYTES) return key
  const bucket = key.slice(0, key.indexOf('/'))
  return `${bucket}/~long/${createHash('sha256').update(key).digest('hex')}`
}

/** The storage key an S3 key holds (`s3Key`'s inverse); undefined for hashed long names and other keys. */
export function storageKeyOfS3(location: string): string | undefined {
  const parts = location.split('/')
  if (parts.length < 3 || parts[1] === '~long') return undefined
  return s3Key(location) === location ? location : undefined
}
