/**
 * Filters (`col=[not.]op[(any|all)].value`) and logic trees (`or=(a.eq.1,and(b.gt.2,c.lt.3))`).
 * @module
 */
import { Cursor, identifier, jsonPath } from './cursor.ts'
import { MAX_LOGIC_DEPTH, tooDeep } from './limits.ts'
import { FTS_OPERATORS, IS_VALUES, OPERATORS, QUANTIFIABLE, type Condition, type EmbedPath, type Field, type Filter, type LogicTree, type Operator } from './types.ts'

const OPERATOR_LIST = `operator (${OPERATORS.join(', ')})`

/** `a.b.col->x` → path [a, b] and field col->x. */
export function parseFilterKey(key: string): { path: EmbedPath; field: Field } {
  const cursor = new Cursor(key, 'filter')
  const path: string[] = []
  for (;;) {
    const name = identifier(cursor)
    if (cursor.startsWith('->')) {
      const steps = jsonPath(cursor)
      if (!cursor.done) cursor.fail('end of input')
      return { path, field: { name, jsonPath: steps } }
    }
    if (cursor.done) return { path, field: { name, jsonPath: [] } }
    cursor.expect('.', '"." or "->"')
    path.push(name)
  }
}

/** Splits `path.or` / `path.not.and` style logic keys; undefined when the key is not one. */
export function logicKey(key: string): { path: EmbedPath; op: 'and' | 'or'; negated: boolean } | undefined {
  const m = /^(?:(.*)\.)?(not\.)?(and|or)$/.exec(key)
  if (!m) return undefined
  const pathText = m[1] ?? ''
  const path = pathText === '' ? [] : splitPath(pathText)
  return { path, op: m[3] as 'and' | 'or', negated: Boolean(m[2]) }
}

/** `a.b` → [a, b], with quoted segments allowed. */
export function splitPath(text: string): string[] {
  const cursor = new Cursor(text, 'embedded resource path')
  const parts = [identifier(cursor, 'embedded resource name')]
  while (cursor.eat('.')) parts.push(identifier(cursor, 'embedded resource name'))
  if (!cursor.done) cursor.fail('"." or end of input')
  return parts
}

function operator(cursor: Cursor): Operator {
  const word = cursor.until((ch) => ch === '.' || ch === '(')
  if (!(OPERATORS as readonly string[]).includes(word)) {
    cursor.pos -= word.length
    cursor.fail(OPERATOR_LIST)
  }
  return word as Operator
}

/** `[not.]op[(any|all)|(lang)].` — everything before the value. */
function filterHead(cursor: Cursor): Pick<Filter, 'negated' | 'op' | 'quantifier' | 'language'> {
  const negated = cursor.eat('not.')
  const op = operator(cursor)
  let quantifier: 'any' | 'all' | undefined
  let language: string | undefined
  if (cursor.eat('(')) {
    if (FTS_OPERATORS.has(op)) {
      language = cursor.until((ch) => ch === ')')
      if (language === '') cursor.fail('text search configuration')
    } else if (QUANTIFIABLE.has(op)) {
      if (cursor.eat('any')) quantifier = 'any'
      else if (cursor.eat('all')) quantifier = 'all'
      else cursor.fail('"any" or "all"')
    } else cursor.fail('"."')
    cursor.expect(')')
  }
  cursor.expect('.', '"." before the value')
  return { negated, op, quantifier, language }
}

function finishFilter(cursor: Cursor, field: Field, head: ReturnType<typeof filterHead>, value: string): Filter {
  const filter: Filter = { kind: 'filter', field, ...head, value }
  if (head.op === 'is' && !(IS_VALUES as readonly string[]).includes(value.toLowerCase())) {
    cursor.pos -= value.length
    cursor.fail('null, not_null, true, false or unknown')
  }
  if (head.op === 'is') filter.value = value.toLowerCase()
  if (head.op === 'in') filter.list = inList(new Cursor(value, cursor.what))
  if (head.quantifier && !/^\{.*\}$/s.test(value)) {
    cursor.pos -= value.length
    cursor.fail('a list of values in braces: {a,b}')
  }
  return filter
}

