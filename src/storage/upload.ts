/**
 * An upload, bytes and row kept consistent: the bytes stream to a staging place first (limits
 * enforced on the way), then one transaction as the caller inserts or replaces the row and, as
 * its last step, moves the bytes to their new version's key. A failure anywhere before that
 * leaves neither row nor bytes; the replaced version's bytes go only once the new row committed
 * (after the response: removals.ts).
 * @module
 */
import { randomUUID } from 'node:crypto'
import type { RequestTx } from '../db/session.ts'
import type { Services } from '../services.ts'
import { inOneStatement, inTransaction, type Caller } from './access.ts'
import { objectKey, type StagedObject, type StorageBackend } from './backend/types.ts'
import { findBucket } from './buckets.ts'
import { storageErrors } from './errors.ts'
import { mimeTypeAllowed } from './limits.ts'
import { canInsert, findObject, insertObject, replaceObject, type NewObject } from './objects.ts'
import { removeReplacedBytes } from './removals.ts'
import type { UploadBody } from './upload-body.ts'

export interface UploadTarget {
  bucket: string
  name: string
  upsert: boolean
  /** Content-Length of a raw body, to refuse an oversized upload before reading it. */
  declaredLength: number | undefined
}

/**
 * Who writes an upload's row: the caller (RLS decides), or the service for a signed upload URL's
 * owner (the URL was only made for someone whose policy admitted the row).
 */
export type UploadWriter = Caller | { service: true; ownerId: string | undefined }

export interface UploadResult {
  id: string
  key: string
}

/** Checks the bucket's rules (read as the service, as storage-api does) and returns the byte limit. */
export async function uploadLimit(services: Services, target: UploadTarget, contentType: string): Promise<number> {
  const bucket = await inOneStatement(services, 'service', (tx) => findBucket(tx, target.bucket))
  if (!bucket) throw storageErrors.noSuchBucket()
  const global = services.config.storage.fileSizeLimit
  const limit = bucket.file_size_limit === null ? global : Math.min(global, bucket.file_size_limit)
  if (!mimeTypeAllowed(contentType, bucket.allowed_mime_types)) throw storageErrors.invalidMimeType(contentType)
  if (target.declaredLength !== undefined && target.declaredLength > limit) throw storageErrors.entityTooLarge()
  return limit
}

/** Serialises upserts of one name, so the row replaced (and its bytes removed) is the latest. */
async function lockName(tx: RequestTx, bucket: string, name: string): Promise<void> {
  await tx.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`storage:${bucket}/${name}`])
}

/**
 * `caller` is the role that writes the row (RLS decides); 'service' with `owner` for signed
 * upload URLs, whose permission was checked when the URL was made.
 */
export async function uploadObject(
  services: Services,
  backend: StorageBackend,
  caller: UploadWriter,
  target: UploadTarget,
  body: UploadBody,
): Promise<UploadResult> {
  let limit: number
  try {
    limit = await uploadLimit(services, target, body.contentType)
    // A name taken, or one the caller's policy refuses, is refused before its bytes are read (as storage-api).
    if (!('service' in caller) && !target.upsert) {
      await inTransaction(services, caller, async (tx) => {
        if (await findObject(tx, target.bucket, target.name)) throw storageErrors.keyAlreadyExists()
        await canInsert(tx, target.bucket, target.name, caller.ownerId)
      })
    }
  } catch (error) {
    body.stream.resume() // drain what the client is still sending
    throw error
  }
  const version = randomUUID()
  const staged = await backend.stage(objectKey(target.bucket, target.name, version), body.stream, { maxBytes: limit, tooLarge: storageErrors.entityTooLarge })
  return writeUploadedObject(services, backend, caller, target, { version, staged, contentType: body.contentType, cacheControl: body.cacheControl, userMetadata: body.userMetadata })
}

/** Bytes already staged at `version` (a streamed body, a finished resumable upload) and what the row says of them. */
export interface UploadedBytes {
  version: string
  staged: StagedObject
  contentType: string
  cacheControl: string
  userMetadata: Record<string, unknown> | null
}

/**
 * The second half of an upload: one transaction as `caller` inserts or replaces the row and, as
 * its last step, commits the staged bytes; on any failure the bytes are discarded. The replaced
 * version's bytes go once the row has committed, in the background (removals.ts).
 */
export async function writeUploadedObject(
  services: Services,
  backend: StorageBackend,
  caller: UploadWriter,
  target: Pick<UploadTarget, 'bucket' | 'name' | 'upsert'>,
  bytes: UploadedBytes,
): Promise<UploadResult> {
  const { version, staged } = bytes
  const object: NewObject = {
    id: randomUUID(),
    bucket: target.bucket,
    name: target.name,
    version,
    metadata: {
      eTag: `"${staged.etag}"`,
      size: staged.size,
      mimetype: bytes.contentType,
      cacheControl: bytes.cacheControl,
      lastModified: new Date().toUTCString(),
      contentLength: staged.size,
      httpStatusCode: 200,
    },
    userMetadata: bytes.userMetadata,
  }
  const writer: Caller | undefined = 'service' in caller ? { role: 'service_role', claims: {}, ownerId: caller.ownerId } : caller
  let replaced: string | null | undefined
  try {
    const id = await inTransaction(services, 'service' in caller ? 'service' : caller, async (tx) => {
      replaced = undefined
      let rowId = object.id
      if (target.upsert) {
        await lockName(tx, target.bucket, target.name)
        const existing = await findObject(tx, target.bucket, target.name, { forUpdate: true })
        if (existing) {
          await replaceObject(tx, writer, existing.id, object)
          replaced = existing.version
          rowId = existing.id
        } else await insertObject(tx, writer, object)
      } else await insertObject(tx, writer, object)
      await staged.commit()
      return rowId
    })
    if (replaced !== undefined) removeReplacedBytes(services, backend, [objectKey(target.bucket, target.name, replaced ?? '')])
    return { id, key: `${target.bucket}/${target.name}` }
  } catch (error) {
    await staged.discard()
    throw error
  }
}
