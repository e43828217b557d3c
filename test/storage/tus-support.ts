/**
 * Resumable uploads driven by tus-js-client, configured as Supabase's docs configure it
 * (`/storage/v1/upload/resumable`, Bearer token + apikey, bucketName/objectName/contentType/
 * cacheControl/metadata, uploadDataDuringCreation, removeFingerprintOnSuccess).
 */
import { spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3'
import * as tus from 'tus-js-client'
import { afterAll, beforeAll, describe } from 'vitest'
import { createBackend } from '../../src/storage/backend/index.ts'
import type { TestDatabase } from '../support/databases.ts'
import { freePort } from '../support/ports.ts'
import { startStorage, type StorageHarness } from './support.ts'

export const MiB = 1024 * 1024

export interface TusOptions {
  endpoint: string
  /** A user's JWT (`authorization: Bearer`); a signed upload sends `signature` instead. */
  token?: string
  apikey?: string
  /** A signed upload URL's token, sent as `x-signature` (to `/upload/resumable/sign`). */
  signature?: string
  bucket: string
  name: string
  contentType?: string
  upsert?: boolean
  chunkSize?: number
  metadata?: Record<string, unknown>
  uploadUrl?: string
  httpStack?: tus.HttpStack
  /** Called after each chunk; return true to abort the upload there. */
  stopAfterChunk?: (bytesAccepted: number) => boolean
  onPatch?: (offset: string | undefined) => void
}

export interface TusOutcome {
  url: string | null
  status: 'done' | 'stopped'
}

export class TusFailure extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly body: string | undefined,
  ) {
    super(message)
  }
}

export function randomFile(size: number): Buffer {
  return randomBytes(size)
}

export function tusUpload(bytes: Buffer, options: TusOptions): Promise<TusOutcome> {
  return new Promise((resolve, reject) => {
    const upload: tus.Upload = new tus.Upload(bytes, {
      endpoint: options.endpoint,
      uploadUrl: options.uploadUrl ?? null,
      retryDelays: [],
      headers: {
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        ...(options.apikey ? { apikey: options.apikey } : {}),
        ...(options.signature ? { 'x-signature': options.signature } : {}),
        ...(options.upsert ? { 'x-upsert': 'true' } : {}),
      },
      uploadDataDuringCreation: true,
      removeFingerprintOnSuccess: true,
      metadata: {
        bucketName: options.bucket,
        objectName: options.name,
        contentType: options.contentType ?? 'application/octet-stream',
        cacheControl: '3600',
        ...(options.metadata ? { metadata: JSON.stringify(options.metadata) } : {}),
      },
      chunkSize: options.chunkSize ?? 6 * MiB,
      ...(options.httpStack ? { httpStack: options.httpStack } : {}),
      onBeforeRequest(req) {
        if (req.getMethod() === 'PATCH') options.onPatch?.(req.getHeader('Upload-Offset'))
      },
      onChunkComplete(_size, accepted) {
        if (options.stopAfterChunk?.(accepted)) {
          void upload.abort().then(() => resolve({ url: upload.url, status: 'stopped' }))
        }
      },
      onSuccess: () => resolve({ url: upload.url, status: 'done' }),
      onError(error) {
        const response = (error as tus.DetailedError).originalResponse
        reject(new TusFailure(error.message, response?.getStatus(), response?.getBody()))
      },
    })
    upload.start()
  })
}

/** The rejection of a tus upload, for `expect(...).toMatchObject`. */
export async function tusFailure(promise: Promise<unknown>): Promise<{ status: number | undefined; body: string | undefined }> {
  try {
    await promise
  } catch (error) {
    if (error instanceof TusFailure) return { status: error.status, body: error.body }
    throw error
  }
  throw new Error('the upload succeeded')
}

export const hasMoto = spawnSync('sh', ['-c', 'command -v moto_server'], { encoding: 'utf8' }).status === 0

/** moto's S3 server on a free port (as s3.test.ts); `stop` kills it. */
export async function startMoto(): Promise<{ endpoint: string; stop: () => void }> {
  const port = await freePort()
  const endpoint = `http://127.0.0.1:${port}`
  const moto = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' })
  for (let i = 0; i < 150; i++) {
    if (await fetch(endpoint).then((r) => r.ok, () => false)) return { endpoint, stop: () => moto.kill() }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  moto.kill()
  throw new Error('moto_server did not start')
}

/**
 * `describe` on S3: moto started for the block, its endpoint handed to `useEndpoint` before the
 * block's own set-up runs; the backend takes credentials from the SDK's default chain, as in AWS.
 */
export function describeOnMoto(useEndpoint: (endpoint: string) => void, body: () => void): void {
  describe.runIf(hasMoto)('on S3 (moto)', () => {
    let moto: Awaited<ReturnType<typeof startMoto>> | undefined
    beforeAll(async () => {
      moto = await startMoto()
      useEndpoint(moto.endpoint)
      process.env.AWS_ACCESS_KEY_ID = 'test'
      process.env.AWS_SECRET_ACCESS_KEY = 'test'
    }, 30_000)
    afterAll(() => {
      moto?.stop()
    })
    body()
  })
}

/** The app on the file backend, or on S3: a fresh bucket of the moto server at `motoEndpoint`. */
export async function startTusStorage(ctx: TestDatabase, kind: 'file' | 's3', motoEndpoint: string): Promise<StorageHarness> {
  if (kind === 'file') return startStorage(ctx)
  const bucket = `tus-${ctx.target}-${Date.now()}`.toLowerCase()
  await new S3Client({ region: 'us-east-1', endpoint: motoEndpoint, forcePathStyle: true }).send(new CreateBucketCommand({ Bucket: bucket }))
  return startStorage(ctx, { STORAGE_BACKEND: 's3', STORAGE_S3_BUCKET: bucket, STORAGE_S3_ENDPOINT: motoEndpoint })
}

/** Everything the app's backend holds (objects and tus state), as sorted locations. */
export async function storedLocations(h: StorageHarness): Promise<string[]> {
  const items: string[] = []
  for await (const item of createBackend(h.app.services.config.storage).listStored()) items.push(item.location)
  return items.sort()
}
