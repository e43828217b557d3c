/**
 * GET/HEAD on a relation: plan → one statement → response with Content-Range.
 * @module
 */
import type { RequestTx } from '../../db/session.ts'
import { singularityError } from '../errors.ts'
import { explainStatement } from './explain.ts'
import type { RestResult } from './result.ts'
import type { ReadPlan, ReadRequestPlan } from '../plan/types.ts'
import { Params } from '../query/params.ts'
import { readStatement, renderNode, selectStatement, type RenderOptions } from '../query/read-query.ts'
import { contentRange, CSV_TYPE, GEOJSON_TYPE, JSON_TYPE, OBJECT_TYPE, rangeStatus } from '../response.ts'

interface ReadRow {
  total_result_set: string | number | null
  page_total: string | number
  body: string | null
}

/** The planner's row estimate for the filtered set (`Prefer: count=planned`). */
export async function plannedCount(tx: RequestTx, plan: ReadPlan, options: RenderOptions = {}): Promise<number> {
  const params = new Params()
  // The whole source without its range: every parameter rendered is also used.
  const node = renderNode({ ...plan, limit: undefined, offset: undefined }, params, options)
  const sql = `EXPLAIN (FORMAT JSON) ${selectStatement(node)}`
  const { rows } = await tx.query<Record<string, unknown>>(sql, params.values)
  const raw = Object.values(rows[0] ?? {})[0]
  const parsed = (typeof raw === 'string' ? JSON.parse(raw) : raw) as Array<{ Plan: { 'Plan Rows': number } }>
  return Math.round(parsed[0]?.Plan['Plan Rows'] ?? 0)
}

/** Runs a read and shapes the response (shared by relations and set-returning functions). */
export async function runRead(tx: RequestTx, plan: ReadRequestPlan, options: RenderOptions & { nullWhenEmpty?: boolean } = {}): Promise<RestResult> {
  const { read, media, preferences } = plan
  const count = preferences.count
  const single = media.kind === 'object'
  const stripNulls = (media.kind === 'object' || media.kind === 'array') && media.stripNulls
  const statement = readStatement(read, {
    ...options,
    count: count === 'exact' || count === 'estimated' ? 'exact' : undefined,
    body: plan.head ? 'none' : media.kind === 'csv' || media.kind === 'geojson' ? media.kind : single ? 'object' : 'array',
    geoJsonSchema: plan.geoJsonSchema,
    stripNulls,
    expandStar: media.kind === 'csv' ? true : options.expandStar,
  })
  if (plan.explain) return explainStatement(tx, statement.sql, statement.params, plan.explain, media)
  // In a read-only transaction COMMIT can go with the read (one round trip), unless a planned
  // count may follow it.
  const last = tx.readOnly && count !== 'planned' && count !== 'estimated'
  const { rows } = await tx.query<ReadRow>(statement.sql, statement.params, { commit: last })
  const row = rows[0]!
  const pageTotal = Number(row.page_total)
  let total = row.total_result_set === null ? undefined : Number(row.total_result_set)
  if (count === 'planned' || (count === 'estimated' && plan.maxRows !== undefined && total !== undefined && total > plan.maxRows)) {
    total = await plannedCount(tx, read, options)
  }
  // A function returning one row answers null when filters leave nothing (PostgREST), not 406.
  if (single && pageTotal !== 1 && !(options.nullWhenEmpty && pageTotal === 0)) throw singularityError(pageTotal)

  const offset = read.offset ?? 0
  const status = rangeStatus(offset, pageTotal, total)
  const headers: Record<string, string> = { 'Content-Range': contentRange(offset, pageTotal, total) }
  if (count) headers['Preference-Applied'] = `count=${count}`
  if (media.kind === 'csv' || media.kind === 'geojson') {
    headers['Content-Type'] = media.kind === 'csv' ? CSV_TYPE : GEOJSON_TYPE
    return { status, headers, body: plan.head ? undefined : (row.body ?? ''), rows: pageTotal }
  }
  headers['Content-Type'] = single ? OBJECT_TYPE : JSON_TYPE
  return { status, headers, body: plan.head ? undefined : (row.body ?? (single ? 'null' : '[]')), rows: pageTotal }
}
