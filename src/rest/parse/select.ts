/**
 * `select=`: columns, `*`, aliases, casts, JSON paths, aggregates, embeds with hints and join
 * types, spreads. Whitespace outside double quotes is ignored, as postgrest-js strips it.
 * @module
 */
import { Cursor, identifier, jsonPath } from './cursor.ts'
import { MAX_EMBED_DEPTH, MAX_EMBEDS, tooDeep, tooMany } from './limits.ts'
import type { AggregateFunction, SelectItem } from './types.ts'

/** Where the parser is in the embed tree, so depth and count stay bounded. */
interface Nesting {
  depth: number
  embeds: number
}

const AGGREGATES: readonly AggregateFunction[] = ['count', 'sum', 'avg', 'max', 'min']

/** Removes whitespace that is not inside double quotes. */
export function stripSpaces(text: string): string {
  let out = ''
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!
    if (ch === '\\' && quoted) {
      out += ch + (text[i + 1] ?? '')
      i++
      continue
    }
    if (ch === '"') quoted = !quoted
    if (!quoted && /\s/.test(ch)) continue
    out += ch
  }
  return out
}

export function parseSelect(text: string): SelectItem[] {
  const source = stripSpaces(text)
  if (source === '') return [{ kind: 'star' }]
  const cursor = new Cursor(source, 'select parameter')
  const items = selectList(cursor, { depth: 0, embeds: 0 })
  if (!cursor.done) cursor.fail('"," or end of input')
  return items
}

function selectList(cursor: Cursor, nesting: Nesting): SelectItem[] {
  const items: SelectItem[] = [selectItem(cursor, nesting)]
  while (cursor.eat(',')) items.push(selectItem(cursor, nesting))
  return items
}

function cast(cursor: Cursor): string | undefined {
  if (!cursor.eat('::')) return undefined
  const name = cursor.until((ch) => !/[A-Za-z0-9_\[\]]/.test(ch))
  if (name === '') cursor.fail('type name after "::"')
  return name
}

function selectItem(cursor: Cursor, nesting: Nesting): SelectItem {
  if (cursor.eat('*')) return { kind: 'star' }
  if (cursor.eat('...')) {
    const name = identifier(cursor, 'relation name after "..."')
    return embed(cursor, nesting, name, undefined, true)
  }
  let name = identifier(cursor)
  let alias: string | undefined
  if (cursor.peek() === ':' && cursor.peek(1) !== ':') {
    cursor.pos++
    alias = name
    if (cursor.eat('...')) return embed(cursor, nesting, identifier(cursor, 'relation name after "..."'), alias, true)
    name = identifier(cursor)
  }
  if (name === 'count' && cursor.startsWith('()')) {
    cursor.pos += 2
    return { kind: 'count', alias, cast: cast(cursor) }
  }
  if (cursor.peek() === '!' || cursor.peek() === '(') return embed(cursor, nesting, name, alias, false)
  const path = jsonPath(cursor)
  const item: SelectItem & { kind: 'column' } = { kind: 'column', field: { name, jsonPath: path }, alias }
  item.cast = cast(cursor)
  if (cursor.peek() === '.') {
    const start = cursor.pos
    cursor.pos++
    const fn = AGGREGATES.find((a) => cursor.startsWith(`${a}()`))
    if (!fn) {
      cursor.pos = start
      cursor.fail('aggregate function (count(), sum(), avg(), max(), min())')
    }
    cursor.pos += fn.length + 2
    item.aggregate = fn
    item.aggregateCast = cast(cursor)
  }
  return item
}

function embed(cursor: Cursor, nesting: Nesting, name: string, alias: string | undefined, spread: boolean): SelectItem {
  if (++nesting.embeds > MAX_EMBEDS) tooMany('embedded resources in select', MAX_EMBEDS)
  if (nesting.depth + 1 > MAX_EMBED_DEPTH) tooDeep('embedding in select', MAX_EMBED_DEPTH)
  let hint: string | undefined
  let join: 'inner' | 'left' | undefined
  while (cursor.eat('!')) {
    const word = identifier(cursor, 'hint or join type after "!"')
    if (word === 'inner' || word === 'left') join = word
    else if (hint === undefined) hint = word
    else cursor.fail('"inner" or "left"')
  }
  cursor.expect('(')
  nesting.depth++
  const select = cursor.peek() === ')' ? [] : selectList(cursor, nesting)
  nesting.depth--
  cursor.expect(')', '"," or ")"')
  return { kind: 'embed', name, alias, hint, join, spread, select }
}
