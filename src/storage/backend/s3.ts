/**
 * The Amazon S3 backend (AWS SDK v3; any S3-compatible endpoint). Keys are versioned, so a new
 * upload goes straight to its final key — nothing reads it until its row commits — and
 * `discard` deletes it. Uploads stream through `@aws-sdk/lib-storage` (multipart, a few parts in
 * flight: memory stays flat whatever the size); downloads stream the GetObject body.
 * Credentials come from the SDK's default chain (environment, task role, instance profile, Lambda role).
 * @module
 */
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { CopyObjectCommand, DeleteObjectsCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { meter } from './meter.ts'
import { s3Key, storageKeyOfS3 } from './s3-keys.ts'
import type { ByteRange, ObjectStat, StagedObject, StorageBackend, StoredItem } from './types.ts'

export interface S3BackendOptions {
  bucket: string
  region: string
  endpoint?: string
  forcePathStyle?: boolean
  /** Only for tests and odd setups: otherwise the default credential chain. */
  credentials?: S3ClientConfig['credentials']
}

const PART_SIZE = 8 * 1024 * 1024
const PARTS_IN_FLIGHT = 2
const DELETE_BATCH = 1000


function isNotFound(error: unknown): boolean {
  const name = (error as { name?: string }).name
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode
  return name === 'NoSuchKey' || name === 'NotFound' || status === 404
}

export function createS3Backend(options: S3BackendOptions): StorageBackend {
  const client = new S3Client({ region: options.region, endpoint: options.endpoint, forcePathStyle: options.forcePathStyle, credentials: options.credentials })
  const Bucket = options.bucket

  async function removeKeys(keys: readonly string[]): Promise<void> {
    await removeLocations(keys.map(s3Key))
  }

  async function removeLocations(locations: readonly string[]): Promise<void> {
    for (let i = 0; i < locations.length; i += DELETE_BATCH) {
      const Objects = locations.slice(i, i + DELETE_BATCH).map((Key) => ({ Key }))
      const result = await client.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects, Quiet: true } }))
      if (result.Errors?.length) throw new Error(`S3 could not delete ${result.Errors.length} object(s): ${result.Errors[0]?.Code} ${result.Errors[0]?.Message}`)
    }
  }

  return {
    kind: 's3',

    async stage(key, body, { maxBytes, tooLarge }): Promise<StagedObject> {
      const counter = meter(maxBytes, tooLarge)
      const upload = new Upload({ client, params: { Bucket, Key: s3Key(key), Body: counter }, partSize: PART_SIZE, queueSize: PARTS_IN_FLIGHT, leavePartsOnError: false })
      let feedError: unknown
      const feeding = pipeline(body, counter).catch((error: unknown) => {
        feedError = error
        throw error
      })
      try {
        await Promise.all([upload.done(), feeding])
      } catch (error) {
        // The body's own failure (too large, client gone) explains more than the SDK's echo of it.
        const cause = feedError ?? error
        counter.destroy()
        await feeding.catch(() => undefined)
        await upload.abort().catch(() => undefined)
        await removeKeys([key]).catch(() => undefined)
        throw cause
      }
      let settled = false
      return {
        size: counter.bytes,
        md5: counter.md5(),
        async commit() {
          settled = true
        },
        async discard() {
          if (settled) return
          settled = true
          await removeKeys([key])
        },
      }
    },

    async read(key, range?: ByteRange): Promise<Readable | undefined> {
      try {
        const result = await client.send(new GetObjectCommand({ Bucket, Key: s3Key(key), Range: range ? `bytes=${range.start}-${range.end}` : undefined }))
        return result.Body as Readable
      } catch (error) {
        if (isNotFound(error)) return undefined
        throw error
      }
    },

    async stat(key): Promise<ObjectStat | undefined> {
      try {
        const result = await client.send(new HeadObjectCommand({ Bucket, Key: s3Key(key) }))
        return { size: result.ContentLength ?? 0, lastModified: result.LastModified ?? new Date(0) }
      } catch (error) {
        if (isNotFound(error)) return undefined
        throw error
      }
    },

    remove: removeKeys,
    locate: s3Key,
    keyAt: storageKeyOfS3,
    removeStored: removeLocations,

    async *listStored(): AsyncIterable<StoredItem> {
      let ContinuationToken: string | undefined
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket, ContinuationToken }))
        for (const object of page.Contents ?? []) yield { location: object.Key!, lastModified: object.LastModified ?? new Date(0) }
        ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined
      } while (ContinuationToken)
    },

    async copy(fromKey, toKey) {
      // CopyObject handles objects up to 5 GB; larger ones would need UploadPartCopy.
      const source = s3Key(fromKey).split('/').map(encodeURIComponent).join('/')
      await client.send(new CopyObjectCommand({ Bucket, Key: s3Key(toKey), CopySource: `${Bucket}/${source}` }))
    },
  }
}
