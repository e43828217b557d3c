/**
 * The two ends of `storage import` / `storage export`: where an object's bytes are read from and
 * written to. A local folder laid out as `<bucket>/<name>` (what `supabase storage cp -r`
 * downloads), an S3-compatible endpoint (Supabase Storage speaks S3), or this service's backend.
 * @module
 */
import { randomUUID } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { S3ClientConfig } from '@aws-sdk/client-s3'
import type { StorageBackend } from './backend/types.ts'
import { objectKey } from './backend/types.ts'

/** One object as `storage.objects` knows it. */
export interface TransferItem {
  bucket: string
  name: string
  version: string | null
  /** `metadata.size`, when the row has it. */
  size: number | null
}

export interface TransferSource {
  /** The object's bytes, or undefined when the source does not have it. */
  open(item: TransferItem): Promise<Readable | undefined>
}

export interface TransferTarget {
  /** Size of what is already there, or undefined. */
  size(item: TransferItem): Promise<number | undefined>
  write(item: TransferItem, body: Readable): Promise<void>
}

/** Thrown for a name a file system cannot hold as `<bucket>/<name>` (counted as failed). */
export class UnportableName extends Error {}

/** `<root>/<bucket>/<name…>`; refuses segments that would leave the folder or cannot be files. */
export function folderPath(root: string, item: TransferItem): string {
  const segments = [item.bucket, ...item.name.split('/')]
  if (segments.some((segment) => segment === '' || segment === '.' || segment === '..' || segment.includes('\0'))) {
    throw new UnportableName(`${item.bucket}/${item.name}: not a portable file path (empty, '.' or '..' segment)`)
  }
  const resolved = path.join(path.resolve(root), ...segments)
  if (!resolved.startsWith(path.resolve(root) + path.sep)) throw new UnportableName(`${item.bucket}/${item.name}: outside the folder`)
  return resolved
}

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR'
}

export function folderSource(root: string): TransferSource {
  return {
    async open(item) {
      const file = folderPath(root, item)
      const info = await fs.stat(file).catch((error: unknown) => (isMissing(error) ? undefined : Promise.reject(error)))
      if (!info?.isFile()) return undefined
      return createReadStream(file, { highWaterMark: 1024 * 1024 })
    },
  }
}

export function folderTarget(root: string): TransferTarget {
  return {
    async size(item) {
      const info = await fs.stat(folderPath(root, item)).catch((error: unknown) => (isMissing(error) ? undefined : Promise.reject(error)))
      return info?.isFile() ? info.size : undefined
    },
    async write(item, body) {
      const file = folderPath(root, item)
      await fs.mkdir(path.dirname(file), { recursive: true })
      // Written beside, renamed into place: an interrupted export never leaves a short file at the name.
      const temp = `${file}.${randomUUID()}.part`
      try {
        await pipeline(body, createWriteStream(temp, { flags: 'wx' }))
        await fs.rename(temp, file)
      } catch (error) {
        await fs.rm(temp, { force: true })
        throw error
      }
    },
  }
}

const backendKey = (item: TransferItem) => objectKey(item.bucket, item.name, item.version ?? '')

/** This service's backend, at the version key the row points at. */
export function backendSource(backend: StorageBackend): TransferSource {
  return { open: (item) => backend.read(backendKey(item)) }
}

export function backendTarget(backend: StorageBackend): TransferTarget {
  return {
    async size(item) {
      return (await backend.stat(backendKey(item)))?.size
    },
    async write(item, body) {
      // No limit here: the row already exists, the bytes are the project's own.
      const staged = await backend.stage(backendKey(item), body, { maxBytes: Number.MAX_SAFE_INTEGER, tooLarge: () => new Error('too large') })
      await staged.commit()
    },
  }
}

export interface S3SourceOptions {
  /** Empty: every storage bucket is the S3 bucket of the same name, key = object name (Supabase's S3 protocol). */
  bucket: string
  /** With `bucket`: keys are `<prefix>/<storage bucket>/<name>` (a mirror of the folder layout). */
  prefix: string
  region: string
  endpoint?: string
  forcePathStyle?: boolean
  credentials?: S3ClientConfig['credentials']
}

/** `s3://` or `s3://bucket[/prefix]` → where the S3 source reads. */
export function parseS3Url(url: string): Pick<S3SourceOptions, 'bucket' | 'prefix'> {
  const rest = url.slice('s3://'.length)
  const slash = rest.indexOf('/')
  if (slash < 0) return { bucket: rest, prefix: '' }
  return { bucket: rest.slice(0, slash), prefix: rest.slice(slash + 1).replace(/\/+$/, '') }
}

export async function s3Source(options: S3SourceOptions): Promise<TransferSource & { close(): void }> {
  // The SDK loads only when an import reads from S3.
  const { GetObjectCommand, S3Client } = await import('@aws-sdk/client-s3')
  const client = new S3Client({ region: options.region, endpoint: options.endpoint, forcePathStyle: options.forcePathStyle, credentials: options.credentials })
  const locate = (item: TransferItem) =>
    options.bucket === ''
      ? { Bucket: item.bucket, Key: item.name }
      : { Bucket: options.bucket, Key: [options.prefix, item.bucket, item.name].filter((part) => part !== '').join('/') }
  return {
    async open(item) {
      try {
        const result = await client.send(new GetObjectCommand(locate(item)))
        return result.Body as Readable
      } catch (error) {
        const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode
        const name = (error as { name?: string }).name
        if (status === 404 || name === 'NoSuchKey' || name === 'NoSuchBucket') return undefined
        throw error
      }
    },
    close: () => client.destroy(),
  }
}
