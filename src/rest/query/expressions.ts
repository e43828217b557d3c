/**
 * Column expressions and filter conditions as SQL fragments.
 * @module
 */
import { ident, qualified } from '../../db/sql.ts'
import type { Field, Filter, IsValue } from '../parse/types.ts'
import type { PlannedCondition } from '../plan/types.ts'
import { OPERATOR_SQL, type OperatorSpec } from './operators.ts'
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
  const { value } = filter
  const spec: OperatorSpec = OPERATOR_SQL[filter.op]
  switch (spec.kind) {
    case 'is':
      // The parser admits only IS_VALUES after `is.`.
      return `${lhs} ${spec.sql[value as IsValue]}`
    case 'in':
      return `${lhs} = ANY(${params.add(arrayLiteral(filter.list ?? []))})`
    case 'compare': {
      const operand = params.add(spec.like ? likePattern(value) : value)
      return filter.quantifier ? `${lhs} ${spec.sql} ${filter.quantifier.toUpperCase()}(${operand})` : `${lhs} ${spec.sql} ${operand}`
    }
    case 'binary':
      return `${lhs} ${spec.sql} ${params.add(spec.arrayOrRange ? arrayOrRange(value) : value)}`
    case 'fts': {
      // v13+ wraps a non-tsvector column in to_tsvector().
      const config = filter.language === undefined ? '' : `${params.add(filter.language)}::regconfig, `
      const vector = columnType === 'tsvector' && filter.field.jsonPath.length === 0 ? lhs : `to_tsvector(${config}${lhs})`
      return `${vector} @@ ${spec.fn}(${config}${params.add(value)})`
    }
  }
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
