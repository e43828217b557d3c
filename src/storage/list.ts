/**
 * `POST /object/list/:bucket` (storage-js `list()`): one level of the name tree under a prefix,
 * as storage-api's `storage.search` answers it — files with their rows, folders as entries with
 * a null id. Runs as the caller, so only visible objects (and folders holding them) appear.
 * @module
 */
import type { RequestTx } from '../db/session.ts'
import { ident } from '../db/sql.ts'
import { isoTime } from './access.ts'
import { storageErrors } from './errors.ts'

export interface ListOptions {
  prefix: string
  limit: number
  offset: number
  sortColumn: 'name' | 'updated_at' | 'created_at' | 'last_accessed_at'
  sortOrder: 'asc' | 'desc'
  search: string
}

const SORT_COLUMNS = ['name', 'updated_at', 'created_at', 'last_accessed_at'] as const
const MAX_LIMIT = 1000

function integerField(value: unknown, name: string, fallback: number, min: number): number {
  if (value === undefined || value === null) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) throw storageErrors.invalidParameter(name, `${name} must be a whole number of at least ${min}`)
  return value
}

export function parseListBody(body: unknown): ListOptions {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw storageErrors.invalidRequest('The body must be a JSON object')
  const fields = body as Record<string, unknown>
  if (fields.prefix !== undefined && typeof fields.prefix !== 'string') throw storageErrors.invalidParameter('prefix')
  if (fields.search !== undefined && typeof fields.search !== 'string') throw storageErrors.invalidParameter('search')
  const sortBy = (fields.sortBy ?? {}) as Record<string, unknown>
  const column = sortBy.column ?? 'name'
  const order = typeof sortBy.order === 'string' ? sortBy.order.toLowerCase() : 'asc'
  if (!SORT_COLUMNS.includes(column as ListOptions['sortColumn'])) throw storageErrors.invalidParameter('sortBy.column', `sortBy.column must be one of ${SORT_COLUMNS.join(', ')}`)
  if (order !== 'asc' && order !== 'desc') throw storageErrors.invalidParameter('sortBy.order', 'sortBy.order must be asc or desc')
  let prefix = (fields.prefix as string | undefined) ?? ''
  // storage-api takes the prefix as a folder.
  if (prefix !== '' && !prefix.endsWith('/')) prefix += '/'
  return {
    prefix,
    limit: Math.min(integerField(fields.limit, 'limit', 100, 1), MAX_LIMIT),
    offset: integerField(fields.offset, 'offset', 0, 0),
    sortColumn: column as ListOptions['sortColumn'],
    sortOrder: order,
    search: (fields.search as string | undefined) ?? '',
  }
}

export interface ListEntry {
  name: string
  id: string | null
  updated_at: string | null
  created_at: string | null
  last_accessed_at: string | null
  metadata: Record<string, unknown> | null
}

export async function listLevel(tx: RequestTx, bucket: string, options: ListOptions): Promise<ListEntry[]> {
  // Sort column and order come from closed lists; `ident` quotes the column all the same.
  const order = `${ident(options.sortColumn)} ${options.sortOrder === 'desc' ? 'DESC' : 'ASC'} NULLS LAST, name COLLATE "C"`
  const result = await tx.query<ListEntry>(
    `WITH under AS (
       SELECT substr(o.name, char_length($2) + 1) AS rest, o.id, o.updated_at, o.created_at, o.last_accessed_at, o.metadata
       FROM storage.objects o
       WHERE o.bucket_id = $1 AND starts_with(o.name, $2)
     ), entries AS (
       SELECT split_part(rest, '/', 1) AS name, strpos(rest, '/') > 0 AS folder, id, updated_at, created_at, last_accessed_at, metadata
       FROM under
       WHERE lower(left(rest, char_length($3))) = lower($3)
     ), level AS (
       SELECT DISTINCT name, NULL::uuid AS id, NULL::timestamptz AS updated_at, NULL::timestamptz AS created_at,
              NULL::timestamptz AS last_accessed_at, NULL::jsonb AS metadata
       FROM entries WHERE folder
       UNION ALL
       SELECT name, id, updated_at, created_at, last_accessed_at, metadata FROM entries WHERE NOT folder
     )
     SELECT name, id, ${isoTime('updated_at')} AS updated_at, ${isoTime('created_at')} AS created_at,
            ${isoTime('last_accessed_at')} AS last_accessed_at, metadata
     FROM level ORDER BY ${order} LIMIT $4 OFFSET $5`,
    [bucket, options.prefix, options.search, options.limit, options.offset],
  )
  return result.rows
}
