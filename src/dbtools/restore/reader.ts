/**
 * The line-level reader of a plain-SQL dump: what psql does before anything reaches the server.
 * It yields batches of whole SQL statements (for libpg_query), psql meta-commands (`\restrict`,
 * `\connect` …) and `COPY … FROM stdin` blocks whose data is streamed, never held in memory.
 * @module
 */
import type { Readable } from 'node:stream'
import { ByteReader } from './bytes.ts'
import { describeMode, initialLexState, scanLine, type LexState } from './lexer.ts'
import { RestoreError } from './errors.ts'

export type ReaderEvent =
  /** `single`: exactly one statement, too large to parse whole (a multi-row INSERT of a data dump). */
  | { kind: 'sql'; text: string; line: number; single?: boolean }
  | { kind: 'meta'; command: string; args: string; line: number }
  | {
      kind: 'copy'
      /** The COPY statement, as written. */
      sql: string
      line: number
      /** Text-format rows; must be consumed (or drained) before the next event. */
      data: AsyncIterable<Buffer>
      /** Filled in while `data` is consumed. */
      stats: { lines: number; terminated: boolean }
    }

export interface ReaderOptions {
  /** Cut SQL batches at statement boundaries once they pass this many characters. */
  batchChars?: number
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** Statements this large (characters) are handed out alone, for the parser's INSERT fast path. */
const BIG_STATEMENT = 256 * 1024

function decodeLine(bytes: Buffer, lineNumber: number, file: string): string {
  try {
    return utf8.decode(bytes)
  } catch {
    const bad = firstInvalidUtf8(bytes)
    throw new RestoreError('invalid_encoding', `${file}:${lineNumber}: the file is not valid UTF-8 (byte 0x${bytes[bad]?.toString(16).padStart(2, '0')} at column ${bad + 1}); convert it first, e.g. iconv -f latin1 -t utf-8`, { line: lineNumber })
  }
}

/** Index of the first byte that does not start a valid UTF-8 sequence. */
function firstInvalidUtf8(bytes: Buffer): number {
  let i = 0
  while (i < bytes.length) {
    const lead = bytes[i]!
    const length = lead < 0x80 ? 1 : lead >> 5 === 0b110 ? 2 : lead >> 4 === 0b1110 ? 3 : lead >> 3 === 0b11110 ? 4 : 0
    if (length === 0) return i
    try {
      utf8.decode(bytes.subarray(i, i + length))
    } catch {
      return i
    }
    i += length
  }
  return 0
}

/** Reads `source` (named `file` in messages) into events. */
export async function* readDump(source: Readable | AsyncIterable<Buffer | string>, file: string, options: ReaderOptions = {}, progress?: ByteReader[]): AsyncGenerator<ReaderEvent> {
  const batchChars = options.batchChars ?? 256 * 1024
  const bytes = new ByteReader(source)
  progress?.push(bytes)
  const state = initialLexState()
  let lineNumber = 0
  let batch: string[] = []
  let batchLine = 1
  let batchSize = 0
  // Where the open statement began inside `batch` (line index, column).
  let openAt: { index: number; column: number; line: number } | undefined

  const takeBatch = (): { kind: 'sql'; text: string; line: number } | undefined => {
    const text = batch.join('\n')
    const event = text.trim() ? { kind: 'sql' as const, text, line: batchLine } : undefined
    batch = []
    batchSize = 0
    return event
  }

  for (;;) {
    const raw = await bytes.readLine()
    if (raw === null) break
    lineNumber += 1
    const line = decodeLine(raw, lineNumber, file)

    if (state.mode === 'normal' && line.startsWith('\\')) {
      if (state.open) throw new RestoreError('syntax_error', `${file}:${lineNumber}: psql meta-command ${line.split(/\s/)[0]} inside a statement begun at line ${openAt?.line ?? '?'}`, { line: lineNumber })
      const pending = takeBatch()
      if (pending) yield pending
      yield metaCommand(line, lineNumber, file)
      batchLine = lineNumber + 1
      continue
    }

    if (batch.length === 0) batchLine = lineNumber
    const index = batch.length
    batch.push(line)
    batchSize += line.length + 1
    const scan = scanLine(line, state, lineNumber)
    let startCursor = 0
    let lineDone = false
    for (const end of scan.ends) {
      // The statement ending here began where the open one did, or at the next start on this line.
      const begin = openAt ?? { index, column: scan.starts[startCursor++] ?? 0, line: lineNumber }
      openAt = undefined
      if (end.firstWord === 'INSERT' && batchSize >= BIG_STATEMENT && !line.slice(end.end).trim()) {
        const statement = textBetween(batch, begin, { index, column: end.end })
        if (statement.length >= BIG_STATEMENT) {
          const prefix = textBetween(batch, { index: 0, column: 0 }, begin)
          batch = []
          batchSize = 0
          if (prefix.trim()) yield { kind: 'sql', text: prefix, line: batchLine }
          yield { kind: 'sql', text: statement, line: begin.line, single: true }
          lineDone = true
          break
        }
      }
      if (end.firstWord !== 'COPY') continue
      const statement = textBetween(batch, begin, { index, column: end.end })
      if (!/\bFROM\s+STDIN\b/i.test(statement)) continue // a server-side COPY: an ordinary statement
      const rest = line.slice(end.end).trim()
      if (rest && !rest.startsWith('--')) {
        throw new RestoreError('syntax_error', `${file}:${lineNumber}: text after a COPY … FROM stdin statement on the same line`, { line: lineNumber })
      }
      const prefix = textBetween(batch, { index: 0, column: 0 }, begin)
      batch = []
      batchSize = 0
      if (prefix.trim()) yield { kind: 'sql', text: prefix, line: batchLine }
      const dataLines = yield* copyBlock(bytes, file, statement, begin.line, lineNumber + 1)
      lineNumber += 1 + dataLines // the rows and the \. line
      batchLine = lineNumber + 1
      lineDone = true
      break // COPY ends the line
    }
    if (lineDone) continue
    if (state.open && !openAt) openAt = { index, column: scan.starts.at(-1) ?? 0, line: lineNumber }
    if (!state.open && state.mode === 'normal' && batchSize >= batchChars) {
      const pending = takeBatch()
      if (pending) yield pending
    }
  }

  assertComplete(state, openAt?.line ?? lineNumber, file)
  const pending = takeBatch()
  if (pending) yield pending
}

/** A psql meta-command line (`\\connect`, `\\restrict` …) as an event; `\\.` outside COPY data is an error. */
function metaCommand(line: string, lineNumber: number, file: string): ReaderEvent {
  const [command = '', ...args] = line.trim().split(/\s+/)
  if (command === '\\.') throw new RestoreError('syntax_error', `${file}:${lineNumber}: a \\. line outside COPY data (a COPY statement above it failed to parse, or the file was edited)`, { line: lineNumber })
  return { kind: 'meta', command, args: args.join(' '), line: lineNumber }
}

/** At the end of the file: nothing may still be open (a quote, a dollar body, a statement). */
function assertComplete(state: LexState, openLine: number, file: string): void {
  if (state.mode !== 'normal') {
    throw new RestoreError('truncated', `${file}:${state.modeLine}: the file ends inside ${describeMode(state)} begun at line ${state.modeLine} (truncated?)`, { line: state.modeLine })
  }
  if (state.open) {
    throw new RestoreError('truncated', `${file}:${openLine}: the file ends inside a statement begun at line ${openLine} (no closing ';'; truncated?)`, { line: openLine })
  }
}

/** Text of `batch` from `from` (inclusive) to `to` (exclusive), lines joined with \n. */
function textBetween(batch: string[], from: { index: number; column: number }, to: { index: number; column: number }): string {
  if (from.index === to.index) return batch[from.index]!.slice(from.column, to.column)
  const lines = [batch[from.index]!.slice(from.column), ...batch.slice(from.index + 1, to.index)]
  if (to.index < batch.length) lines.push(batch[to.index]!.slice(0, to.column))
  return lines.join('\n')
}

/** Yields the COPY event; returns the number of data lines once they have been read past. */
async function* copyBlock(bytes: ByteReader, file: string, sql: string, line: number, dataStart: number): AsyncGenerator<ReaderEvent, number> {
  const stats = { lines: 0, terminated: false }
  let started = false
  const data = (async function* () {
    started = true
    yield* bytes.copyData(stats)
    if (!stats.terminated) {
      throw new RestoreError('copy_unterminated', `${file}:${line}: COPY data starting at line ${dataStart} has no terminating \\. line (the file ends at line ${dataStart + stats.lines - 1}; truncated?)`, { line })
    }
  })()
  yield { kind: 'copy', sql, line, data, stats }
  // A skipped COPY still has to be read past.
  if (!started) for await (const _ of data) void _
  if (!stats.terminated) throw new RestoreError('copy_unterminated', `${file}:${line}: COPY data starting at line ${dataStart} has no terminating \\. line`, { line })
  return stats.lines
}
