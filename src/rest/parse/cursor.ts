/**
 * A tiny scanner shared by the query-string parsers. Failures become PostgREST's PGRST100 with
 * the parameter, the position and what was expected.
 * @module
 */
import { parseError } from '../errors.ts'

export class Cursor {
  pos = 0
  constructor(
    readonly text: string,
    /** How the parameter is named in errors: `select`, `filter`, `order` … */
    readonly what: string,
  ) {}

  get done(): boolean {
    return this.pos >= this.text.length
  }

  peek(n = 0): string {
    return this.text[this.pos + n] ?? ''
  }

  startsWith(s: string): boolean {
    return this.text.startsWith(s, this.pos)
  }

  /** Consumes `s` if it comes next. */
  eat(s: string): boolean {
    if (!this.startsWith(s)) return false
    this.pos += s.length
    return true
  }

  expect(s: string, expecting = `"${s}"`): void {
    if (!this.eat(s)) this.fail(expecting)
  }

  fail(expecting: string): never {
    const found = this.done ? 'end of input' : `"${this.peek()}"`
    throw parseError(`"failed to parse ${this.what} (${this.text})" (line 1, column ${this.pos + 1})`, `unexpected ${found} expecting ${expecting}`)
  }

  /** A double-quoted name or value with `\"` and `\\` escapes. */
  quoted(): string {
    this.expect('"')
    let out = ''
    while (!this.done && this.peek() !== '"') {
      if (this.peek() === '\\' && this.pos + 1 < this.text.length) this.pos++
      out += this.peek()
      this.pos++
    }
    this.expect('"', 'closing quote')
    return out
  }

  /** Characters until one of `stops` (not consumed). */
  until(stops: (ch: string, cursor: Cursor) => boolean): string {
    const start = this.pos
    while (!this.done && !stops(this.peek(), this)) this.pos++
    return this.text.slice(start, this.pos)
  }
}

/** Characters that end a bare identifier in select/order/filter keys. */
export function endsIdentifier(ch: string, cursor: Cursor): boolean {
  // Whitespace belongs to the name (`column whitespace`); select= is stripped of it beforehand.
  if (',.:()!"\'*'.includes(ch)) return true
  // `-` is part of a name unless it starts a JSON arrow.
  return ch === '-' && cursor.peek(1) === '>'
}

/** A column or relation name: quoted, or a run of name characters. */
export function identifier(cursor: Cursor, expecting = 'field name'): string {
  const start = cursor.pos
  const name = cursor.peek() === '"' ? cursor.quoted() : cursor.until(endsIdentifier)
  // PostgreSQL names cannot hold NUL; refuse here instead of failing later in quoting.
  if (name === '' || (start === cursor.pos - name.length && name.startsWith('>')) || name.includes('\u0000')) {
    cursor.pos = start
    cursor.fail(expecting)
  }
  return name
}

/** `->a->>b`, `->0`, `->-1` after a column name. */
export function jsonPath(cursor: Cursor): Array<{ arrow: '->' | '->>'; key: string; index: boolean }> {
  const steps: Array<{ arrow: '->' | '->>'; key: string; index: boolean }> = []
  while (cursor.startsWith('->')) {
    const arrow = cursor.eat('->>') ? '->>' : (cursor.eat('->'), '->')
    if (cursor.peek() === '"') {
      steps.push({ arrow, key: cursor.quoted(), index: false })
      continue
    }
    const number = /^-?\d+/.exec(cursor.text.slice(cursor.pos))
    if (number) {
      const after = cursor.pos + number[0].length
      const next = cursor.text[after]
      if (next === undefined || ',.:()!"\'*'.includes(next) || /\s/.test(next) || cursor.text.startsWith('->', after)) {
        cursor.pos = after
        steps.push({ arrow, key: number[0], index: true })
        continue
      }
    }
    const key = cursor.until(endsIdentifier)
    if (key === '') cursor.fail('key or index after the JSON arrow')
    steps.push({ arrow, key, index: false })
  }
  return steps
}
