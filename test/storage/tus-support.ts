/**
 * Resumable uploads driven by tus-js-client, configured as Supabase's docs configure it
 * (`/storage/v1/upload/resumable`, Bearer token + apikey, bucketName/objectName/contentType/
 * cacheControl/metadata, uploadDataDuringCreation, removeFingerprintOnSuccess).
 */
import { spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import * as tus from 'tus-js-client'
import { freePort } from '../support/ports.ts'

export const MiB = 1024 * 1024

export interface TusOptions {
  endpoint: string
  token: string
  apikey: string
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
      headers: { authorization: `Bearer ${options.token}`, apikey: options.apikey, ...(options.upsert ? { 'x-upsert': 'true' } : {}) },
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
