/**
 * `POST /object/list-v2/:bucket` (storage-js `listV2()`): names under a raw prefix, S3-style —
 * with `with_delimiter`, the next `/` level folds into folders (`{ name: 'a/', key: 'a' }`);
 * without it, every object below the prefix. Pages carry an opaque cursor (the position, sort
 * column and order, base64url JSON), `hasNext` and `nextCursor`.
 * @module
 */
import type { RequestTx } from '../db/session.ts'
import { ident } from '../db/sql.ts'
import { isoTime } from './access.ts'
import { storageErrors } from './errors.ts'
import type { ListEntry } from './list.ts'

type Column = 'name' | 'created_at' | 'updated_at'
const COLUMNS: readonly Column[] = ['name', 'created_at', 'updated_at']
const MAX_KEYS = 1000

export interface ListV2Options {
  prefix: string
  delimiter: boolean
  limit: number
  offset: number
  column: Column
  order: 'asc' | 'desc'
}

interface Cursor {
  o: number
  c: Column
  d: 'asc' | 'desc'
}

function decodeCursor(raw: string): Cursor {
  try {
    const cursor = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as Cursor
    if (Number.isSafeInteger(cursor.o) && cursor.o >= 0 && COLUMNS.includes(cursor.c) && (cursor.d === 'asc' || cursor.d === 'desc')) return cursor
  } catch {
    // falls through to the refusal
  }
  throw storageErrors.invalidParameter('cursor', 'cursor is not one this server gave out')
}

export function parseListV2Body(body: unknown): ListV2Options {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw storageErrors.invalidRequest('The body must be a JSON object')
  const fields = body as Record<string, unknown>
  if (fields.prefix !== undefined && typeof fields.prefix !== 'string') throw storageErrors.invalidParameter('prefix')
  const limit = fields.limit ?? MAX_KEYS
  if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 1) throw storageErrors.invalidParameter('limit', 'limit must be a whole number of at least 1')
  const sortBy = (fields.sortBy ?? {}) as Record<string, unknown>
  let column = (sortBy.column ?? 'name') as Column
  let order = (typeof sortBy.order === 'string' ? sortBy.order.toLowerCase() : 'asc') as 'asc' | 'desc'
  if (!COLUMNS.includes(column)) throw storageErrors.invalidParameter('sortBy.column', `sortBy.column must be one of ${COLUMNS.join(', ')}`)
  if (order !== 'asc' && order !== 'desc') throw storageErrors.invalidParameter('sortBy.order', 'sortBy.order must be asc or desc')
  let offset = 0
  if (typeof fields.cursor === 'string' && fields.cursor !== '') {
    const cursor = decodeCursor(fields.cursor)
    ;({ o: offset, c: column, d: order } = cursor)
  }
  return { prefix: (fields.prefix as string | undefined) ?? '', delimiter: fields.with_delimiter === true, limit: Math.min(limit, MAX_KEYS), offset, column, order }
}

interface Row extends ListEntry {
  folder: boolean
}

export async function listV2(tx: RequestTx, bucket: string, options: ListV2Options) {
  const direction = options.order === 'desc' ? 'DESC' : 'ASC'
  // Folders have no timestamps: they sort by name, ahead of the objects.
  const order = options.column === 'name' ? `name COLLATE "C" ${direction}` : `folder DESC, ${ident(options.column)} ${direction}, name COLLATE "C" ${direction}`
  const result = await tx.query<Row>(
    `WITH under AS (
       SELECT o.name, substr(o.name, char_length($2) + 1) AS rest, o.id, o.updated_at, o.created_at, o.last_accessed_at, o.metadata
       FROM storage.objects o WHERE o.bucket_id = $1 AND starts_with(o.name, $2)
     ), entries AS (
       SELECT DISTINCT true AS folder, $2 || split_part(rest, '/', 1) || '/' AS name, NULL::uuid AS id, NULL::timestamptz AS updated_at,
              NULL::timestamptz AS created_at, NULL::timestamptz AS last_accessed_at, NULL::jsonb AS metadata
       FROM under WHERE $3 AND strpos(rest, '/') > 0
       UNION ALL
       SELECT false, name, id, updated_at, created_at, last_accessed_at, metadata FROM under WHERE NOT $3 OR strpos(rest, '/') = 0
     )
     SELECT folder, name, id, ${isoTime('updated_at')} AS updated_at, ${isoTime('created_at')} AS created_at,
            ${isoTime('last_accessed_at')} AS last_accessed_at, metadata
     FROM entries ORDER BY ${order} LIMIT $4 OFFSET $5`,
    [bucket, options.prefix, options.delimiter, options.limit + 1, options.offset],
  )
  const rows = result.rows.slice(0, options.limit)
  const hasNext = result.rows.length > options.limit
  const cursor: Cursor = { o: options.offset + rows.length, c: options.column, d: options.order }
  return {
    hasNext,
    ...(hasNext ? { nextCursor: Buffer.from(JSON.stringify(cursor)).toString('base64url') } : {}),
    folders: rows.filter((row) => row.folder).map((row) => ({ name: row.name, key: row.name.slice(0, -1) })),
    objects: rows
      .filter((row) => !row.folder)
      .map(({ folder: _folder, ...row }) => ({ ...row, key: row.name })),
  }
}
