/**
 * POST/PATCH/PUT/DELETE on a relation → MutatePlan: the columns and rows to write, the conflict
 * target of an upsert, the filters of an update/delete, and the read plan of what comes back.
 * @module
 */
import { columnNotFound, invalidBody, pgrstError, unsupportedMethod } from '../errors.ts'
import type { ApiRequest, TargetOf } from '../parse/types.ts'
import type { Relation, SchemaCache } from '../schema-cache/types.ts'
import { AliasCounter, buildReadPlan, findRelation, type PlanOptions } from './read-plan.ts'
import type { ReadPlan } from './types.ts'

export interface MutatePlan {
  kind: 'insert' | 'update' | 'delete'
  relation: Relation
  /** Columns written (insert/update), validated against the schema cache. */
  columns: string[]
  /** The JSON payload: an array of objects for insert, one object for update. */
  payload: unknown
  /** Absent keys get the column default instead of NULL (`Prefer: missing=default`). */
  missingDefault: boolean
  upsert?: { onConflict: string[]; ignoreDuplicates: boolean }
  /**
   * `PUT /t?pk=eq.v`: one row upserted on the primary key, whose filters also select the payload
   * row (a row whose key differs from the URL is not written, and the request fails: PGRST115).
   */
  singleUpsert?: boolean
  /** Filters (update/delete) and the shape of returned rows. */
  read: ReadPlan
  returning: 'minimal' | 'representation' | 'headers-only'
  request: ApiRequest
}

export interface MutateOptions extends PlanOptions {
  safeUpdate: boolean
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function checkColumns(relation: Relation, columns: string[]): void {
  for (const column of columns) if (!relation.columnsByName.has(column)) throw columnNotFound(relation.name, column)
}

/**
 * Payload columns: `columns=` if given, else the keys of the objects, which must be the same set
 * in every one (in any order). Counted and looked up, not sorted and joined per row: on a
 * 1,000-row body that was a sorted copy and a string per row, the plan's largest cost.
 */
function insertColumns(request: ApiRequest, rows: Array<Record<string, unknown>>): string[] {
  if (request.columns) return request.columns
  if (rows.length === 0) return []
  const first = Object.keys(rows[0]!)
  const columns = new Set(first)
  for (const row of rows) {
    // Rows are plain objects (JSON, CSV or form bodies): for…in sees their own keys only.
    let count = 0
    for (const key in row) {
      if (!columns.has(key)) throw invalidBody('All object keys must match')
      count++
    }
    if (count !== columns.size) throw invalidBody('All object keys must match')
  }
  return first
}

export function planMutation(request: ApiRequest<TargetOf<'relation'>>, cache: SchemaCache, body: unknown, options: MutateOptions): MutatePlan {
  const relation = findRelation(cache, request.schema, request.target.name)
  const aliases = new AliasCounter()
  // Filters and embed ranges belong to the returned rows only for inserts; update/delete filter the target.
  const read = buildReadPlan(cache, relation, request, aliases, options)
  const returning = request.preferences.return ?? 'minimal'
  const missingDefault = request.preferences.missing === 'default'
  const base = { relation, read, returning, request, missingDefault } as const

  if (request.method === 'POST') {
    if (body === undefined) throw invalidBody('Empty or invalid json')
    const rows = Array.isArray(body) ? body : [body]
    if (!rows.every(isPlainObject)) throw invalidBody('All object keys must match')
    const columns = insertColumns(request, rows as Array<Record<string, unknown>>)
    checkColumns(relation, columns)
    let upsert: MutatePlan['upsert']
    if (request.preferences.resolution) {
      const onConflict = request.onConflict ?? relation.primaryKey
      if (onConflict.length === 0) throw pgrstError(400, 'PGRST100', `"failed to parse on_conflict parameter" (line 1, column 1)`, `Table '${relation.name}' has no primary key: name the conflict columns with on_conflict=`)
      checkColumns(relation, onConflict)
      upsert = { onConflict, ignoreDuplicates: request.preferences.resolution === 'ignore-duplicates' }
    }
    return { ...base, kind: 'insert', columns, payload: rows, upsert }
  }

  if (request.method === 'PUT') return { ...base, ...singleUpsert(request, relation, body), kind: 'insert' }

  const filtered = read.where.length > 0
  if (request.method === 'PATCH') {
    if (!isPlainObject(body)) throw invalidBody(body === undefined ? 'Empty or invalid json' : 'A PATCH body must be a JSON object')
    const columns = request.columns ?? Object.keys(body)
    checkColumns(relation, columns)
    if (options.safeUpdate && !filtered) throw pgrstError(400, '21000', 'UPDATE requires a WHERE clause')
    return { ...base, kind: 'update', columns, payload: body }
  }
  if (request.method === 'DELETE') {
    if (options.safeUpdate && !filtered) throw pgrstError(400, '21000', 'DELETE requires a WHERE clause')
    return { ...base, kind: 'delete', columns: [], payload: undefined }
  }
  throw unsupportedMethod(request.method)
}

const PUT_FILTERS = "Filters must include all and only primary key columns with 'eq' operators"

/**
 * PUT, as PostgREST has it: filters are exactly the primary key columns, each `eq`, no `or`/`and`
 * (PGRST105); no limit/offset (PGRST114); the body is one object (or an array of one).
 */
function singleUpsert(request: ApiRequest, relation: Relation, body: unknown): Pick<MutatePlan, 'columns' | 'payload' | 'upsert' | 'singleUpsert'> {
  const pk = relation.primaryKey
  const root = request.filters.filter((f) => f.path.length === 0)
  const eqFields = root.map((f) => (f.condition.kind === 'filter' && f.condition.op === 'eq' && !f.condition.negated && !f.condition.quantifier && f.condition.field.jsonPath.length === 0 ? f.condition.field.name : undefined))
  const exact = eqFields.length === pk.length && eqFields.every((name) => name !== undefined && pk.includes(name)) && new Set(eqFields).size === pk.length
  if (pk.length === 0 || !exact) throw pgrstError(405, 'PGRST105', PUT_FILTERS)
  if (request.ranges.some((r) => r.path.length === 0 && (r.limit !== undefined || r.offset !== undefined))) {
    throw pgrstError(400, 'PGRST114', 'limit/offset querystring parameters are not allowed for PUT')
  }
  const row = Array.isArray(body) && body.length === 1 ? body[0] : body
  if (!isPlainObject(row)) throw invalidBody(body === undefined ? 'Empty or invalid json' : 'A PUT body must be one JSON object')
  const columns = request.columns ?? Object.keys(row)
  checkColumns(relation, columns)
  return { columns, payload: [row], upsert: { onConflict: pk, ignoreDuplicates: false }, singleUpsert: true }
}