/** The value of a query-string filter: everything after the operator. */
export function parseFilter(field: Field, raw: string): Filter {
  const cursor = new Cursor(raw, 'filter')
  const head = filterHead(cursor)
  const value = raw.slice(cursor.pos)
  cursor.pos = raw.length
  return finishFilter(cursor, field, head, value)
}

/** `(a,b,"c,d")` → ['a', 'b', 'c,d']. */
function inList(cursor: Cursor): string[] {
  cursor.expect('(', '"(" to start the list')
  const items: string[] = []
  if (cursor.eat(')')) {
    if (!cursor.done) cursor.fail('end of input')
    return items
  }
  for (;;) {
    items.push(cursor.peek() === '"' ? cursor.quoted() : cursor.until((ch) => ch === ',' || ch === ')'))
    if (cursor.eat(',')) continue
    cursor.expect(')', '"," or ")"')
    break
  }
  if (!cursor.done) cursor.fail('end of input')
  return items
}

/** The value of `or=` / `and=`: `(cond,cond,…)`. */
export function parseLogicTree(op: 'and' | 'or', negated: boolean, raw: string): LogicTree {
  const cursor = new Cursor(raw, 'logic tree')
  const tree = treeBody(cursor, op, negated, 1)
  if (!cursor.done) cursor.fail('end of input')
  return tree
}

function treeBody(cursor: Cursor, op: 'and' | 'or', negated: boolean, depth: number): LogicTree {
  if (depth > MAX_LOGIC_DEPTH) tooDeep('logic tree', MAX_LOGIC_DEPTH)
  cursor.expect('(')
  const children: Condition[] = [condition(cursor, depth)]
  while (cursor.eat(',')) children.push(condition(cursor, depth))
  cursor.expect(')', '"," or ")"')
  return { kind: 'logic', op, negated, children }
}

function condition(cursor: Cursor, depth: number): Condition {
  for (const [prefix, op, negated] of [['not.and(', 'and', true], ['not.or(', 'or', true], ['and(', 'and', false], ['or(', 'or', false]] as const) {
    if (cursor.startsWith(prefix)) {
      cursor.pos += prefix.length - 1
      return treeBody(cursor, op, negated, depth + 1)
    }
  }
  const name = identifier(cursor)
  const field: Field = { name, jsonPath: jsonPath(cursor) }
  cursor.expect('.', '"." after the field name')
  const head = filterHead(cursor)
  const start = cursor.pos
  const value = head.op === 'in' ? balanced(cursor, '(', ')') : treeValue(cursor)
  const filter = finishFilter(cursor, field, head, value)
  if (cursor.text[start] === '"' && head.op !== 'in') filter.value = unquote(value)
  return filter
}

function unquote(value: string): string {
  return value.slice(1, -1).replace(/\\(.)/g, '$1')
}

/** A value inside a tree: quoted, braced (`{a,b}`), bracketed range, or up to `,`/`)`. */
function treeValue(cursor: Cursor): string {
  const start = cursor.pos
  if (cursor.peek() === '"') {
    cursor.quoted()
    return cursor.text.slice(start, cursor.pos)
  }
  if (cursor.peek() === '{') return balanced(cursor, '{', '}')
  return cursor.until((ch) => ch === ',' || ch === ')')
}

function balanced(cursor: Cursor, open: string, close: string): string {
  const start = cursor.pos
  cursor.expect(open)
  let depth = 1
  while (!cursor.done && depth > 0) {
    const ch = cursor.peek()
    if (ch === '"') {
      cursor.quoted()
      continue
    }
    if (ch === open) depth++
    else if (ch === close) depth--
    cursor.pos++
  }
  if (depth > 0) cursor.fail(`"${close}"`)
  return cursor.text.slice(start, cursor.pos)
}
