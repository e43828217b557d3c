/**
 * The tus server behind `/storage/v1/upload/resumable` (@tus/server's web handler), wired the way
 * storage-api wires it: the id is `bucket/name/version` (base64url in the URL), every request
 * but OPTIONS carries a token that is verified first, creation and each PATCH/DELETE are
 * authorized as the caller (authorize.ts), and the finished upload becomes a row through the
 * same transaction as any upload (`writeUploadedObject`). Under `/upload/resumable/sign` the
 * token is a signed upload URL's, in `x-signature`, checked against the upload's name on every
 * request; it decides owner and upsert, and the service writes the row. Loaded on the first
 * resumable request.
 * @module
 */
import { randomUUID } from 'node:crypto'
import { Metadata, Server, type Upload } from '@tus/server'
import type { Context } from 'hono'
import { HttpError } from '../../errors.ts'
import type { Services } from '../../services.ts'
import { callerOf, inTransaction } from '../access.ts'
import type { StorageBackend } from '../backend/types.ts'
import { findBucket } from '../buckets.ts'
import { storageErrors } from '../errors.ts'
import { checkBucketName, checkObjectName } from '../names.ts'
import { isSignedResumablePath, storagePath } from '../request.ts'
import { verifyObjectToken } from '../signing.ts'
import { writeUploadedObject, type UploadWriter } from '../upload.ts'
import { authorizeUpload } from './authorize.ts'
import { createTusStore, type TusStore } from './store.ts'
import { idOfUrlSegment, parseUploadId, uploadIdString, urlSegmentOf, type UploadId } from './upload-id.ts'

interface RequestContext {
  /** Under `/upload/resumable/sign`: `signature` (the `x-signature` header) is verified against the upload's name on every request. */
  signed: boolean
  signature?: string | undefined
  /** Who writes, and over an existing row or not: the JWT's caller and `x-upsert`, or (signed) the token's say once verified. */
  writer: UploadWriter | undefined
  upsert: boolean
  /** Set when this request finished an upload: its state goes once the response is made. */
  finished?: string
}

type UploadMetadata = Record<string, string | null> | undefined

const DEFAULT_CONTENT_TYPE = 'application/octet-stream'
/** How often (at most) a creation also removes expired unfinished uploads, in this process. */
const EXPIRE_EVERY_MS = 10 * 60 * 1000

function contentTypeOf(metadata: UploadMetadata): string {
  return metadata?.contentType || DEFAULT_CONTENT_TYPE
}

/** `metadata` (a JSON object) as the row's user_metadata; anything else is ignored, as storage-api does. */
function userMetadataOf(metadata: UploadMetadata): Record<string, unknown> | null {
  if (!metadata?.metadata) return null
  try {
    const value: unknown = JSON.parse(metadata.metadata)
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null
  } catch {
    return null
  }
}

function writerOf(context: RequestContext): UploadWriter {
  if (!context.writer) throw storageErrors.invalidSignature()
  return context.writer
}

/**
 * A signed resumable upload's token, on every request (it may expire mid-upload): an upload
 * token for this very name, as storage-api's `verifyObjectSignature`. It decides the owner and
 * upsert, as for `uploadToSignedUrl`.
 */
async function acceptSignature(services: Services, context: RequestContext, id: UploadId): Promise<void> {
  if (!context.signature) throw storageErrors.invalidSignature('Missing x-signature header')
  const grant = await verifyObjectToken(services.jwt, context.signature, 'upload', `${id.bucket}/${id.name}`)
  context.writer = { service: true, ownerId: grant.owner }
  context.upsert = grant.upsert
}

function parseMetadataHeader(header: string | null): UploadMetadata {
  if (!header) return undefined
  try {
    return Metadata.parse(header)
  } catch {
    throw storageErrors.invalidParameter('upload-metadata', 'Invalid Upload-Metadata header')
  }
}

export type TusHandler = (c: Context) => Promise<Response>

