/**
 * PGlite's fast path: a batch of statements written as one protocol message and run in one
 * `execProtocol` exchange. `PGlite.query()` costs six exchanges (parse, describe, bind, describe,
 * execute, sync) and a file-system sync each; a whole request transaction here costs one.
 * Parameters go as text with types the server infers, the way `pg` sends them, so both drivers
 * take the same values.
 * @module
 */
import { types, type PGlite } from '@electric-sql/pglite'
import type { QueryField, QueryResult } from './types.ts'

/** A statement of a batch: with `params` it runs extended (one Sync each), without it simple. */
export interface BatchStatement {
  sql: string
  params?: readonly unknown[]
  /** Keep it prepared under this name (PGlite's one session keeps it until DEALLOCATE). */
  name?: string
  /**
   * Extended only: no Sync after it, so it runs in one implicit transaction with the statements
   * up to the next one without `chained` (committed at that one's Sync; an error anywhere in it
   * rolls all of them back and skips the rest).
   */
  chained?: boolean
}

/** The statements prepared in a PGlite session, by name, so each is parsed and planned once. */
export class PreparedSet {
  readonly #names = new Set<string>()
  #stale = false

  /** Drop them all before the next batch (a schema change). */
  forget(): void {
    this.#stale = true
  }

  has(name: string): boolean {
    return !this.#stale && this.#names.has(name)
  }

