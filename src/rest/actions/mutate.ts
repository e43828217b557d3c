/**
 * Runs a MutatePlan: status (201/200/204), Content-Range, Location, Preference-Applied, the
 * single-object check, max-affected and PUT's one-row rule (all roll back by throwing).
 * @module
 */
import type { RequestTx } from '../../db/session.ts'
import { maxAffectedViolation, putKeyMismatch, singularityError } from '../errors.ts'
import type { MutatePlan } from '../plan/mutate-plan.ts'
import { mutationStatement } from '../query/mutate-query.ts'
import { JSON_TYPE, OBJECT_TYPE } from '../response.ts'
import type { RestResult } from './result.ts'
import { wantsRollback, type TxPolicy } from './tx-policy.ts'

function locationHeader(plan: MutatePlan, raw: string | null): string | undefined {
  if (!raw || plan.relation.primaryKey.length === 0) return undefined
  const values = JSON.parse(raw) as unknown[]
  const query = plan.relation.primaryKey.map((c, i) => `${encodeURIComponent(c)}=eq.${encodeURIComponent(String(values[i]))}`).join('&')
  return `/${encodeURIComponent(plan.relation.name)}?${query}`
}

export async function runMutation(tx: RequestTx, plan: MutatePlan, policy: TxPolicy): Promise<RestResult> {
  const { preferences, media } = plan.request
  if (plan.kind === 'update' && plan.columns.length === 0) {
    // PATCH with `{}` changes nothing and runs nothing, as in PostgREST.
    const representation = plan.returning === 'representation'
    return representation ? { status: 200, headers: { 'Content-Type': JSON_TYPE, 'Content-Range': '*/*' }, body: '[]' } : { status: 204, headers: { 'Content-Range': '*/*' } }
  }
  const single = media.kind === 'object'
  const representation = plan.returning === 'representation'
  const strict = preferences.handling === 'strict'
  const needRows = representation || plan.returning === 'headers-only' || Boolean(plan.upsert)
  const statement = mutationStatement(plan, {
    body: representation ? (single ? 'object' : 'array') : 'none',
    stripNulls: (media.kind === 'object' || media.kind === 'array') && media.stripNulls,
    needRows,
  })
  const txEnd = wantsRollback(preferences, policy)
  const maxAffected = strict && preferences.maxAffected !== undefined
  // When only the statement's own failure can stop the commit, COMMIT goes with it (one round trip).
  const commit = !single && !maxAffected && !txEnd.rollback && !plan.singleUpsert
  const result = await tx.query<{ page_total: string; body: string | null; inserted: string; location: string | null }>(statement.sql, statement.params, { commit })
  const row = statement.wrapped ? result.rows[0]! : undefined
  const affected = row ? Number(row.page_total) : result.rowCount

  if (plan.singleUpsert && affected !== 1) throw putKeyMismatch()
  if (single && affected !== 1) throw singularityError(affected)
  if (strict && preferences.maxAffected !== undefined && affected > preferences.maxAffected) throw maxAffectedViolation(affected)

  const applied: string[] = []
  if (txEnd.rollback) tx.markRollback()
  if (preferences.return) applied.push(`return=${preferences.return}`)
  if (plan.upsert && !plan.singleUpsert) applied.push(`resolution=${plan.upsert.ignoreDuplicates ? 'ignore-duplicates' : 'merge-duplicates'}`)
  if (preferences.missing && plan.kind === 'insert') applied.push(`missing=${preferences.missing}`)
  if (preferences.count) applied.push(`count=${preferences.count}`)
  if (txEnd.applied) applied.push(`tx=${preferences.tx}`)
  if (strict) applied.push('handling=strict')
  if (strict && preferences.maxAffected !== undefined) applied.push(`max-affected=${preferences.maxAffected}`)

  const total = preferences.count ? String(affected) : '*'
  const headers: Record<string, string> = {
    'Content-Range': plan.kind === 'update' && affected > 0 ? `0-${affected - 1}/${total}` : `*/${total}`,
  }
  if (applied.length) headers['Preference-Applied'] = applied.join(', ')
  let status: number
  if (plan.singleUpsert) {
    // PUT answers as an update does, whether the row was new or not (PostgREST).
    status = representation ? 200 : 204
  } else if (plan.kind === 'insert') {
    // An upsert that only updated answers 200; any insert makes it 201.
    status = plan.upsert && !plan.upsert.ignoreDuplicates && row && Number(row.inserted) === 0 && affected > 0 ? 200 : 201
    if (plan.returning === 'headers-only') {
      const location = locationHeader(plan, row?.location ?? null)
      if (location) headers.Location = location
    }
  } else {
    status = representation ? 200 : 204
  }
  if (!representation) return { status, headers }
  headers['Content-Type'] = single ? OBJECT_TYPE : JSON_TYPE
  return { status, headers, body: row?.body ?? (single ? 'null' : '[]') }
}
