/**
 * A `postgres_changes` subscription's parameters (`event`, `schema`, `table`, `filter`, `select`)
 * and how a change matches them. Filters are Realtime's PostgREST-style grammar:
 * `column=[not.]op.value`, joined by commas (AND), with the operators `eq`, `neq`, `lt`, `lte`,
 * `gt`, `gte`, `in.(a,b)`, `like`, `ilike`, `match`, `imatch`, `is` (null/true/false/unknown)
 * and `isdistinct`; a value may be double-quoted with `\` escapes (as realtime-js's
 * `postgresChangesFilter()` writes it). Comparisons follow SQL's three-valued logic: a NULL column
 * satisfies no condition, negated or not, except `is` and `isdistinct`.
 * @module
 */
import v8 from 'node:v8'
import type { TableInfo } from './changes.ts'

// Filter patterns come from clients and run on every matching change: a backtracking pattern
// (`^(a+)+$`) would stall the whole server. V8's linear-time engine (the `l` flag) runs them
// instead; it is off by default and must be on before a pattern is compiled. It has no `i` or `u`
// flag and no backreferences or lookarounds: case-insensitive operators lower-case both sides, and
// a pattern it cannot run is refused at subscription.
v8.setFlagsFromString('--enable-experimental-regexp-engine')

export type FilterOp = 'eq' | 'neq' | 'lt' | 'lte' | 'gt' | 'gte' | 'in' | 'like' | 'ilike' | 'match' | 'imatch' | 'is' | 'isdistinct'
const OPS: ReadonlySet<string> = new Set<FilterOp>(['eq', 'neq', 'lt', 'lte', 'gt', 'gte', 'in', 'like', 'ilike', 'match', 'imatch', 'is', 'isdistinct'])
const IS_VALUES = new Set(['null', 'true', 'false', 'unknown'])
/** Realtime refuses longer `in` lists. */
const MAX_IN_VALUES = 100

export interface Condition {
  column: string
  op: FilterOp
  values: string[]
  negate: boolean
  /** `like`/`ilike`/`match`/`imatch`, compiled once at subscription (linear time). */
  pattern?: RegExp
  /** `ilike`/`imatch`: the pattern was lower-cased, so the value is too. */
  lowerCase?: boolean
}

export interface ChangeParams {
  event: '*' | 'INSERT' | 'UPDATE' | 'DELETE'
  schema: string
  table: string | undefined
  conditions: Condition[]
  /** Columns the payload carries (the primary key always comes too); undefined: all. */
  select?: string[]
}

export interface Change {
  schema: string
  table: string
  type: 'INSERT' | 'UPDATE' | 'DELETE'
  commit_timestamp: string
  record: Record<string, unknown> | null
  old_record: Record<string, unknown> | null
}

/** Splits on commas outside double quotes (where `\` escapes) and parentheses. */
function splitTop(text: string): string[] {
  const parts: string[] = []
  let depth = 0
  let quoted = false
  let current = ''
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!
    if (quoted && ch === '\\' && i + 1 < text.length) {
      current += ch + text[++i]
      continue
    }
    if (ch === '"') quoted = !quoted
    else if (!quoted && ch === '(') depth++
    else if (!quoted && ch === ')') depth--
    if (ch === ',' && !quoted && depth === 0) {
      parts.push(current)
      current = ''
    } else current += ch
  }
  parts.push(current)
  return parts
}

function unquote(value: string): string {
  if (value.length < 2 || !value.startsWith('"') || !value.endsWith('"')) return value
  return value.slice(1, -1).replace(/\\(.)/gs, '$1')
}

/** SQL LIKE as a regular expression: `%` any run, `_` one character, `\` escapes the next. */
function likePattern(pattern: string): RegExp {
  let source = ''
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!
    if (ch === '\\' && i + 1 < pattern.length) source += escapeRegExp(pattern[++i]!)
    else if (ch === '%') source += '.*'
    else if (ch === '_') source += '.'
    else source += escapeRegExp(ch)
  }
  return new RegExp(`^${source}$`, 'sl')
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&')

/** Lower-cases a regular expression's letters but not an escape's (`\\D` stays `\\D`). */
const lowerPattern = (pattern: string) => pattern.replace(/(\\.)|[^\\]+/gs, (part, escape: string | undefined) => escape ?? part.toLowerCase())

function compilePattern(op: FilterOp, value: string): RegExp | undefined {
  if (op === 'like' || op === 'ilike') return likePattern(op === 'ilike' ? value.toLowerCase() : value)
  // PostgreSQL's regular expressions (`~`, `~*`): `.` matches a newline there too.
  if (op === 'match' || op === 'imatch') return new RegExp(op === 'imatch' ? lowerPattern(value) : value, 'sl')
  return undefined
}

