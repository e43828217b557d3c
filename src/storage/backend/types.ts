/**
 * The seam between `/storage/v1` and where bytes live (the file system, S3). Keys are
 * `<bucket>/<object name>/<version>`: each upload writes a new version, so an upsert never
 * overwrites the bytes the current row points at until the new row has committed.
 * @module
 */
import type { Readable } from 'node:stream'

export interface ObjectStat {
  size: number
  lastModified: Date
}

/** Bytes written where nothing reads them yet: `commit` puts them at their key, `discard` drops them. */
export interface StagedObject {
  size: number
  /**
   * The bytes' ETag, unquoted: their MD5 in hex (file backend; S3's ETag of a single-part upload),
   * or S3's multipart ETag (`<md5 of the parts' md5s>-<parts>`) — what S3 answers, as storage-api reports it.
   */
  etag: string
  commit(): Promise<void>
  discard(): Promise<void>
}

/** Inclusive byte range, as HTTP's `Range: bytes=start-end`. */
export interface ByteRange {
  start: number
  end: number
}

export interface StorageBackend {
  readonly kind: 'file' | 's3'
  /** Streams `body` to a staging place; rejects with `tooLarge()` past `maxBytes` (and keeps nothing). */
  stage(key: string, body: Readable, options: { maxBytes: number; tooLarge: () => Error }): Promise<StagedObject>
  /** The bytes of `key` (or of `range`); undefined when the key holds nothing. */
  read(key: string, range?: ByteRange): Promise<Readable | undefined>
  stat(key: string): Promise<ObjectStat | undefined>
  /** Removes keys; missing ones are not an error. */
  remove(keys: readonly string[]): Promise<void>
  copy(fromKey: string, toKey: string): Promise<void>
  /** Where `key` is stored (a path, an S3 key): what `listStored` yields for it. For the sweep. */
  locate(key: string): string
  /**
   * The key stored at `location` (`locate`'s inverse), or undefined where it cannot be read back:
   * staging leftovers, names too long that were hashed, anything else. For the sweep.
   */
  keyAt(location: string): string | undefined
  /** Everything stored, staging leftovers included; streamed, never all in memory at once. */
  listStored(): AsyncIterable<StoredItem>
  removeStored(locations: readonly string[]): Promise<void>
}

export interface StoredItem {
  location: string
  lastModified: Date
}

export function objectKey(bucket: string, name: string, version: string): string {
  return `${bucket}/${name}/${version}`
}
