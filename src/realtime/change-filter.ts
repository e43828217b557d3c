/**
 * A `postgres_changes` subscription's parameters (`event`, `schema`, `table`, `filter`) and how a
 * change matches them. Filters are `column=op.value` with Realtime's operators `eq`, `neq`, `lt`,
 * `lte`, `gt`, `gte` and `in.(a,b)`; several are joined by commas (AND), values may be quoted.
 * @module
 */

export type FilterOp = 'eq' | 'neq' | 'lt' | 'lte' | 'gt' | 'gte' | 'in'
const OPS: readonly FilterOp[] = ['eq', 'neq', 'lt', 'lte', 'gt', 'gte', 'in']

export interface Condition {
  column: string
  op: FilterOp
  values: string[]
}

export interface ChangeParams {
  event: '*' | 'INSERT' | 'UPDATE' | 'DELETE'
  schema: string
  table: string | undefined
  conditions: Condition[]
}

export interface Change {
  schema: string
  table: string
  type: 'INSERT' | 'UPDATE' | 'DELETE'
  commit_timestamp: string
  record: Record<string, unknown> | null
  old_record: Record<string, unknown> | null
}

/** Splits on commas outside double quotes and parentheses. */
function splitTop(text: string): string[] {
  const parts: string[] = []
  let depth = 0
  let quoted = false
  let current = ''
  for (const ch of text) {
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

const unquote = (value: string) => (value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value)

/** Parses a filter string; throws an Error with Realtime-like wording when it is not one. */
export function parseFilter(filter: string | undefined): Condition[] {
  if (filter === undefined || filter === '') return []
  return splitTop(filter).map((part) => {
    const match = /^([^=]+)=([a-z]+)\.(.*)$/s.exec(part.trim())
    if (!match || !OPS.includes(match[2] as FilterOp)) throw new Error(`Error parsing \`filter\` params: ${JSON.stringify(part)}`)
    const [, column, op, raw] = match as unknown as [string, string, FilterOp, string]
    if (op === 'in') {
      if (!raw.startsWith('(') || !raw.endsWith(')')) throw new Error(`Error parsing \`filter\` params: ${JSON.stringify(part)}`)
      return { column, op, values: splitTop(raw.slice(1, -1)).map((v) => unquote(v.trim())) }
    }
    return { column, op, values: [unquote(raw)] }
  })
}

export function parseParams(raw: Record<string, unknown>): ChangeParams {
  const event = typeof raw.event === 'string' ? raw.event.toUpperCase() : '*'
  if (!['*', 'INSERT', 'UPDATE', 'DELETE'].includes(event)) throw new Error(`Unsupported event ${JSON.stringify(raw.event)}`)
  if (typeof raw.schema !== 'string' || raw.schema === '') throw new Error('`schema` is required')
  const table = typeof raw.table === 'string' && raw.table !== '' && raw.table !== '*' ? raw.table : undefined
  return { event: event as ChangeParams['event'], schema: raw.schema, table, conditions: parseFilter(typeof raw.filter === 'string' ? raw.filter : undefined) }
}

function compare(actual: unknown, expected: string): number | undefined {
  if (actual === null || actual === undefined) return undefined
  if (typeof actual === 'number' || (typeof actual === 'string' && /^-?\d+(\.\d+)?$/.test(actual) && /^-?\d+(\.\d+)?$/.test(expected))) {
    const a = Number(actual)
    const b = Number(expected)
    if (!Number.isNaN(b)) return a < b ? -1 : a > b ? 1 : 0
  }
  const a = typeof actual === 'string' ? actual : JSON.stringify(actual)
  return a < expected ? -1 : a > expected ? 1 : 0
}

function holds(row: Record<string, unknown>, condition: Condition): boolean {
  const actual = row[condition.column]
  if (condition.op === 'in') return condition.values.some((v) => compare(actual, v) === 0)
  const c = compare(actual, condition.values[0]!)
  if (c === undefined) return false
  switch (condition.op) {
    case 'eq': return c === 0
    case 'neq': return c !== 0
    case 'lt': return c < 0
    case 'lte': return c <= 0
    case 'gt': return c > 0
    case 'gte': return c >= 0
  }
}

export function matches(params: ChangeParams, change: Change): boolean {
  if (params.event !== '*' && params.event !== change.type) return false
  if (params.schema !== '*' && params.schema !== change.schema) return false
  if (params.table !== undefined && params.table !== change.table) return false
  const row = change.type === 'DELETE' ? change.old_record : change.record
  return params.conditions.every((condition) => row !== null && holds(row, condition))
}
