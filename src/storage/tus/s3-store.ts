/**
 * Resumable uploads on S3: @tus/s3-store runs one S3 multipart upload per tus upload, keyed at
 * the object's final versioned key (`s3Key(bucket/name/version)`), with its state in the bucket
 * (`~tus/<hash>.info`, and `~tus/<hash>.part` for a tail under 5 MiB) — so any server or Lambda instance can
 * take the next PATCH. When the last part arrives the store completes the multipart upload: the
 * bytes are then at their key, and nothing reads them until the row commits. No copy.
 * @module
 */
import { createHash } from 'node:crypto'
import { S3Store, type MetadataValue } from '@tus/s3-store'
import type { KvStore, Upload } from '@tus/server'
import type { S3Settings } from '../../config/storage.ts'
import { s3Key } from '../backend/s3-keys.ts'
import type { StagedObject } from '../backend/types.ts'
import { MappedStore } from './mapped-store.ts'
import type { TusStore } from './store.ts'

/** Parts of 6 MiB: one per 6 MiB PATCH, the chunk size Supabase recommends (API Gateway's 6 MB cap). */
const PART_SIZE = 6 * 1024 * 1024
const EMPTY_MD5 = 'd41d8cd98f00b204e9800998ecf8427e'

/**
 * No cache of the `.info` between requests: another instance may have expired the upload (the
 * store would then take the missing multipart upload for a finished one). One small GET per use.
 */
class NoCache<T> implements KvStore<T> {
  async get(): Promise<T | undefined> {
    return undefined
  }
  async set() {}
  async delete() {}
  async list() {
    return []
  }
}

/**
 * Upload state lives under `~tus/` (no bucket name has a `~`) at a hash of the key: a key near
 * S3's 1024 bytes would overflow with a suffix, and some servers resolve `..` in key paths.
 */
class BackendS3Store extends S3Store {
  protected override infoKey(id: string): string {
    return `~tus/${createHash('sha256').update(id).digest('hex')}.info`
  }

  protected override partKey(id: string, isIncomplete = false): string {
    return isIncomplete ? `~tus/${createHash('sha256').update(id).digest('hex')}.part` : id
  }

  async objectAt(key: string): Promise<{ size: number; etag: string }> {
    const head = await this.client.headObject({ Bucket: this.bucket, Key: key })
    return { size: head.ContentLength ?? 0, etag: (head.ETag ?? '').replace(/"/g, '') }
  }

  async putEmpty(key: string): Promise<void> {
    await this.client.putObject({ Bucket: this.bucket, Key: key, Body: '' })
  }

  async removeKeys(keys: string[]): Promise<void> {
    await this.client.deleteObjects({ Bucket: this.bucket, Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true } })
  }

  /**
   * Aborts the multipart uploads of expired tus uploads and drops their state. Expiry is judged
   * by the `.info`'s creation date, not by S3's `Initiated` (some S3-compatible servers report
   * a fixed date there, which made the library's own pass abort uploads in flight).
   */
  override async deleteExpired(): Promise<number> {
    const expiration = this.getExpiration()
    if (expiration === 0) return 0
    let removed = 0
    let KeyMarker: string | undefined
    let UploadIdMarker: string | undefined
    do {
      const page = await this.client.listMultipartUploads({ Bucket: this.bucket, KeyMarker, UploadIdMarker })
      for (const upload of page.Uploads ?? []) {
        if (!upload.Key || !upload.UploadId || upload.Key.startsWith('~tus/')) continue
        // No `.info` (yet): an upload being created right now, or one a crash left half made —
        // skipped either way; the bucket's lifecycle rule aborts the latter.
        const created = await this.createdAt(upload.Key)
        if (created === undefined || Date.now() < created + expiration) continue
        await this.client.abortMultipartUpload({ Bucket: this.bucket, Key: upload.Key, UploadId: upload.UploadId })
        await this.forgetState(upload.Key)
        removed++
      }
      KeyMarker = page.IsTruncated ? page.NextKeyMarker : undefined
      UploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined
    } while (KeyMarker)
    return removed
  }

  private async createdAt(key: string): Promise<number | undefined> {
    try {
      const date = (await this.getMetadata(key)).file.creation_date
      return date ? new Date(date).getTime() : undefined
    } catch {
      return undefined
    }
  }

  async forgetState(key: string): Promise<void> {
    await this.removeKeys([this.infoKey(key), this.partKey(key, true)])
    await this.clearCache(key)
  }
}

export function s3TusStore(settings: S3Settings, expirationMs: number): TusStore {
  const inner = new BackendS3Store({
    partSize: PART_SIZE,
    expirationPeriodInMilliseconds: expirationMs,
    // Tags mark finished uploads for lifecycle rules; not every S3-compatible server has them.
    useTags: false,
    cache: new NoCache<MetadataValue>(),
    s3ClientConfig: { bucket: settings.bucket, region: settings.region, endpoint: settings.endpoint, forcePathStyle: settings.forcePathStyle },
  })
  const datastore = new MappedStore(inner, s3Key)

  return {
    datastore,
    async staged(upload: Upload): Promise<StagedObject> {
      const key = s3Key(upload.id)
      if (upload.size === 0) {
        // A multipart upload needs a part: an empty object is written directly instead (after
        // aborting the multipart upload, which some servers complete without parts and some refuse).
        await inner.remove(key).catch(() => undefined)
        await inner.putEmpty(key)
      }
      const object = upload.size === 0 ? { size: 0, etag: EMPTY_MD5 } : await inner.objectAt(key)
      let settled = false
      return {
        size: object.size,
        // A multipart ETag (`<md5 of part md5s>-<parts>`), as S3 and storage-api report it.
        etag: object.etag,
        async commit() {
          settled = true
        },
        async discard() {
          if (settled) return
          settled = true
          await inner.removeKeys([key])
        },
      }
    },
    forget: (id) => inner.forgetState(s3Key(id)),
  }
}
