/**
 * What the operator's commands (`resolution storage buckets|ls|cp|rm`) do, as `service_role`
 * through the same code as `/storage/v1`: uploads go through `uploadObject` (bytes staged, row
 * and bytes committed together), removals delete rows first and then their bytes. Remote paths
 * are written as the Supabase CLI writes them: `ss:///<bucket>/<object name>`.
 * @module
 */
import type { Readable } from 'node:stream'
import type { Services } from '../services.ts'
import { inTransaction, type Caller } from './access.ts'
import { objectKey, type StorageBackend } from './backend/types.ts'
import { listBuckets, type BucketRow } from './buckets.ts'
import { storageErrors } from './errors.ts'
import { checkBucketName, checkObjectName } from './names.ts'
import { deleteObjects, getObject, type ObjectRow } from './objects.ts'
import { removeBytes } from './removals.ts'
import { uploadObject } from './upload.ts'

/** The operator: service_role (BYPASSRLS), no owner. */
export const OPERATOR: Caller = { role: 'service_role', claims: { role: 'service_role' }, ownerId: undefined }

export const REMOTE_SCHEME = 'ss:///'

export interface RemotePath {
  bucket: string
  /** The object name or prefix after `<bucket>/`; '' for the bucket itself. */
  path: string
}

export const isRemote = (arg: string) => arg.startsWith(REMOTE_SCHEME)

/** `ss:///bucket/some/name` → `{ bucket, path }`; `ss:///` alone is `{ bucket: '' }` (all buckets). */
export function parseRemote(arg: string): RemotePath {
  if (!isRemote(arg)) throw storageErrors.invalidRequest(`${JSON.stringify(arg)} is not a storage path: write ss:///<bucket>/<path>`)
  const rest = arg.slice(REMOTE_SCHEME.length)
  if (rest === '') return { bucket: '', path: '' }
  const slash = rest.indexOf('/')
  const bucket = checkBucketName(slash < 0 ? rest : rest.slice(0, slash))
  const path = slash < 0 ? '' : rest.slice(slash + 1)
  if (path !== '') checkObjectName(path)
  return { bucket, path }
}

export function objectKeyOf(row: Pick<ObjectRow, 'bucket_id' | 'name' | 'version'>): string {
  return objectKey(row.bucket_id, row.name, row.version ?? '')
}

export function allBuckets(services: Services): Promise<BucketRow[]> {
  return inTransaction(services, OPERATOR, (tx) => listBuckets(tx, {}))
}

export interface LsEntry {
  name: string
  folder: boolean
  size: number | null
}

/** One level under `prefix` (folders end in `/`), or every object under it when `recursive`. */
export async function listPath(services: Services, remote: RemotePath, recursive: boolean): Promise<LsEntry[]> {
  const prefix = remote.path === '' || remote.path.endsWith('/') ? remote.path : `${remote.path}/`
  const rows = await inTransaction(services, OPERATOR, async (tx) => {
    const found = await tx.query<{ id: string }>('SELECT id FROM storage.buckets WHERE id = $1', [remote.bucket])
    if (found.rows.length === 0) throw storageErrors.noSuchBucket()
    // The path may name one object rather than a folder: `ls ss:///b/file.txt` shows it.
    const result = await tx.query<{ name: string; size: number | null }>(
      `SELECT name, (metadata->>'size')::float8 AS size FROM storage.objects
       WHERE bucket_id = $1 AND (starts_with(name, $2) OR name = $3) ORDER BY name COLLATE "C"`,
      [remote.bucket, prefix, remote.path],
    )
    return result.rows
  })
  if (recursive) return rows.map((row) => ({ name: row.name, folder: false, size: row.size }))
  const entries = new Map<string, LsEntry>()
  for (const row of rows) {
    if (row.name === remote.path) {
      entries.set(row.name, { name: row.name, folder: false, size: row.size })
      continue
    }
    const rest = row.name.slice(prefix.length)
    const slash = rest.indexOf('/')
    const entry = slash < 0 ? { name: rest, folder: false, size: row.size } : { name: `${rest.slice(0, slash)}/`, folder: true, size: null }
    if (!entries.has(entry.name)) entries.set(entry.name, entry)
  }
  return [...entries.values()]
}

export interface PutOptions {
  contentType: string
  cacheControl: string
  upsert: boolean
}

/** Uploads `body` to `remote` (overwriting unless `upsert` is false), rows and bytes consistent. */
export async function putObject(services: Services, backend: StorageBackend, remote: RemotePath, body: Readable, options: PutOptions): Promise<void> {
  const name = checkObjectName(remote.path)
  await uploadObject(services, backend, OPERATOR, { bucket: remote.bucket, name, upsert: options.upsert, declaredLength: undefined }, {
    stream: body,
    contentType: options.contentType,
    cacheControl: options.cacheControl,
    userMetadata: null,
  })
}

/** The bytes of one object, or NoSuchKey. */
export async function readObject(services: Services, backend: StorageBackend, remote: RemotePath): Promise<{ row: ObjectRow; body: Readable }> {
  const row = await inTransaction(services, OPERATOR, (tx) => getObject(tx, remote.bucket, checkObjectName(remote.path)))
  const body = await backend.read(objectKeyOf(row))
  if (!body) throw storageErrors.noSuchKey()
  return { row, body }
}

/** The names of every object under `prefix/` (for recursive cp and rm). */
export async function namesUnder(services: Services, bucket: string, prefix: string): Promise<string[]> {
  const folder = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`
  const result = await inTransaction(services, OPERATOR, (tx) =>
    tx.query<{ name: string }>('SELECT name FROM storage.objects WHERE bucket_id = $1 AND starts_with(name, $2) ORDER BY name COLLATE "C"', [bucket, folder]),
  )
  return result.rows.map((row) => row.name)
}

/** Deletes the named rows, then their bytes; returns the names that existed. */
export async function removeObjects(services: Services, backend: StorageBackend, bucket: string, names: readonly string[]): Promise<string[]> {
  const removed = await inTransaction(services, OPERATOR, (tx) => deleteObjects(tx, bucket, names))
  await removeBytes(services, backend, removed.map(objectKeyOf))
  return removed.map((row) => row.name)
}
