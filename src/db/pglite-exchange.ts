/**
 * PGlite's fast path: a batch of statements written as one protocol message and run in one
 * `execProtocol` exchange. `PGlite.query()` costs six exchanges (parse, describe, bind, describe,
 * execute, sync) and a file-system sync each; a whole request transaction here costs one.
 * Parameters go as text with types the server infers, the way `pg` sends them, so both drivers
 * take the same values.
 * @module
 */
import { parse, protocol, type PGlite } from '@electric-sql/pglite'
import type { QueryResult } from './types.ts'

const { serialize } = protocol

/** A statement of a batch: with `params` it runs extended (one Sync each), without it simple. */
export interface BatchStatement {
  sql: string
  params?: readonly unknown[]
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

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

/** Each statement's result, or the error it ended with, in order. */
export type BatchOutcome = { ok: true; result: QueryResult } | { ok: false; error: Error }

export async function runBatch(pglite: PGlite, statements: readonly BatchStatement[]): Promise<BatchOutcome[]> {
  const parts: Uint8Array[] = []
  for (const statement of statements) {
    if (!statement.params) {
      parts.push(serialize.query(statement.sql))
      continue
    }
    parts.push(
      serialize.parse({ text: statement.sql }),
      serialize.bind({ values: statement.params.map(toText) }),
      serialize.describe({ type: 'P' }),
      serialize.execute({}),
      serialize.sync(),
    )
  }
  const { messages } = await pglite.execProtocol(concat(parts), { throwOnError: false })
  // One ReadyForQuery closes each statement's answer.
  const outcomes: BatchOutcome[] = []
  let segment: typeof messages = []
  for (const message of messages) {
    if (message.name !== 'readyForQuery') {
      segment.push(message)
      continue
    }
    const error = segment.find((m) => m.name === 'error') as Error | undefined
    if (error) outcomes.push({ ok: false, error })
    else {
      const results = parse.parseResults(segment, pglite.parsers)
      const last = results.at(-1)
      outcomes.push({
        ok: true,
        result: { rows: (last?.rows ?? []) as Record<string, unknown>[], rowCount: last?.affectedRows ?? last?.rows.length ?? 0, fields: last?.fields ?? [] },
      })
    }
    segment = []
  }
  return outcomes
}
