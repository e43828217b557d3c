/**
 * CallPlan → SQL. Arguments travel as one JSON parameter read by `json_to_record` with the
 * function's own parameter types, so PostgreSQL converts them (arrays, enums, dates …) and the
 * call is `fn("a" := pgrst_args."a")`: names quoted, values never in the text.
 * @module
 */
import { ident, qualified } from '../../db/sql.ts'
import type { CallPlan } from '../plan/call-plan.ts'
import type { Params } from './params.ts'

/** `FROM` items that provide the arguments, and the call expression itself. */
export function callParts(plan: CallPlan, params: Params): { argsFrom: string | undefined; call: string } {
  const fn = qualified(plan.routine.schema, plan.routine.name)
  if (plan.wholeBody) {
    // The parameter's type comes from the catalog (format_type), not from the request.
    const value = params.add(plan.wholeBody.text)
    return { argsFrom: undefined, call: `${fn}(${plan.wholeBody.type === 'bytea' ? `decode(${value}::text, 'hex')` : `${value}::${plan.wholeBody.type}`})` }
  }
  if (plan.argTypes.length === 0) return { argsFrom: undefined, call: `${fn}()` }
  // Record columns are numbered: an unnamed parameter (key "") has no name to read it by.
  const record = Object.fromEntries(plan.argTypes.map((a, i) => [`a${i}`, plan.args[a.name]]))
  const definitions = plan.argTypes.map((a, i) => `a${i} ${a.type}`).join(', ')
  const argsFrom = `json_to_record(${params.add(JSON.stringify(record))}::json) AS pgrst_args(${definitions})`
  // A variadic parameter gets its array with the VARIADIC keyword (named notation demands it).
  const passed = plan.argTypes.map((a, i) => (a.name === '' ? `pgrst_args.a${i}` : `${a.variadic ? 'VARIADIC ' : ''}${ident(a.name)} := pgrst_args.a${i}`)).join(', ')
  return { argsFrom, call: `${fn}(${passed})` }
}

/** The FROM clause that stands in for a relation when a function's rows are read. */
export function callRootFrom(plan: CallPlan, params: Params, alias: string): string {
  const { argsFrom, call } = callParts(plan, params)
  return `${argsFrom ? `${argsFrom}, ` : ''}${call} AS ${ident(alias)}`
}

/** Scalar, set-of-scalar and void calls: one row with `body` (JSON text). */
export function scalarCallStatement(plan: CallPlan, params: Params): string {
  const { argsFrom, call } = callParts(plan, params)
  const from = argsFrom ? ` FROM ${argsFrom}` : ''
  if (plan.result === 'void') return `SELECT ${call}${from}`
  if (plan.result === 'scalar') return `SELECT to_json(${call})::text AS body, 1 AS page_total${from}`
  // Rows of a type the schema cache does not expose (e.g. `setof auth.users`): whole rows as JSON.
  if (plan.result === 'rows') return `SELECT coalesce(json_agg(pgrst_t), '[]')::text AS body, count(*) AS page_total FROM ${argsFrom ? `${argsFrom}, ` : ''}${call} AS pgrst_t`
  if (plan.result === 'row') return `SELECT (json_agg(pgrst_t)->0)::text AS body, count(*) AS page_total FROM ${argsFrom ? `${argsFrom}, ` : ''}${call} AS pgrst_t`
  return `SELECT coalesce(json_agg(pgrst_t.pgrst_val), '[]')::text AS body, count(*) AS page_total FROM ${argsFrom ? `${argsFrom}, ` : ''}${call} AS pgrst_t(pgrst_val)`
}
