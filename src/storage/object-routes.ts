/**
 * `/object` routes for the caller's own session: upload (POST, PUT/x-upsert), download and HEAD
 * (also `/object/authenticated/…` and `/object/public/…`), info, list, move, copy, remove.
 * @module
 */
import { randomUUID } from 'node:crypto'
import type { Context, Hono } from 'hono'
import type { Services } from '../services.ts'
import { callerOf, inOneStatement, inTransaction, type Caller } from './access.ts'
import { objectKey, type StorageBackend } from './backend/types.ts'
import { publicReader } from './buckets.ts'
import { serveObject } from './download.ts'
import { storageErrors } from './errors.ts'
import { listLevel, parseListBody } from './list.ts'
import { listV2, parseListV2Body } from './list-v2.ts'
import { checkBucketName, checkObjectName, decodePath, splitObjectPath } from './names.ts'
import { deleteObjects, getObject, insertObject, renameObject, type ObjectRow } from './objects.ts'
import { jsonBody, pathAfter } from './request.ts'
import { readUploadBody } from './upload-body.ts'
import { removeBytes } from './removals.ts'
import { uploadObject } from './upload.ts'

const MAX_PREFIXES = 1000

function keyOf(row: ObjectRow): string {
  return objectKey(row.bucket_id, row.name, row.version ?? '')
}

/** The object's JSON description (`info()`), storage-api's InfoRenderer shape. */
function infoOf(row: ObjectRow): Record<string, unknown> {
  const metadata = row.metadata ?? {}
  return {
    id: row.id,
    name: row.name,
    version: row.version,
    bucket_id: row.bucket_id,
    size: metadata.size ?? null,
    content_type: metadata.mimetype ?? null,
    cache_control: metadata.cacheControl ?? null,
    etag: metadata.eTag ?? null,
    metadata: row.user_metadata ?? {},
    last_modified: row.updated_at,
    created_at: row.created_at,
  }
}

function serveOptions(c: Context) {
  return { method: c.req.method, range: c.req.header('range'), ifNoneMatch: c.req.header('if-none-match'), download: c.req.query('download') }
}

function movePaths(body: unknown): { from: { bucket: string; name: string }; to: { bucket: string; name: string } } {
  if (!body || typeof body !== 'object') throw storageErrors.invalidRequest('The body must be a JSON object')
  const fields = body as Record<string, unknown>
  if (fields.bucketId === undefined) throw storageErrors.missingParameter('bucketId')
  if (fields.sourceKey === undefined) throw storageErrors.missingParameter('sourceKey')
  if (fields.destinationKey === undefined) throw storageErrors.missingParameter('destinationKey')
  const bucket = checkBucketName(fields.bucketId)
  const destinationBucket = fields.destinationBucket === undefined || fields.destinationBucket === null ? bucket : checkBucketName(fields.destinationBucket)
  return { from: { bucket, name: checkObjectName(fields.sourceKey) }, to: { bucket: destinationBucket, name: checkObjectName(fields.destinationKey) } }
}

