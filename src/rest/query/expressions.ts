/**
 * Column expressions and filter conditions as SQL fragments.
 * @module
 */
import { ident, qualified } from '../../db/sql.ts'
import type { Field, Filter } from '../parse/types.ts'
import type { PlannedCondition } from '../plan/types.ts'
import { arrayLiteral, type Params } from './params.ts'

/** `"alias"."col"->$1::text->>$2::int`: keys and indexes are parameters, never SQL text. */
export function fieldExpr(alias: string, field: Field, params: Params): string {
  let sql = field.computed ? `${qualified(field.computed.schema, field.computed.name)}(${ident(alias)})` : `${ident(alias)}.${ident(field.name)}`
  for (const step of field.jsonPath) {
    const key = step.index ? `${params.add(Number(step.key))}::int` : `${params.add(step.key)}::text`
    sql = `(${sql}${step.arrow}${key})`
  }
  return sql
}

const COMPARE: Record<string, string> = { eq: '=', neq: '<>', gt: '>', gte: '>=', lt: '<', lte: '<=', like: 'LIKE', ilike: 'ILIKE', match: '~', imatch: '~*' }
const RANGE_AND_ARRAY: Record<string, string> = { cs: '@>', cd: '<@', ov: '&&', sl: '<<', sr: '>>', nxr: '&<', nxl: '&>', adj: '-|-', isdistinct: 'IS DISTINCT FROM' }
const IS_SQL: Record<string, string> = { null: 'IS NULL', not_null: 'IS NOT NULL', true: 'IS TRUE', false: 'IS FALSE', unknown: 'IS UNKNOWN' }
const FTS_FUNCTION: Record<string, string> = { fts: 'to_tsquery', plfts: 'plainto_tsquery', phfts: 'phraseto_tsquery', wfts: 'websearch_to_tsquery' }

const likePattern = (value: string) => value.replaceAll('*', '%')

/** `ov.(a,b)` is accepted like `ov.{a,b}` for arrays. */
function arrayOrRange(value: string): string {
  const m = /^\((.*)\)$/s.exec(value)
  return m ? `{${m[1]}}` : value
}

export function filterSql(alias: string, filter: Filter, columnType: string | undefined, params: Params): string {
  const lhs = fieldExpr(alias, filter.field, params)
  const sql = positiveFilter(lhs, filter, columnType, params)
  return filter.negated ? `NOT (${sql})` : sql
}

function positiveFilter(lhs: string, filter: Filter, columnType: string | undefined, params: Params): string {
  const { op, value } = filter
  if (op === 'is') return `${lhs} ${IS_SQL[value]}`
  if (op === 'in') return `${lhs} = ANY(${params.add(arrayLiteral(filter.list ?? []))})`
  if (op in COMPARE) {
    const isLike = op === 'like' || op === 'ilike'
    if (filter.quantifier) {
      return `${lhs} ${COMPARE[op]} ${filter.quantifier.toUpperCase()}(${params.add(isLike ? likePattern(value) : value)})`
    }
    return `${lhs} ${COMPARE[op]} ${params.add(isLike ? likePattern(value) : value)}`
  }
  if (op in RANGE_AND_ARRAY) return `${lhs} ${RANGE_AND_ARRAY[op]} ${params.add(op === 'ov' ? arrayOrRange(value) : value)}`
  // Full-text search; v13+ wraps a non-tsvector column in to_tsvector().
  const fn = FTS_FUNCTION[op]!
  const config = filter.language === undefined ? '' : `${params.add(filter.language)}::regconfig, `
  const vector = columnType === 'tsvector' && filter.field.jsonPath.length === 0 ? lhs : `to_tsvector(${config}${lhs})`
  return `${vector} @@ ${fn}(${config}${params.add(value)})`
}

/** Renders planned conditions; `onEmbed` learns which embeds the WHERE needs. */
export function conditionSql(alias: string, condition: PlannedCondition, params: Params, existsExpr: (child: PlannedCondition & { kind: 'embed-null' }) => string): string {
  switch (condition.kind) {
    case 'filter':
      return filterSql(alias, condition.filter, condition.columnType, params)
    case 'embed-null':
      return `${existsExpr(condition)} ${condition.isNull ? 'IS NULL' : 'IS NOT NULL'}`
    case 'logic': {
      const joined = condition.children.map((c) => conditionSql(alias, c, params, existsExpr)).join(condition.op === 'and' ? ' AND ' : ' OR ')
      return condition.negated ? `NOT (${joined})` : `(${joined})`
    }
  }
}
