/**
 * Runs a CallPlan: rows (as a read over the function), one row (an object), a scalar, a set of
 * scalars, or nothing (void → 204).
 * @module
 */
import type { RequestTx } from '../../db/session.ts'
import { maxAffectedViolation, pgrstError, unacceptableMedia } from '../errors.ts'
import { explainMediaType } from './explain.ts'
import type { CallPlan } from '../plan/call-plan.ts'
import { callRootFrom, scalarCallStatement } from '../query/call-query.ts'
import { Params } from '../query/params.ts'
import { GEOJSON_MEDIA, JSON_TYPE, OBJECT_TYPE } from '../response.ts'
import { wantsRollback, type TxPolicy } from './tx-policy.ts'
import { runRead } from './read.ts'
import type { RestResult } from './result.ts'

export async function runCall(db: RequestTx, plan: CallPlan, maxRows: number | undefined, policy: TxPolicy): Promise<RestResult> {
  const { preferences, media } = plan.request
  // `Prefer: tx=rollback` (where DB_TX_END allows it): the call runs, its writes do not stay.
  const tx = wantsRollback(preferences, policy)
  if (tx.rollback) db.markRollback()
  const head = plan.request.method === 'HEAD'
  const strict = preferences.handling === 'strict'
  if (strict && preferences.maxAffected !== undefined && plan.result !== 'rows') {
    throw pgrstError(400, 'PGRST128', 'Function must return SETOF or TABLE when max-affected preference is used with handling=strict')
  }
  if ((plan.result === 'rows' || plan.result === 'row') && plan.read) {
    const asObject = plan.result === 'row' && media.kind !== 'csv' && media.kind !== 'geojson'
    const result = await runRead(
      db,
      { kind: 'read', read: plan.read, media: asObject ? { kind: 'object', stripNulls: media.kind === 'object' && media.stripNulls } : media, preferences, maxRows, head, explain: plan.request.explain, geoJsonSchema: plan.geoJsonSchema },
      { rootFrom: (params) => callRootFrom(plan, params, plan.read!.sqlAlias), expandStar: true, nullWhenEmpty: plan.result === 'row' && media.kind !== 'object' },
    )
    if (strict && preferences.maxAffected !== undefined) {
      if ((result.rows ?? 0) > preferences.maxAffected) throw maxAffectedViolation(result.rows ?? 0)
    }
    if (asObject && media.kind !== 'object') result.headers['Content-Type'] = JSON_TYPE
    return result
  }
  if (plan.request.explain) throw unacceptableMedia([explainMediaType(plan.request.explain, media)])
  // Scalars and void have no rows to make features of.
  if (media.kind === 'geojson') throw unacceptableMedia([GEOJSON_MEDIA])
  const params = new Params()
  const { rows } = await db.query<{ body: string | null; page_total: string }>(scalarCallStatement(plan, params), params.values)
  if (plan.result === 'void') return { status: 204, headers: {} }
  const row = rows[0]
  const body = row?.body ?? 'null'
  if (media.kind === 'object') {
    if (plan.result === 'setof-scalar') {
      const values = JSON.parse(body) as unknown[]
      if (values.length !== 1) throw pgrstError(406, 'PGRST116', 'Cannot coerce the result to a single JSON object', `The result contains ${values.length} rows`)
      return { status: 200, headers: { 'Content-Type': OBJECT_TYPE }, body: head ? undefined : JSON.stringify(values[0]) }
    }
    return { status: 200, headers: { 'Content-Type': OBJECT_TYPE }, body: head ? undefined : body }
  }
  const count = plan.result === 'setof-scalar' || plan.result === 'rows' ? Number(row?.page_total ?? 0) : 1
  return {
    status: 200,
    headers: { 'Content-Type': JSON_TYPE, 'Content-Range': count ? `0-${count - 1}/${preferences.count ? count : '*'}` : `*/${preferences.count ? 0 : '*'}` },
    body: head ? undefined : body,
  }
}