function parseCondition(part: string): Condition {
  const match = /^([^=]+)=(not\.)?([a-z]+)\.(.*)$/s.exec(part.trim())
  if (!match || !OPS.has(match[3]!)) throw new Error(`Error parsing \`filter\` params: ${JSON.stringify(part)}`)
  const [, column, not, op, raw] = match as unknown as [string, string, string | undefined, FilterOp, string]
  const negate = not !== undefined
  if (op === 'in') {
    if (!raw.startsWith('(') || !raw.endsWith(')')) throw new Error(`Error parsing \`filter\` params: ${JSON.stringify(part)}`)
    const values = splitTop(raw.slice(1, -1)).map((v) => unquote(v.trim()))
    if (values.length > MAX_IN_VALUES) throw new Error(`too many values for \`in\` filter. Maximum ${MAX_IN_VALUES}`)
    return { column, op, values, negate }
  }
  const value = unquote(raw)
  if (op === 'is' && !IS_VALUES.has(value.toLowerCase())) throw new Error('invalid value for is filter: must be null, true, false, or unknown')
  try {
    return { column, op, values: [value], negate, pattern: compilePattern(op, value), lowerCase: op === 'ilike' || op === 'imatch' }
  } catch {
    throw new Error(`invalid regular expression in ${op} filter (or one that cannot run in linear time: no backreferences or lookarounds): ${JSON.stringify(value)}`)
  }
}

/** Parses a filter string; throws an Error with Realtime-like wording when it is not one. */
export function parseFilter(filter: string | undefined): Condition[] {
  if (filter === undefined || filter.trim() === '') return []
  return splitTop(filter.trim()).map(parseCondition)
}

function parseSelect(raw: unknown): string[] | undefined {
  if (raw === undefined || raw === null) return undefined
  if (!Array.isArray(raw)) throw new Error('Error parsing `select` params: expected a list of column name strings, e.g. select: ["col1", "col2"]')
  const columns = raw.filter((c): c is string => typeof c === 'string')
  return columns.length > 0 ? columns : undefined
}

export function parseParams(raw: Record<string, unknown>): ChangeParams {
  const event = typeof raw.event === 'string' ? raw.event.toUpperCase() : '*'
  if (!['*', 'INSERT', 'UPDATE', 'DELETE'].includes(event)) throw new Error(`Unsupported event ${JSON.stringify(raw.event)}`)
  if (typeof raw.schema !== 'string' || raw.schema === '') throw new Error('`schema` is required')
  const table = typeof raw.table === 'string' && raw.table !== '' && raw.table !== '*' ? raw.table : undefined
  const select = parseSelect(raw.select)
  if (select && (table === undefined || raw.schema === '*')) throw new Error('Column selection is not supported for wildcard subscriptions. Provide an explicit schema and table name.')
  return { event: event as ChangeParams['event'], schema: raw.schema, table, conditions: parseFilter(typeof raw.filter === 'string' ? raw.filter : undefined), select }
}

/** What Realtime refuses at subscription once the table is known: unknown filter or select columns. */
export function checkColumns(params: ChangeParams, table: TableInfo): string | undefined {
  const names = new Set(table.columns.map((c) => c.name))
  const badFilter = params.conditions.find((c) => !names.has(c.column))
  if (badFilter) return `invalid column for filter ${badFilter.column}`
  const badSelect = params.select?.find((c) => !names.has(c))
  if (badSelect) return `invalid column for select ${badSelect}`
  return undefined
}

const NUMBER = /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/

function compare(actual: unknown, expected: string): number {
  if (typeof actual === 'number' || (typeof actual === 'string' && NUMBER.test(actual) && NUMBER.test(expected))) {
    const a = Number(actual)
    const b = Number(expected)
    if (!Number.isNaN(b)) return a < b ? -1 : a > b ? 1 : 0
  }
  const a = text(actual)
  return a < expected ? -1 : a > expected ? 1 : 0
}

const text = (value: unknown) => (typeof value === 'string' ? value : typeof value === 'boolean' ? String(value) : JSON.stringify(value))

/** `IS null/true/false/unknown`: never unknown itself. */
function isHolds(actual: unknown, keyword: string): boolean {
  switch (keyword.toLowerCase()) {
    case 'true':
      return actual === true || actual === 't' || actual === 'true'
    case 'false':
      return actual === false || actual === 'f' || actual === 'false'
    default:
      return actual === null || actual === undefined
  }
}

/** The condition's truth for a row: true, false, or undefined (SQL's unknown, as for a NULL column). */
function truth(row: Record<string, unknown>, condition: Condition): boolean | undefined {
  const actual = row[condition.column]
  if (condition.op === 'is') return isHolds(actual, condition.values[0]!)
  if (condition.op === 'isdistinct') return actual === null || actual === undefined || compare(actual, condition.values[0]!) !== 0
  if (actual === null || actual === undefined) return undefined
  if (condition.pattern) return condition.pattern.test(condition.lowerCase ? text(actual).toLowerCase() : text(actual))
  if (condition.op === 'in') return condition.values.some((v) => compare(actual, v) === 0)
  const c = compare(actual, condition.values[0]!)
  switch (condition.op) {
    case 'eq': return c === 0
    case 'neq': return c !== 0
    case 'lt': return c < 0
    case 'lte': return c <= 0
    case 'gt': return c > 0
    default: return c >= 0
  }
}

function holds(row: Record<string, unknown>, condition: Condition): boolean {
  const result = truth(row, condition)
  if (result === undefined) return false
  return condition.negate ? !result : result
}

export function matches(params: ChangeParams, change: Change): boolean {
  if (params.event !== '*' && params.event !== change.type) return false
  if (params.schema !== '*' && params.schema !== change.schema) return false
  if (params.table !== undefined && params.table !== change.table) return false
  const row = change.type === 'DELETE' ? change.old_record : change.record
  return params.conditions.every((condition) => row !== null && holds(row, condition))
}