  /** The DEALLOCATE ALL to send first when they were forgotten. */
  takeStale(): BatchStatement[] {
    if (!this.#stale) return []
    this.#stale = false
    this.#names.clear()
    return [{ sql: 'DEALLOCATE ALL' }]
  }

  add(name: string): void {
    this.#names.add(name)
  }

  delete(name: string): void {
    this.#names.delete(name)
  }
}

/** A PostgreSQL array literal element, quoted the way `pg` does. */
function arrayLiteral(values: readonly unknown[]): string {
  const items = values.map((value) => {
    if (value === null || value === undefined) return 'NULL'
    if (Array.isArray(value)) return arrayLiteral(value)
    const text = toText(value)!
    return '"' + text.replaceAll('\\', '\\\\').replaceAll('"', '\\"') + '"'
  })
  return '{' + items.join(',') + '}'
}

/** A parameter as the text PostgreSQL parses (`pg`'s conversions). */
export function toText(value: unknown): string | null {
  if (value === null || value === undefined) return null
  if (typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value)
  if (value instanceof Date) return value.toISOString()
  if (value instanceof Uint8Array) return '\\x' + Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')
  if (Array.isArray(value)) return arrayLiteral(value)
  return JSON.stringify(value)
}

/** A statement as the batch sends it: simple (no `values`) or extended, parsed first or not. */
interface Frontend {
  sql: string
  values?: ReadonlyArray<string | null>
  /** The prepared statement's name ('' for the unnamed one). */
  name: string
  /** Send Parse (a statement not yet prepared, or unnamed). */
  parse: boolean
  /** Sync after it (ends the implicit transaction); extended statements only. */
  sync: boolean
}

// Describe (portal ''), Execute (portal '', all rows), Sync: the same bytes after every Bind.
const DESCRIBE_EXECUTE_SYNC = Buffer.from([0x44, 0, 0, 0, 6, 0x50, 0, 0x45, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0x53, 0, 0, 0, 4])
const SYNC_LENGTH = 5

/**
 * The batch's frontend messages in one buffer, sized first and written once. PGlite's
 * `serialize` allocates a 256-byte buffer and slices a copy for every message and every
 * parameter block: a dozen allocations per request, and as many copies into the joined batch.
 * Parameters are text (format code 0 for all), results too.
 */
export function encodeBatch(statements: readonly Frontend[]): Buffer {
  let size = 0
  for (const st of statements) {
    const sqlBytes = Buffer.byteLength(st.sql)
    if (!st.values) {
      size += 6 + sqlBytes
      continue
    }
    const nameBytes = Buffer.byteLength(st.name)
    if (st.parse) size += 9 + nameBytes + sqlBytes
    size += 13 + nameBytes + DESCRIBE_EXECUTE_SYNC.length - (st.sync ? 0 : SYNC_LENGTH)
    for (const value of st.values) size += 4 + (value === null ? 0 : Buffer.byteLength(value))
  }
  const out = Buffer.allocUnsafe(size)
  let at = 0
  const cstring = (text: string) => {
    at += out.write(text, at)
    out[at++] = 0
  }
  /** A message's type and a placeholder for its length, written once its end is known. */
  const open = (type: number): number => {
    out[at] = type
    at += 5
    return at - 4
  }
  const close = (lengthAt: number) => out.writeInt32BE(at - lengthAt, lengthAt)
  for (const st of statements) {
    if (!st.values) {
      const query = open(0x51)
      cstring(st.sql)
      close(query)
      continue
    }
    if (st.parse) {
      const parse = open(0x50)
      cstring(st.name)
      cstring(st.sql)
      at = out.writeInt16BE(0, at)
      close(parse)
    }
    const bind = open(0x42)
    out[at++] = 0 // portal ''
    cstring(st.name)
    at = out.writeInt16BE(0, at)
    at = out.writeInt16BE(st.values.length, at)
    for (const value of st.values) {
      if (value === null) {
        at = out.writeInt32BE(-1, at)
        continue
      }
      const lengthAt = at
      at += 4
      const written = out.write(value, at)
      out.writeInt32BE(written, lengthAt)
      at += written
    }
    at = out.writeInt16BE(0, at)
    close(bind)
    at += DESCRIBE_EXECUTE_SYNC.copy(out, at, 0, st.sync ? DESCRIBE_EXECUTE_SYNC.length : DESCRIBE_EXECUTE_SYNC.length - SYNC_LENGTH)
  }
  return out
}

type Parsers = Record<number, ((text: string, typeId: number) => unknown) | undefined>

/**
 * The last result of one statement's answer, with PGlite's value parsers. Not PGlite's
 * `parseResults`: it copies the instance's whole parser table (≈ 300 types) on every call, which
 * cost as much as executing a simple request's statements. `rowCount` is what PGlite reports as
 * `affectedRows`: rows changed by INSERT/UPDATE/DELETE/COPY/MERGE, 0 for a SELECT.
 */
function lastResult(messages: readonly { name: string }[], parsers: Parsers): QueryResult {
  let fields: QueryField[] = []
  let rows: Record<string, unknown>[] = []
  let last: QueryResult = { rows: [], rowCount: 0, fields: [] }
  let affected = 0
  for (const message of messages) {
    if (message.name === 'rowDescription') {
      fields = (message as unknown as { fields: QueryField[] }).fields.map((f) => ({ name: f.name, dataTypeID: f.dataTypeID }))
    } else if (message.name === 'dataRow') {
      rows.push(rowOf((message as unknown as { fields: Array<string | null> }).fields, fields, parsers))
    } else if (message.name === 'commandComplete') {
      const words = (message as unknown as { text: string }).text.split(' ')
      if (['INSERT', 'UPDATE', 'DELETE', 'COPY', 'MERGE'].includes(words[0]!)) affected += parseInt(words.at(-1)!, 10) || 0
      last = { rows, rowCount: affected, fields }
      rows = []
      fields = []
    }
  }
  return last
}

function rowOf(values: ReadonlyArray<string | null>, fields: readonly QueryField[], parsers: Parsers): Record<string, unknown> {
  const row: Record<string, unknown> = {}
  for (let i = 0; i < fields.length; i++) {
    const value = values[i] ?? null
    const typeId = fields[i]!.dataTypeID
    const parser = value === null ? undefined : (parsers[typeId] ?? (types.parsers as Parsers)[typeId])
    row[fields[i]!.name] = parser ? parser(value!, typeId) : value
  }
  return row
}

/**
 * The answer of `count` chained statements (one Sync) cut into each one's: a statement's ends
 * with its CommandComplete (or EmptyQueryResponse) or its error. After an error the server
 * skips the rest until Sync, so they share it. An error after the last one answered is the
 * implicit COMMIT failing (a deferred constraint): the last statement's.
 */
function splitChained<M extends { name: string }>(messages: readonly M[], count: number): M[][] {
  const answers: M[][] = [[]]
  for (const message of messages) {
    const current = answers.at(-1)!
    if (message.name === 'error' && answers.length > count) {
      answers[count - 1]!.push(message)
      continue
    }
    current.push(message)
    if (message.name === 'commandComplete' || message.name === 'emptyQuery' || message.name === 'error') answers.push([])
  }
  // A completion opened an answer that never came (the statement after it was skipped, or there is none).
  if (answers.at(-1)!.length === 0) answers.pop()
  answers.length = Math.min(answers.length, count)
  const error = answers.flat().find((m) => m.name === 'error')
  while (answers.length < count) answers.push(error ? [error] : [])
  return answers
}

/** Each statement's result, or the error it ended with, in order. */
export type BatchOutcome = { ok: true; result: QueryResult } | { ok: false; error: Error }

export async function runBatch(pglite: PGlite, given: readonly BatchStatement[], prepared?: PreparedSet): Promise<BatchOutcome[]> {
  const stale = prepared?.takeStale() ?? []
  const statements = [...stale, ...given]
  const frontend: Frontend[] = []
  const parsed: Array<string | undefined> = []
  for (const statement of statements) {
    const name = statement.params && prepared ? statement.name : undefined
    const known = name !== undefined && prepared!.has(name)
    parsed.push(name !== undefined && !known ? name : undefined)
    if (!statement.params) frontend.push({ sql: statement.sql, name: '', parse: false, sync: true })
    else frontend.push({ sql: statement.sql, values: statement.params.map(toText), name: name ?? '', parse: !known, sync: !statement.chained })
  }
  // The stream form installs its own message handler: plain execProtocol would reuse the raw-data
  // handler the wire server's last socket exchange left on the instance, and send our answers there.
  const messages = await pglite.runExclusive(() => pglite.execProtocolStream(encodeBatch(frontend), { throwOnError: false }))
  // One ReadyForQuery closes each group's answer: one statement, or chained ones with the last.
  const outcomes: BatchOutcome[] = []
  let segment: typeof messages = []
  for (const message of messages) {
    if (message.name !== 'readyForQuery') {
      segment.push(message)
      continue
    }
    let end = outcomes.length
    while (end < statements.length - 1 && statements[end]!.chained && statements[end]!.params) end++
    const group = end > outcomes.length ? splitChained(segment, end - outcomes.length + 1) : [segment]
    for (const answer of group) {
      const error = answer.find((m) => m.name === 'error') as Error | undefined
      const name = parsed[outcomes.length]
      // A statement whose Parse failed (or was skipped) is not prepared; one whose execution failed is.
      if (name !== undefined) {
        if (answer.some((m) => m.name === 'parseComplete')) prepared!.add(name)
        else prepared!.delete(name)
      }
      if (error) outcomes.push({ ok: false, error })
      else outcomes.push({ ok: true, result: lastResult(answer, pglite.parsers) })
    }
    segment = []
  }
  return outcomes.slice(stale.length)
}
