/**
 * Signed URLs: `POST /object/sign/:bucket/*` (one), `POST /object/sign/:bucket` (several),
 * `GET /object/sign/…?token=` (download without a key), and signed upload URLs —
 * `POST /object/upload/sign/…` (made by a caller who may insert there) and
 * `PUT /object/upload/sign/…?token=` (the upload itself, written as the service for the owner).
 * @module
 */
import type { Context, Hono } from 'hono'
import type { Services } from '../services.ts'
import { callerOf, inOneStatement, inTransaction } from './access.ts'
import type { StorageBackend } from './backend/types.ts'
import { findBucket } from './buckets.ts'
import { serveObject } from './download.ts'
import { storageErrors } from './errors.ts'
import { checkBucketName, decodePath, splitObjectPath } from './names.ts'
import { canInsert, findObject, getObject, visibleNames } from './objects.ts'
import { jsonBody, pathAfter } from './request.ts'
import { checkExpiresIn, signObjectToken, UPLOAD_URL_SECONDS, verifyObjectToken } from './signing.ts'
import { parseTransformOptions, transformSegments } from './transform.ts'
import { readUploadBody } from './upload-body.ts'
import { uploadObject } from './upload.ts'

function bodyFields(body: unknown): Record<string, unknown> {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw storageErrors.invalidRequest('The body must be a JSON object')
  return body as Record<string, unknown>
}

export function signedRoutes(app: Hono, services: Services, backend: StorageBackend): void {
  const limit = services.config.bodyLimit

  async function signOne(c: Context, bucket: string, name: string) {
    const caller = await callerOf(services, c)
    const fields = bodyFields(await jsonBody(c, limit))
    if (fields.expiresIn === undefined) throw storageErrors.missingParameter('expiresIn')
    const expiresIn = checkExpiresIn(fields.expiresIn)
    // As storage-api: with transformations on, `transform` goes into the token and the URL renders the image.
    const transform = services.config.storage.imageTransformation ? parseTransformOptions(fields.transform as Record<string, unknown> | undefined) : {}
    const transformations = transformSegments(transform, true).join(',')
    await inOneStatement(services, caller, (tx) => getObject(tx, bucket, name))
    const url = `${bucket}/${name}`
    const token = await signObjectToken(services.jwt, 'download', url, expiresIn, { transformations, format: transform.format })
    return c.json({ signedURL: `/${transformations ? 'render/image' : 'object'}/sign/${url}?token=${token}` })
  }

  async function signMany(c: Context, bucket: string) {
    const caller = await callerOf(services, c)
    const fields = bodyFields(await jsonBody(c, limit))
    const expiresIn = checkExpiresIn(fields.expiresIn)
    if (!Array.isArray(fields.paths) || fields.paths.length === 0) throw storageErrors.missingParameter('paths')
    if (fields.paths.length > 1000) throw storageErrors.invalidParameter('paths', 'At most 1000 paths per request')
    const paths = fields.paths.map((path) => (typeof path === 'string' ? path : String(path)))
    const visible = await inTransaction(services, caller, (tx) => visibleNames(tx, bucket, paths))
    const signed = await Promise.all(
      paths.map(async (path) => {
        if (!visible.has(path)) return { error: 'Either the object does not exist or you do not have access to it', path, signedURL: null }
        const token = await signObjectToken(services.jwt, 'download', `${bucket}/${path}`, expiresIn)
        return { error: null, path, signedURL: `/object/sign/${bucket}/${path}?token=${token}` }
      }),
    )
    return c.json(signed)
  }

  app.post('/object/sign/*', async (c) => {
    const rest = pathAfter(c, '/object/sign/')
    const slash = rest.indexOf('/')
    if (slash < 0 || slash === rest.length - 1) return signMany(c, checkBucketName(decodePath(rest.replace(/\/$/, ''))))
    const { bucket, name } = splitObjectPath(rest)
    return signOne(c, bucket, name)
  })

  app.on(['GET', 'HEAD'], '/object/sign/*', async (c) => {
    const { bucket, name } = splitObjectPath(pathAfter(c, '/object/sign/'))
    await verifyObjectToken(services.jwt, c.req.query('token'), 'download', `${bucket}/${name}`)
    const row = await inOneStatement(services, 'service', (tx) => getObject(tx, bucket, name))
    return serveObject(backend, row, { method: c.req.method, range: c.req.header('range'), ifNoneMatch: c.req.header('if-none-match'), download: c.req.query('download') })
  })

  app.post('/object/upload/sign/*', async (c) => {
    const caller = await callerOf(services, c)
    const { bucket, name } = splitObjectPath(pathAfter(c, '/object/upload/sign/'))
    const upsert = c.req.header('x-upsert') === 'true'
    // The URL is only made for someone who could upload there now: the bucket exists, the name
    // is free (unless upsert) and the caller's INSERT policy admits the row.
    if (!(await inOneStatement(services, 'service', (tx) => findBucket(tx, bucket)))) throw storageErrors.noSuchBucket()
    await inTransaction(services, caller, async (tx) => {
      if (!upsert && (await findObject(tx, bucket, name))) throw storageErrors.keyAlreadyExists()
      await canInsert(tx, bucket, name, caller.ownerId)
    })
    const url = `${bucket}/${name}`
    const token = await signObjectToken(services.jwt, 'upload', url, UPLOAD_URL_SECONDS, { owner: caller.ownerId, upsert })
    return c.json({ url: `/object/upload/sign/${url}?token=${token}`, token })
  })

  app.put('/object/upload/sign/*', async (c) => {
    const { bucket, name } = splitObjectPath(pathAfter(c, '/object/upload/sign/'))
    const grant = await verifyObjectToken(services.jwt, c.req.query('token'), 'upload', `${bucket}/${name}`)
    const length = c.req.header('content-length')
    const raw = !/^multipart\//i.test(c.req.header('content-type') ?? '')
    const body = await readUploadBody(c)
    const declaredLength = raw && length !== undefined && /^\d+$/.test(length) ? Number(length) : undefined
    const result = await uploadObject(services, backend, { service: true, ownerId: grant.owner }, { bucket, name, upsert: grant.upsert, declaredLength }, body)
    return c.json({ Key: result.key, Id: result.id })
  })
}
