/**
 * The Amazon S3 backend (AWS SDK v3; any S3-compatible endpoint). Keys are versioned, so a new
 * upload goes straight to its final key — nothing reads it until its row commits — and
 * `discard` deletes it. Uploads stream through `@aws-sdk/lib-storage` (multipart, a few parts in
 * flight: memory stays flat whatever the size); downloads stream the GetObject body.
 * Copies over CopyObject's 5 GB go part by part (UploadPartCopy).
 * Credentials come from the SDK's default chain (environment, task role, instance profile, Lambda role).
 * @module
 */
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  UploadPartCopyCommand,
  type S3ClientConfig,
} from '@aws-sdk/client-s3'
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
  /** Copies of objects larger than this go part by part (UploadPartCopy); default 5 GiB, CopyObject's limit. */
  copyPartThreshold?: number
  /** Part size of such copies (at least what keeps them within 10,000 parts); default 512 MiB. */
  copyPartSize?: number
}

const PART_SIZE = 8 * 1024 * 1024
const PARTS_IN_FLIGHT = 2
const DELETE_BATCH = 1000
const GiB = 1024 * 1024 * 1024
/** CopyObject's limit: larger objects can only be copied part by part. */
const COPY_OBJECT_LIMIT = 5 * GiB
const MAX_PARTS = 10_000
const COPY_PARTS_IN_FLIGHT = 4


function isNotFound(error: unknown): boolean {
  const name = (error as { name?: string }).name
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode
  return name === 'NoSuchKey' || name === 'NotFound' || status === 404
}

/**
 * Signs requests without hashing their bodies (`x-amz-content-sha256: UNSIGNED-PAYLOAD`, which S3
 * accepts on every request): the SDK would otherwise SHA-256 every byte of every part it sends, on
 * top of the CRC32 checksum it sends beside them, which S3 verifies — that checksum, and TLS,
 * already guard the bytes on the way. Saves ≈ 2.5 ms of CPU per MiB uploaded.
 */
function signWithoutPayloadHash(client: S3Client): void {
  client.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { headers?: Record<string, string> }
      // A body sent as a stream already says how (STREAMING-UNSIGNED-PAYLOAD-TRAILER): kept.
      if (request.headers && !Object.keys(request.headers).some((name) => name.toLowerCase() === 'x-amz-content-sha256')) request.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD'
      return next(args)
    },
    // Last of its step: after the checksum middleware has said how the body goes.
    { step: 'build', priority: 'low', name: 'resolutionUnsignedPayload' },
  )
}

export function createS3Backend(options: S3BackendOptions): StorageBackend {
  const client = new S3Client({ region: options.region, endpoint: options.endpoint, forcePathStyle: options.forcePathStyle, credentials: options.credentials })
  signWithoutPayloadHash(client)
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
      // No MD5 here: S3 computes it and answers the ETag (storage-api reports S3's ETag too).
      const counter = meter(maxBytes, tooLarge, { md5: false })
      const upload = new Upload({ client, params: { Bucket, Key: s3Key(key), Body: counter }, partSize: PART_SIZE, queueSize: PARTS_IN_FLIGHT, leavePartsOnError: false })
      let feedError: unknown
      const feeding = pipeline(body, counter).catch((error: unknown) => {
        feedError = error
        throw error
      })
      let etag: string | undefined
      try {
        const [uploaded] = await Promise.all([upload.done(), feeding])
        etag = uploaded.ETag
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
        etag: (etag ?? '').replace(/^"|"$/g, ''),
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
      const CopySource = `${Bucket}/${s3Key(fromKey).split('/').map(encodeURIComponent).join('/')}`
      const Key = s3Key(toKey)
      const size = (await client.send(new HeadObjectCommand({ Bucket, Key: s3Key(fromKey) }))).ContentLength ?? 0
      if (size <= (options.copyPartThreshold ?? COPY_OBJECT_LIMIT)) {
        await client.send(new CopyObjectCommand({ Bucket, Key, CopySource }))
        return
      }
      const partSize = Math.max(options.copyPartSize ?? 512 * 1024 * 1024, Math.ceil(size / MAX_PARTS))
      await multipartCopy(client, { Bucket, Key, CopySource }, size, partSize)
    },
  }
}

/** A copy part by part (UploadPartCopy), a few parts at a time; aborted (no parts left behind) on failure. */
async function multipartCopy(client: S3Client, target: { Bucket: string; Key: string; CopySource: string }, size: number, partSize: number): Promise<void> {
  const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: target.Bucket, Key: target.Key }))
  const ranges: Array<{ PartNumber: number; range: string }> = []
  for (let start = 0, PartNumber = 1; start < size; start += partSize, PartNumber++) {
    ranges.push({ PartNumber, range: `bytes=${start}-${Math.min(start + partSize, size) - 1}` })
  }
  const parts: Array<{ PartNumber: number; ETag: string | undefined }> = []
  try {
    let next = 0
    const worker = async () => {
      while (next < ranges.length) {
        const { PartNumber, range } = ranges[next++]!
        const result = await client.send(new UploadPartCopyCommand({ ...target, UploadId, PartNumber, CopySourceRange: range }))
        parts.push({ PartNumber, ETag: result.CopyPartResult?.ETag })
      }
    }
    await Promise.all(Array.from({ length: Math.min(COPY_PARTS_IN_FLIGHT, ranges.length) }, worker))
    parts.sort((a, b) => a.PartNumber - b.PartNumber)
    await client.send(new CompleteMultipartUploadCommand({ Bucket: target.Bucket, Key: target.Key, UploadId, MultipartUpload: { Parts: parts } }))
  } catch (error) {
    await client.send(new AbortMultipartUploadCommand({ Bucket: target.Bucket, Key: target.Key, UploadId })).catch(() => undefined)
    throw error
  }
}
