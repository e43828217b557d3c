/**
 * `storage.objects` rows: the SQL of the object endpoints, run in the caller's transaction so
 * object policies decide. No statement uses RETURNING where Supabase needs no SELECT policy
 * (an upload needs INSERT only), so ids and versions are made here.
 * @module
 */
import type { RequestTx } from '../db/session.ts'
import { hasSqlState } from '../db/sqlstate.ts'
import { isoTime, ownerUuid, type Caller } from './access.ts'
import { storageErrors } from './errors.ts'

/** What storage-api keeps in `metadata` for every object. */
export interface ObjectMetadata {
  eTag: string
  size: number
  mimetype: string
  cacheControl: string
  lastModified: string
  contentLength: number
  httpStatusCode: number
}

export interface ObjectRow {
  id: string
  bucket_id: string
  name: string
  owner: string | null
  owner_id: string | null
  version: string | null
  metadata: Partial<ObjectMetadata> | null
  user_metadata: Record<string, unknown> | null
  created_at: string
  updated_at: string
  last_accessed_at: string
}

const COLUMNS = `id, bucket_id, name, owner, owner_id, version, metadata, user_metadata,
  ${isoTime('created_at')} AS created_at, ${isoTime('updated_at')} AS updated_at, ${isoTime('last_accessed_at')} AS last_accessed_at`

export async function findObject(tx: RequestTx, bucket: string, name: string, options: { forUpdate?: boolean } = {}): Promise<ObjectRow | undefined> {
  const lock = options.forUpdate ? ' FOR UPDATE' : ''
  const result = await tx.query<ObjectRow>(`SELECT ${COLUMNS} FROM storage.objects WHERE bucket_id = $1 AND name = $2${lock}`, [bucket, name])
  return result.rows[0]
}

export async function getObject(tx: RequestTx, bucket: string, name: string): Promise<ObjectRow> {
  const row = await findObject(tx, bucket, name)
  if (!row) throw storageErrors.noSuchKey()
  return row
}

export interface NewObject {
  id: string
  bucket: string
  name: string
  version: string
  metadata: ObjectMetadata
  userMetadata: Record<string, unknown> | null
}

/** A new row; a name already taken is 409, a missing bucket 404 "Bucket not found". */
export async function insertObject(tx: RequestTx, caller: Caller | undefined, object: NewObject): Promise<void> {
  try {
    await tx.query(
      `INSERT INTO storage.objects (id, bucket_id, name, owner, owner_id, version, metadata, user_metadata)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [object.id, object.bucket, object.name, ownerUuid(caller?.ownerId), caller?.ownerId ?? null, object.version, JSON.stringify(object.metadata), object.userMetadata ? JSON.stringify(object.userMetadata) : null],
    )
  } catch (error) {
    if (hasSqlState(error, 'unique_violation')) throw storageErrors.keyAlreadyExists()
    if (hasSqlState(error, 'foreign_key_violation')) throw storageErrors.noSuchBucket()
    throw error
  }
}

/** Points an existing row at new bytes (an upsert over a name that exists). */
export async function replaceObject(tx: RequestTx, caller: Caller | undefined, existingId: string, object: NewObject): Promise<void> {
  const result = await tx.query(
    `UPDATE storage.objects SET version = $2, metadata = $3, user_metadata = $4, owner = $5, owner_id = $6,
       updated_at = now(), last_accessed_at = now()
     WHERE id = $1`,
    [existingId, object.version, JSON.stringify(object.metadata), object.userMetadata ? JSON.stringify(object.userMetadata) : null, ownerUuid(caller?.ownerId), caller?.ownerId ?? null],
  )
  // The row was visible but the UPDATE policy hides it: storage-api's refusal.
  if (result.rowCount === 0) throw storageErrors.rlsViolation()
}

/** Deletes the named rows the caller may delete; returns them (their versions locate the bytes). */
export async function deleteObjects(tx: RequestTx, bucket: string, names: readonly string[]): Promise<ObjectRow[]> {
  const result = await tx.query<ObjectRow>(`DELETE FROM storage.objects WHERE bucket_id = $1 AND name = ANY($2::text[]) RETURNING ${COLUMNS}`, [bucket, names])
  return result.rows
}

export async function deleteAllObjects(tx: RequestTx, bucket: string): Promise<ObjectRow[]> {
  const result = await tx.query<ObjectRow>(`DELETE FROM storage.objects WHERE bucket_id = $1 RETURNING ${COLUMNS}`, [bucket])
  return result.rows
}

/** Renames a row (move); the destination taken is 409, a missing destination bucket 404. */
export async function renameObject(tx: RequestTx, id: string, to: { bucket: string; name: string; version: string }, caller: Caller): Promise<void> {
  try {
    const result = await tx.query(
      `UPDATE storage.objects SET bucket_id = $2, name = $3, version = $4, owner = coalesce(owner, $5), owner_id = coalesce(owner_id, $6),
         updated_at = now(), last_accessed_at = now()
       WHERE id = $1`,
      [id, to.bucket, to.name, to.version, ownerUuid(caller.ownerId), caller.ownerId ?? null],
    )
    if (result.rowCount === 0) throw storageErrors.noSuchKey()
  } catch (error) {
    if (hasSqlState(error, 'unique_violation')) throw storageErrors.keyAlreadyExists()
    if (hasSqlState(error, 'foreign_key_violation')) throw storageErrors.noSuchBucket()
    throw error
  }
}

/** Which of `names` the caller can see. */
export async function visibleNames(tx: RequestTx, bucket: string, names: readonly string[]): Promise<Set<string>> {
  const result = await tx.query<{ name: string }>('SELECT name FROM storage.objects WHERE bucket_id = $1 AND name = ANY($2::text[])', [bucket, names])
  return new Set(result.rows.map((row) => row.name))
}

/**
 * Whether the caller's INSERT policy would admit this row, without keeping it (storage-api's
 * `canUpload`): the insert runs in the caller's transaction, which is marked to end in ROLLBACK —
 * so call it in a transaction that is only this check. Refuses with storage-api's RLS error.
 */
export async function canInsert(tx: RequestTx, bucket: string, name: string, ownerId: string | undefined): Promise<void> {
  tx.markRollback()
  await tx.query(
    `INSERT INTO storage.objects (bucket_id, name, owner, owner_id, metadata) VALUES ($1, $2, $3, $4, '{}'::jsonb)
     ON CONFLICT (bucket_id, name) DO NOTHING`,
    [bucket, name, ownerUuid(ownerId), ownerId ?? null],
  )
}
