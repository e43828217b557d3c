/**
 * `/bucket` routes (storage-js `createBucket`, `getBucket`, `listBuckets`, `updateBucket`,
 * `emptyBucket`, `deleteBucket`), each one transaction as the caller.
 * @module
 */
import type { Hono } from 'hono'
import type { Services } from '../services.ts'
import { callerOf, inTransaction } from './access.ts'
import { objectKey, type StorageBackend } from './backend/types.ts'
import { createBucket, deleteBucket, getBucket, listBuckets, parseBucketInput, parseBucketOptions } from './buckets.ts'
import { storageErrors } from './errors.ts'
import { checkBucketName, decodePath } from './names.ts'
import { deleteAllObjects } from './objects.ts'
import { jsonBody } from './request.ts'
import { removeBytes } from './removals.ts'
import { updateBucket } from './buckets.ts'

function queryInteger(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === '') return undefined
  if (!/^\d{1,9}$/.test(value)) throw storageErrors.invalidParameter(name)
  return Number(value)
}

export function bucketRoutes(app: Hono, services: Services, backend: StorageBackend): void {
  const limit = services.config.bodyLimit
  const globalLimit = services.config.storage.fileSizeLimit
  const bucketId = (raw: string) => checkBucketName(decodePath(raw))

  app.get('/bucket', async (c) => {
    const caller = await callerOf(services, c)
    const options = { limit: queryInteger(c.req.query('limit'), 'limit'), offset: queryInteger(c.req.query('offset'), 'offset'), search: c.req.query('search') }
    return c.json(await inTransaction(services, caller, (tx) => listBuckets(tx, options)))
  })

  app.post('/bucket', async (c) => {
    const caller = await callerOf(services, c)
    const input = parseBucketInput(await jsonBody(c, limit), globalLimit)
    await inTransaction(services, caller, (tx) => createBucket(tx, caller, input))
    return c.json({ name: input.id })
  })

  app.get('/bucket/:id', async (c) => {
    const caller = await callerOf(services, c)
    const id = bucketId(c.req.param('id'))
    return c.json(await inTransaction(services, caller, (tx) => getBucket(tx, id)))
  })

  app.put('/bucket/:id', async (c) => {
    const caller = await callerOf(services, c)
    const id = bucketId(c.req.param('id'))
    const options = parseBucketOptions(await jsonBody(c, limit), globalLimit)
    await inTransaction(services, caller, (tx) => updateBucket(tx, id, options))
    return c.json({ message: 'Successfully updated' })
  })

  app.post('/bucket/:id/empty', async (c) => {
    const caller = await callerOf(services, c)
    const id = bucketId(c.req.param('id'))
    const removed = await inTransaction(services, caller, async (tx) => {
      await getBucket(tx, id)
      return deleteAllObjects(tx, id)
    })
    await removeBytes(services, backend, removed.map((row) => objectKey(row.bucket_id, row.name, row.version ?? '')))
    return c.json({ message: 'Successfully emptied' })
  })

  app.delete('/bucket/:id', async (c) => {
    const caller = await callerOf(services, c)
    const id = bucketId(c.req.param('id'))
    await inTransaction(services, caller, (tx) => deleteBucket(tx, id))
    return c.json({ message: 'Successfully deleted' })
  })
}
