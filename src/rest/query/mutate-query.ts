/**
 * MutatePlan → one statement. The payload travels as one JSON parameter and PostgreSQL turns it
 * into rows (`json_populate_recordset` over the relation's row type), so types are converted by
 * the database exactly as PostgREST does. Returned rows are shaped by the read renderer over the
 * mutation's CTE, embeds included.
 * @module
 */
import { ident, qualified } from '../../db/sql.ts'
import { notImplemented } from '../errors.ts'
import type { MutatePlan } from '../plan/mutate-plan.ts'
import type { PlannedCondition } from '../plan/types.ts'
import { conditionSql } from './expressions.ts'
import { Params } from './params.ts'
import { renderNode, selectStatement } from './read-query.ts'

export interface MutationStatement {
  sql: string
  params: unknown[]
  /** The statement returns `page_total`, `body`, `inserted` and `location` columns (else only a row count). */
  wrapped: boolean
}

function noEmbedConditions(conditions: PlannedCondition[]): void {
  for (const c of conditions) {
    if (c.kind === 'embed-null') throw notImplemented('Filtering a PATCH or DELETE on an embedded resource is not supported')
    if (c.kind === 'logic') noEmbedConditions(c.children)
  }
}

function mutationSql(plan: MutatePlan, params: Params, alias: string): string {
  const target = `${qualified(plan.relation.schema, plan.relation.name)} AS ${ident(alias)}`
  const rowType = `NULL::${qualified(plan.relation.schema, plan.relation.name)}`
  const where = () => {
    noEmbedConditions(plan.read.where)
    const parts = plan.read.where.map((c) => conditionSql(alias, c, params, () => 'NULL'))
    return parts.length ? ` WHERE ${parts.join(' AND ')}` : ''
  }
  if (plan.kind === 'delete') return `DELETE FROM ${target}${where()}`
  if (plan.kind === 'update') {
    const body = params.add(JSON.stringify(plan.payload))
    const sets = plan.columns.map((c) => `${ident(c)} = pgrst_body.${ident(c)}`).join(', ')
    return `UPDATE ${target} SET ${sets} FROM json_populate_record(${rowType}, ${body}::json) AS pgrst_body${where()}`
  }
  // Insert / upsert.
  const rowCount = Array.isArray(plan.payload) ? plan.payload.length : 1
  let sql: string
  if (plan.columns.length === 0) {
    // `{}` is one row of defaults; `[{}, {}]` one per object; `[]` none.
    sql = rowCount === 1 ? `INSERT INTO ${target} DEFAULT VALUES` : `INSERT INTO ${target} SELECT FROM json_array_elements(${params.add(JSON.stringify(plan.payload))}::json)`
  } else {
    const body = params.add(JSON.stringify(plan.payload))
    const columnList = plan.columns.map(ident).join(', ')
    let values: string
    if (plan.missingDefault) {
      // A key absent from an object takes the column default (catalog text), not NULL. As in
      // PostgREST, each row's defaults are computed whether or not the row gives the key (so a
      // sequence advances once per row); the correlated LATERAL makes that once per row, not once.
      // No default is a NULL of the column's type (a bare NULL would be text, and CASE would fail).
      const defaults: string[] = []
      const exprs = plan.columns.map((c, i) => {
        const column = plan.relation.columnsByName.get(c)
        const def = column?.default ?? (column?.identity ? `nextval(pg_get_serial_sequence(${params.add(qualified(plan.relation.schema, plan.relation.name))}, ${params.add(c)}))` : `(${rowType}).${ident(c)}`)
        defaults.push(`${def} AS d${i}`)
        return `CASE WHEN pgrst_elem.value::jsonb ? ${params.add(c)} THEN (json_populate_record(${rowType}, pgrst_elem.value)).${ident(c)} ELSE pgrst_defaults.d${i} END AS ${ident(c)}`
      })
      const put = plan.singleUpsert ? `, LATERAL json_populate_record(${rowType}, pgrst_elem.value) AS pgrst_rows` : ''
      values = `SELECT ${exprs.join(', ')} FROM json_array_elements(${body}::json) AS pgrst_elem${put}, LATERAL (SELECT ${defaults.join(', ')} WHERE pgrst_elem.value IS NOT NULL) AS pgrst_defaults`
    } else {
      values = `SELECT ${plan.columns.map((c) => `pgrst_rows.${ident(c)}`).join(', ')} FROM json_populate_recordset(${rowType}, ${body}::json) AS pgrst_rows`
    }
    if (plan.singleUpsert) {
      // PUT: the URL's key filters pick the payload row (all of its columns, given or not), so a
      // row with another key, or none, is not written.
      values += ` WHERE ${plan.read.where.map((c) => conditionSql('pgrst_rows', c, params, () => 'NULL')).join(' AND ')}`
    }
    sql = `INSERT INTO ${target} (${columnList}) ${values}`
  }
  if (plan.upsert) {
    const conflict = plan.upsert.onConflict.map(ident).join(', ')
    if (plan.upsert.ignoreDuplicates || plan.columns.length === 0) sql += ` ON CONFLICT (${conflict}) DO NOTHING`
    else sql += ` ON CONFLICT (${conflict}) DO UPDATE SET ${plan.columns.map((c) => `${ident(c)} = EXCLUDED.${ident(c)}`).join(', ')}`
  }
  return sql
}

/**
 * The mutation, wrapped when rows must come back (representation, Location, upsert status, a
 * single-object check), bare otherwise (no RETURNING: insert-only policies keep working).
 */
export function mutationStatement(plan: MutatePlan, options: { body: 'array' | 'object' | 'none'; stripNulls?: boolean; needRows: boolean }): MutationStatement {
  const params = new Params()
  const alias = plan.read.sqlAlias
  const mutation = mutationSql(plan, params, alias)
  if (!options.needRows) return { sql: mutation, params: params.values, wrapped: false }

  const isTable = plan.relation.kind === 'table' || plan.relation.kind === 'partitioned_table'
  const inserted = plan.kind === 'insert' && plan.upsert && isTable ? `, (${ident(alias)}.xmax = 0) AS pgrst_inserted` : ', TRUE AS pgrst_inserted'
  const pk = plan.relation.primaryKey
  const location = pk.length ? `, json_build_array(${pk.map((c) => `${ident(alias)}.${ident(c)}`).join(', ')}) AS pgrst_location` : ', NULL::json AS pgrst_location'
  const withMutation = `WITH pgrst_mutation AS (${mutation} RETURNING ${ident(alias)}.*${inserted}${location})`
  const counts = `(SELECT count(*) FILTER (WHERE pgrst_inserted) FROM pgrst_mutation) AS inserted, (SELECT pgrst_location::text FROM pgrst_mutation LIMIT 1) AS location`
  if (options.body === 'none') {
    return { sql: `${withMutation} SELECT (SELECT count(*) FROM pgrst_mutation) AS page_total, NULL::text AS body, ${counts}`, params: params.values, wrapped: true }
  }
  const read = { ...plan.read, where: [], limit: undefined, offset: undefined }
  const node = renderNode(read, params, { rootFrom: `pgrst_mutation AS ${ident(alias)}`, expandStar: true })
  let body = options.body === 'object' ? `(json_agg(_r)->0)` : `coalesce(json_agg(_r), '[]')`
  if (options.stripNulls) body = `json_strip_nulls(${body})`
  const sql = `${withMutation}, pgrst_source AS (${selectStatement(node)}) SELECT count(_r) AS page_total, ${body}::text AS body, ${counts} FROM pgrst_source AS _r`
  return { sql, params: params.values, wrapped: true }
}
