/**
 * `storage.buckets` rows: the SQL of the bucket endpoints. Each runs in the caller's transaction,
 * so bucket policies decide who sees, makes or changes what.
 * @module
 */
import type { RequestTx } from '../db/session.ts'
import { hasSqlState } from '../db/sqlstate.ts'
import type { Services } from '../services.ts'
import { inOneStatement, isoTime, ownerUuid, type Caller } from './access.ts'
import { storageErrors } from './errors.ts'
import { parseAllowedMimeTypes, parseFileSizeLimit } from './limits.ts'
import { checkBucketName } from './names.ts'

export interface BucketRow {
  id: string
  name: string
  owner: string | null
  public: boolean
  file_size_limit: number | null
  allowed_mime_types: string[] | null
  created_at: string
  updated_at: string
}

// storage-api's columns for bucket answers (no owner_id).
const COLUMNS = `id, name, owner, coalesce(public, false) AS public, file_size_limit::float8 AS file_size_limit,
  allowed_mime_types, ${isoTime('created_at')} AS created_at, ${isoTime('updated_at')} AS updated_at`

export interface BucketInput {
  id: string
  name: string
  public: boolean | undefined
  fileSizeLimit: number | null | undefined
  allowedMimeTypes: string[] | null | undefined
}

function record(body: unknown): Record<string, unknown> {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw storageErrors.invalidRequest('The body must be a JSON object')
  return body as Record<string, unknown>
}

function publicFlag(value: unknown): boolean | undefined {
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'boolean') throw storageErrors.invalidRequest('public must be true or false')
  return value
}

/** `POST /bucket` body: `{ name, id?, public?, file_size_limit?, allowed_mime_types? }`. */
export function parseBucketInput(body: unknown, globalLimit: number): BucketInput {
  const fields = record(body)
  const name = checkBucketName(fields.name)
  const id = fields.id === undefined || fields.id === null ? name : checkBucketName(fields.id)
  return { id, name, ...parseBucketOptions(fields, globalLimit) }
}

/** The fields `PUT /bucket/:id` may change. */
export function parseBucketOptions(body: unknown, globalLimit: number): Omit<BucketInput, 'id' | 'name'> {
  const fields = record(body)
  const fileSizeLimit = parseFileSizeLimit(fields.file_size_limit ?? fields.fileSizeLimit)
  if (fileSizeLimit !== undefined && fileSizeLimit !== null && fileSizeLimit > globalLimit) {
    throw storageErrors.invalidRequest(`file_size_limit is larger than this server's limit of ${globalLimit} bytes (STORAGE_FILE_SIZE_LIMIT)`)
  }
  return {
    public: publicFlag(fields.public),
    fileSizeLimit,
    allowedMimeTypes: parseAllowedMimeTypes(fields.allowed_mime_types ?? fields.allowedMimeTypes),
  }
}

export async function listBuckets(tx: RequestTx, options: { limit?: number; offset?: number; search?: string }): Promise<BucketRow[]> {
  const result = await tx.query<BucketRow>(
    `SELECT ${COLUMNS} FROM storage.buckets
     WHERE $1::text IS NULL OR strpos(lower(name), lower($1)) > 0
     ORDER BY name LIMIT $2 OFFSET $3`,
    [options.search || null, options.limit ?? null, options.offset ?? 0],
  )
  return result.rows
}

export async function findBucket(tx: RequestTx, id: string): Promise<BucketRow | undefined> {
  const result = await tx.query<BucketRow>(`SELECT ${COLUMNS} FROM storage.buckets WHERE id = $1`, [id])
  return result.rows[0]
}

export async function getBucket(tx: RequestTx, id: string): Promise<BucketRow> {
  const bucket = await findBucket(tx, id)
  if (!bucket) throw storageErrors.noSuchBucket()
  return bucket
}

export async function createBucket(tx: RequestTx, caller: Caller, input: BucketInput): Promise<void> {
  try {
    await tx.query(
      `INSERT INTO storage.buckets (id, name, owner, owner_id, public, file_size_limit, allowed_mime_types)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [input.id, input.name, ownerUuid(caller.ownerId), caller.ownerId ?? null, input.public ?? false, input.fileSizeLimit ?? null, input.allowedMimeTypes ?? null],
    )
  } catch (error) {
    if (hasSqlState(error, 'unique_violation')) throw storageErrors.bucketAlreadyExists()
    throw error
  }
}

/** Changes what `options` names; the bucket must be visible and updatable. */
export async function updateBucket(tx: RequestTx, id: string, options: Omit<BucketInput, 'id' | 'name'>): Promise<void> {
  const result = await tx.query(
    `UPDATE storage.buckets SET
       public = CASE WHEN $2::boolean IS NULL THEN public ELSE $2 END,
       file_size_limit = CASE WHEN $3 THEN $4::bigint ELSE file_size_limit END,
       allowed_mime_types = CASE WHEN $5 THEN $6::text[] ELSE allowed_mime_types END,
       updated_at = now()
     WHERE id = $1`,
    [id, options.public ?? null, options.fileSizeLimit !== undefined, options.fileSizeLimit ?? null, options.allowedMimeTypes !== undefined, options.allowedMimeTypes ?? null],
  )
  if (result.rowCount === 0) throw storageErrors.noSuchBucket()
}

export async function deleteBucket(tx: RequestTx, id: string): Promise<void> {
  try {
    const result = await tx.query('DELETE FROM storage.buckets WHERE id = $1', [id])
    if (result.rowCount === 0) throw storageErrors.noSuchBucket()
  } catch (error) {
    if (hasSqlState(error, 'foreign_key_violation')) throw storageErrors.bucketNotEmpty()
    throw error
  }
}

/** Public URLs (`/object/public/…`, `/render/image/public/…`) serve public buckets only, read as the service (storage-api's rule). */
export async function publicReader(services: Services, bucket: string): Promise<'service'> {
  const found = await inOneStatement(services, 'service', (tx) => findBucket(tx, bucket))
  if (!found || !found.public) throw storageErrors.noSuchBucket()
  return 'service'
}