export async function createTusHandler(services: Services, backend: StorageBackend): Promise<TusHandler> {
  const store = await createTusStore(services.config.storage, backend.kind)
  const contexts = new WeakMap<Request, RequestContext>()
  const contextOf = (req: Request): RequestContext => {
    const context = contexts.get(req)
    if (!context) throw storageErrors.invalidJwt('Invalid JWT')
    return context
  }
  const globalLimit = services.config.storage.fileSizeLimit
  const expire = expirer(services, store)

  const server = new Server({
    path: '/storage/v1/upload/resumable',
    datastore: store.datastore,
    disableTerminationForFinishedUploads: true,
    allowedHeaders: ['Authorization', 'X-Upsert', 'Upload-Expires', 'ApiKey', 'x-signature'],
    namingFunction(_req, metadata) {
      if (!metadata) throw storageErrors.missingParameter('Upload-Metadata')
      const bucket = checkBucketName(metadata.bucketName ?? '')
      const name = checkObjectName(metadata.objectName ?? '')
      return uploadIdString({ bucket, name, version: randomUUID() })
    },
    async maxSize(_req, uploadId) {
      if (!uploadId) return globalLimit
      const row = await inTransaction(services, 'service', (tx) => findBucket(tx, parseUploadId(uploadId).bucket))
      return row?.file_size_limit == null ? globalLimit : Math.min(globalLimit, row.file_size_limit)
    },
    async onIncomingRequest(req, id) {
      const context = contextOf(req)
      if (req.method === 'OPTIONS') return
      // Signed: even HEAD needs the token (as storage-api); with a JWT, a valid token is enough for HEAD.
      if (context.signed) await acceptSignature(services, context, parseUploadId(id))
      if (req.method === 'HEAD') return
      const uploadId = parseUploadId(id)
      const { upsert } = context
      if (req.method === 'POST') {
        const metadata = parseMetadataHeader(req.headers.get('upload-metadata'))
        const length = req.headers.get('upload-length')
        await authorizeUpload(services, writerOf(context), { id: uploadId, upsert, contentType: contentTypeOf(metadata), length: length === null ? undefined : Number(length) })
        expire()
        return
      }
      const upload = await store.datastore.getUpload(id)
      await authorizeUpload(services, writerOf(context), { id: uploadId, upsert, contentType: contentTypeOf(upload.metadata), length: upload.size })
    },
    async onUploadCreate(_req, upload) {
      const metadata = { ...upload.metadata }
      // storage-api's rule: a number of seconds becomes max-age, anything else no-cache.
      metadata.cacheControl = /^\d{1,10}$/.test(metadata.cacheControl ?? '') ? `max-age=${metadata.cacheControl}` : 'no-cache'
      return { metadata }
    },
    async onUploadFinish(req, upload) {
      const context = contextOf(req)
      context.finished = upload.id
      store.datastore.markFinished(upload)
      await finishUpload(services, backend, context, store, upload)
      return { headers: { 'Tus-Complete': '1' } }
    },
    generateUrl(req, { id }) {
      // Relative to the creation URL, so the client resolves it through whatever prefix it used
      // (an API Gateway stage, a proxy path) — tus clients resolve Location against the endpoint.
      // `…/resumable` → `resumable/<id>`, `…/resumable/sign` → `sign/<id>`, `…/` → `<id>`.
      const pathname = new URL(req.url).pathname
      const last = pathname.slice(pathname.lastIndexOf('/') + 1)
      const segment = urlSegmentOf(id)
      return last === '' ? segment : `${last}/${segment}`
    },
    getFileIdFromRequest(_req, lastPath) {
      return lastPath === undefined || lastPath === 'resumable' || lastPath === 'sign' ? undefined : idOfUrlSegment(lastPath)
    },
    onResponseError(_req, error) {
      if (error instanceof HttpError) {
        const status = Number(error.body.statusCode)
        return { status_code: Number.isInteger(status) ? status : error.status, body: error.message }
      }
      if (error instanceof Error) {
        services.logger.error({ err: error }, 'storage: resumable upload failed')
        return { status_code: 500, body: 'Internal Server Error\n' }
      }
      return undefined
    },
  })

  return async (c) => {
    const req = c.req.raw
    if (req.method === 'OPTIONS') return server.handleWeb(req)
    const context: RequestContext = isSignedResumablePath(storagePath(c))
      ? { signed: true, signature: c.req.header('x-signature'), writer: undefined, upsert: false }
      : { signed: false, writer: await callerOf(services, c), upsert: c.req.header('x-upsert') === 'true' }
    contexts.set(req, context)
    const response = await server.handleWeb(req)
    // After the response is built: the server reads the upload once more after onUploadFinish.
    if (context.finished) await forget(services, store, context.finished)
    return response
  }
}

/**
 * The finished upload's row, written as the caller (or the service, signed) through the same transaction as any upload.
 * Its tus state goes afterwards whatever happened (forget): the bytes stay only with a row.
 */
async function finishUpload(services: Services, backend: StorageBackend, context: RequestContext, store: TusStore, upload: Upload): Promise<void> {
  const { bucket, name, version } = parseUploadId(upload.id)
  const staged = await store.staged(upload)
  await writeUploadedObject(services, backend, writerOf(context), { bucket, name, upsert: context.upsert }, {
    version,
    staged,
    contentType: contentTypeOf(upload.metadata),
    cacheControl: upload.metadata?.cacheControl ?? 'no-cache',
    userMetadata: userMetadataOf(upload.metadata),
  })
}

async function forget(services: Services, store: TusStore, id: string): Promise<void> {
  await store.forget(id).catch((error: unknown) => services.logger.warn({ err: error }, "storage: could not remove a finished resumable upload's state"))
  store.datastore.unmarkFinished(id)
}

/** Removes expired unfinished uploads (the library's expiration), at most every EXPIRE_EVERY_MS, off the request path. */
function expirer(services: Services, store: TusStore): () => void {
  let last = 0
  return () => {
    const now = Date.now()
    if (now - last < EXPIRE_EVERY_MS) return
    last = now
    store.datastore.deleteExpired().catch((error: unknown) => services.logger.warn({ err: error }, 'storage: could not remove expired resumable uploads'))
  }
}