export function objectRoutes(app: Hono, services: Services, backend: StorageBackend): void {
  const limit = services.config.bodyLimit

  async function upload(c: Context, upsert: boolean) {
    const caller = await callerOf(services, c)
    const { bucket, name } = splitObjectPath(pathAfter(c, '/object/'))
    const length = c.req.header('content-length')
    const raw = !/^multipart\//i.test(c.req.header('content-type') ?? '')
    const body = await readUploadBody(c)
    const declaredLength = raw && length !== undefined && /^\d+$/.test(length) ? Number(length) : undefined
    const result = await uploadObject(services, backend, caller, { bucket, name, upsert, declaredLength }, body)
    return c.json({ Id: result.id, Key: result.key })
  }

  async function download(c: Context, prefix: string, caller: Caller | 'service') {
    const { bucket, name } = splitObjectPath(pathAfter(c, prefix))
    const row = await inOneStatement(services, caller, (tx) => getObject(tx, bucket, name))
    return serveObject(backend, row, serveOptions(c))
  }

  async function info(c: Context, prefix: string, caller: Caller | 'service') {
    const { bucket, name } = splitObjectPath(pathAfter(c, prefix))
    const row = await inOneStatement(services, caller, (tx) => getObject(tx, bucket, name))
    return c.json(infoOf(row), 200, row.metadata?.eTag ? { ETag: row.metadata.eTag } : {})
  }

  /** `/object/public/…`: any object of a public bucket, read as the service (storage-api's rule). */
  function publicCaller(c: Context, prefix: string): Promise<'service'> {
    return publicReader(services, splitObjectPath(pathAfter(c, prefix)).bucket)
  }

  app.on(['GET', 'HEAD'], '/object/public/*', async (c) => download(c, '/object/public/', await publicCaller(c, '/object/public/')))
  app.on(['GET', 'HEAD'], '/object/authenticated/*', async (c) => download(c, '/object/authenticated/', await callerOf(services, c)))
  app.get('/object/info/public/*', async (c) => info(c, '/object/info/public/', await publicCaller(c, '/object/info/public/')))
  app.get('/object/info/authenticated/*', async (c) => info(c, '/object/info/authenticated/', await callerOf(services, c)))
  app.get('/object/info/*', async (c) => info(c, '/object/info/', await callerOf(services, c)))

  app.post('/object/list/:bucket', async (c) => {
    const caller = await callerOf(services, c)
    const bucket = checkBucketName(decodePath(c.req.param('bucket')))
    const options = parseListBody(await jsonBody(c, limit))
    return c.json(await inTransaction(services, caller, (tx) => listLevel(tx, bucket, options)))
  })

  app.post('/object/list-v2/:bucket', async (c) => {
    const caller = await callerOf(services, c)
    const bucket = checkBucketName(decodePath(c.req.param('bucket')))
    const options = parseListV2Body(await jsonBody(c, limit))
    return c.json(await inTransaction(services, caller, (tx) => listV2(tx, bucket, options)))
  })

  app.post('/object/move', async (c) => {
    const caller = await callerOf(services, c)
    const { from, to } = movePaths(await jsonBody(c, limit))
    const version = randomUUID()
    let source: ObjectRow | undefined
    let copied = false
    try {
      await inTransaction(services, caller, async (tx) => {
        source = await getObject(tx, from.bucket, from.name)
        // Bytes are keyed by name: the moved row gets a copy at its new key, the old bytes go after commit.
        if (!copied) await backend.copy(keyOf(source), objectKey(to.bucket, to.name, version))
        copied = true
        await renameObject(tx, source.id, { ...to, version }, caller)
      })
    } catch (error) {
      if (copied) await removeBytes(services, backend, [objectKey(to.bucket, to.name, version)])
      throw error
    }
    await removeBytes(services, backend, [keyOf(source!)])
    return c.json({ message: 'Successfully moved' })
  })

  app.post('/object/copy', async (c) => {
    const caller = await callerOf(services, c)
    const { from, to } = movePaths(await jsonBody(c, limit))
    const version = randomUUID()
    const id = randomUUID()
    let copied = false
    try {
      await inTransaction(services, caller, async (tx) => {
        const source = await getObject(tx, from.bucket, from.name)
        if (!copied) await backend.copy(keyOf(source), objectKey(to.bucket, to.name, version))
        copied = true
        const metadata = { ...(source.metadata ?? {}), lastModified: new Date().toUTCString() } as Parameters<typeof insertObject>[2]['metadata']
        await insertObject(tx, caller, { id, bucket: to.bucket, name: to.name, version, metadata, userMetadata: source.user_metadata })
      })
    } catch (error) {
      if (copied) await removeBytes(services, backend, [objectKey(to.bucket, to.name, version)])
      throw error
    }
    return c.json({ Id: id, Key: `${to.bucket}/${to.name}` })
  })

  app.on(['GET', 'HEAD'], '/object/*', async (c) => download(c, '/object/', await callerOf(services, c)))
  app.post('/object/*', (c) => upload(c, c.req.header('x-upsert') === 'true'))
  app.put('/object/*', (c) => upload(c, true))

  app.delete('/object/*', async (c) => {
    const caller = await callerOf(services, c)
    const rest = pathAfter(c, '/object/')
    const slash = rest.indexOf('/')
    if (slash < 0 || slash === rest.length - 1) {
      // DELETE /object/:bucket with { prefixes }: remove several.
      const bucket = checkBucketName(decodePath(rest.replace(/\/$/, '')))
      const body = (await jsonBody(c, limit)) as { prefixes?: unknown }
      const prefixes = body?.prefixes
      if (!Array.isArray(prefixes) || prefixes.length === 0) throw storageErrors.missingParameter('prefixes')
      if (prefixes.length > MAX_PREFIXES) throw storageErrors.invalidParameter('prefixes', `At most ${MAX_PREFIXES} objects can be deleted per request.`)
      const names = prefixes.map((prefix) => checkObjectName(prefix))
      const removed = await inTransaction(services, caller, (tx) => deleteObjects(tx, bucket, names))
      await removeBytes(services, backend, removed.map(keyOf))
      return c.json(removed)
    }
    const { bucket, name } = splitObjectPath(rest)
    const removed = await inTransaction(services, caller, (tx) => deleteObjects(tx, bucket, [name]))
    if (removed.length === 0) throw storageErrors.noSuchKey()
    await removeBytes(services, backend, removed.map(keyOf))
    return c.json({ message: 'Successfully deleted' })
  })
}
