/**
 * A pull reader over a byte stream: whole lines for SQL text, raw slices for COPY data. It never
 * holds more than one chunk plus one partial line, so memory stays flat however large the file.
 * @module
 */
import type { Readable } from 'node:stream'

/** Largest COPY data slice handed out (bytes); rows are never split. */
const COPY_PIECE = 64 * 1024
const MARKER = Buffer.from('\n\\.')

export class ByteReader {
  #iterator: AsyncIterator<Buffer | string>
  #buf: Buffer = Buffer.alloc(0)
  #pos = 0
  #eof = false
  /** Bytes handed out so far (lines and COPY data), for progress. */
  consumed = 0

  constructor(source: Readable | AsyncIterable<Buffer | string>) {
    this.#iterator = (source as AsyncIterable<Buffer | string>)[Symbol.asyncIterator]()
  }

  /** Appends the next chunk; false at end of input. */
  async #fill(): Promise<boolean> {
    if (this.#eof) return false
    const next = await this.#iterator.next()
    if (next.done) {
      this.#eof = true
      return false
    }
    const chunk = typeof next.value === 'string' ? Buffer.from(next.value, 'utf8') : next.value
    const rest = this.#buf.subarray(this.#pos)
    this.#buf = rest.length === 0 ? chunk : Buffer.concat([rest, chunk])
    this.#pos = 0
    return true
  }

  /** The next line without its `\n` (a `\r` before it is kept), or null at end of input. */
  async readLine(): Promise<Buffer | null> {
    let searchFrom = this.#pos
    for (;;) {
      const newline = this.#buf.indexOf(0x0a, searchFrom)
      if (newline !== -1) {
        const line = this.#buf.subarray(this.#pos, newline)
        this.consumed += newline + 1 - this.#pos
        this.#pos = newline + 1
        return line
      }
      searchFrom = this.#buf.length - this.#pos
      if (!(await this.#fill())) break
    }
    if (this.#pos >= this.#buf.length) return null
    const line = this.#buf.subarray(this.#pos)
    this.consumed += line.length
    this.#pos = this.#buf.length
    return line
  }

  /**
   * COPY text data up to (not including) its `\.` line, as slices that end on row boundaries.
   * `onEnd` learns how many data lines there were; it throws when the input ends first.
   */
  async *copyData(stats: { lines: number; terminated: boolean }): AsyncGenerator<Buffer> {
    let limitOf: Buffer | undefined
    let limit = -1
    for (;;) {
      // At a line start: is this the end marker?
      if (this.#buf.length - this.#pos < 4 && !this.#eof) {
        if (await this.#fill()) continue
      }
      if (this.#isEndMarker(this.#pos)) {
        const newline = this.#buf.indexOf(0x0a, this.#pos)
        const end = newline === -1 ? this.#buf.length : newline + 1
        this.consumed += end - this.#pos
        this.#pos = end
        stats.terminated = true
        return
      }
      if (this.#pos >= this.#buf.length && this.#eof) return
      // Everything up to the next possible marker, or the last whole line of the buffer: searched
      // once per buffer, not once per piece (that would rescan megabytes for every 64 KiB).
      if (limitOf !== this.#buf || limit <= this.#pos) {
        limitOf = this.#buf
        limit = this.#copyLimit()
      }
      let cut = limit
      // Modest pieces (whole rows): the server parses one COPY message while the next arrives.
      if (cut - this.#pos > COPY_PIECE) {
        const newline = this.#buf.lastIndexOf(0x0a, this.#pos + COPY_PIECE - 1)
        if (newline >= this.#pos) cut = newline + 1
      }
      if (cut <= this.#pos) {
        // No whole line in the buffer: read more, or the file ended inside a row.
        if (await this.#fill()) continue
        const rest = this.#buf.subarray(this.#pos)
        this.consumed += rest.length
        this.#pos = this.#buf.length
        stats.lines += 1
        yield rest
        return
      }
      const slice = this.#buf.subarray(this.#pos, cut)
      stats.lines += countNewlines(slice)
      this.consumed += slice.length
      this.#pos = cut
      yield slice
    }
  }

  /** End of the COPY data safely handed out from the current buffer: before a possible `\.` line, else after its last whole line. */
  #copyLimit(): number {
    let search = this.#pos
    for (;;) {
      const hit = this.#buf.indexOf(MARKER, search)
      if (hit === -1) return this.#buf.lastIndexOf(0x0a) + 1
      if (this.#isEndMarker(hit + 1) || hit + 4 > this.#buf.length) return hit + 1
      search = hit + 1
    }
  }

  #isEndMarker(at: number): boolean {
    const b = this.#buf
    if (b[at] !== 0x5c || b[at + 1] !== 0x2e) return false
    const after = b[at + 2]
    if (after === undefined) return this.#eof
    if (after === 0x0a) return true
    if (after === 0x0d) return b[at + 3] === 0x0a || (b[at + 3] === undefined && this.#eof)
    return false
  }
}

export function countNewlines(buffer: Buffer): number {
  let count = 0
  let at = buffer.indexOf(0x0a)
  while (at !== -1) {
    count += 1
    at = buffer.indexOf(0x0a, at + 1)
  }
  return count
}
