/**
 * Parse: the dump as a stream of items. The line reader finds batches, meta-commands and COPY
 * blocks; libpg_query (PostgreSQL's own parser) splits each batch into statements and gives
 * their syntax trees, so the sanitizer reasons about real statements, never about regexes.
 * @module
 */
import type { Readable } from 'node:stream'
import { loadModule, parseSync } from 'libpg-query'
import type { ByteReader } from './bytes.ts'
import { RestoreError } from './errors.ts'
import { scanInsertValues } from './insert-scan.ts'
import { readDump, type ReaderOptions } from './reader.ts'

/** A parse-tree node: `{ CreateStmt: {...} }` has type `CreateStmt` and body `{...}`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Node = any

export interface Statement {
  kind: 'statement'
  /** The statement text as in the file (no trailing `;`). */
  sql: string
  /** 1-based line in the file where the statement starts. */
  line: number
  type: string
  node: Node
  /** Rows of a multi-row INSERT taken by the fast path (its `node` then holds only the first row). */
  valuesRows?: number
}

export interface MetaCommand {
  kind: 'meta'
  command: string
  args: string
  line: number
}

export interface CopyBlock {
  kind: 'copy'
  sql: string
  line: number
  type: 'CopyStmt'
  node: Node
  data: AsyncIterable<Buffer>
  stats: { lines: number; terminated: boolean }
}

export type DumpItem = Statement | MetaCommand | CopyBlock

let ready: Promise<void> | undefined
export function parserReady(): Promise<void> {
  ready ??= loadModule()
  return ready
}

/** Parses one SQL text; `line` is the file line of its first character. */
export function parseStatements(text: string, line: number, file: string): Statement[] {
  let result: { stmts?: { stmt: Node; stmt_location?: number; stmt_len?: number }[] }
  try {
    result = parseSync(text) as typeof result
  } catch (error) {
    const details = (error as { sqlDetails?: { cursorPosition?: number } }).sqlDetails
    const at = lineOfByte(Buffer.from(text, 'utf8'), details?.cursorPosition ?? 0)
    const errorLine = line + at
    const source = text.split('\n')[at] ?? ''
    throw new RestoreError('syntax_error', `${file}:${errorLine}: ${(error as Error).message}\n  ${errorLine} | ${source.slice(0, 200)}`, { line: errorLine, statement: source })
  }
  const bytes = Buffer.from(text, 'utf8')
  const statements: Statement[] = []
  for (const entry of result.stmts ?? []) {
    const start = entry.stmt_location ?? 0
    const end = entry.stmt_len ? start + entry.stmt_len : bytes.length
    const sql = bytes.subarray(start, end).toString('utf8').replace(/;\s*$/, '')
    const type = Object.keys(entry.stmt)[0]!
    statements.push({ kind: 'statement', sql, line: line + lineOfByte(bytes, start), type, node: entry.stmt[type] })
  }
  return statements
}

/** Number of newlines before byte `offset`. */
function lineOfByte(bytes: Buffer, offset: number): number {
  let count = 0
  let at = bytes.indexOf(0x0a)
  while (at !== -1 && at < offset) {
    count += 1
    at = bytes.indexOf(0x0a, at + 1)
  }
  return count
}

/**
 * One large statement: a plain multi-row INSERT is understood from its head (the first row) and
 * its row count; anything else is parsed whole.
 */
export function parseLargeStatement(text: string, line: number, file: string): Statement[] {
  const shape = scanInsertValues(text)
  if (shape && !shape.tail) {
    const [head] = parseStatements(text.slice(0, shape.headEnd), line, file)
    if (head?.type === 'InsertStmt') {
      return [{ ...head, sql: text.trim().replace(/;\s*$/, ''), valuesRows: shape.rows }]
    }
  }
  return parseStatements(text, line, file)
}

/** The dump as items, in file order. COPY data must be consumed or left alone before the next item. */
export async function* parseDump(source: Readable | AsyncIterable<Buffer | string>, file: string, options: ReaderOptions = {}, progress?: ByteReader[]): AsyncGenerator<DumpItem> {
  await parserReady()
  for await (const event of readDump(source, file, options, progress)) {
    if (event.kind === 'sql') {
      yield* event.single ? parseLargeStatement(event.text, event.line, file) : parseStatements(event.text, event.line, file)
    } else if (event.kind === 'meta') {
      yield { kind: 'meta', command: event.command, args: event.args, line: event.line }
    } else {
      const [copy] = parseStatements(event.sql, event.line, file)
      if (!copy || copy.type !== 'CopyStmt' || !copy.node.is_from || copy.node.filename) {
        throw new RestoreError('syntax_error', `${file}:${event.line}: expected COPY … FROM stdin`, { line: event.line, statement: event.sql })
      }
      yield { kind: 'copy', sql: copy.sql, line: copy.line, type: 'CopyStmt', node: copy.node, data: event.data, stats: event.stats }
    }
  }
}
