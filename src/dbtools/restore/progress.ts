/**
 * A one-line progress bar on stderr when it is a terminal; nothing at all otherwise (CI, pipes).
 * @module
 */
import type { ByteReader } from './bytes.ts'
import type { RestoreSummary } from './report.ts'

export interface Progress {
  file(name: string, readers: ByteReader[]): void
  tick(summary: RestoreSummary): void
  /** A COPY block is streaming: its data lines count as rows until it is done. */
  copying(stats: { lines: number } | undefined): void
  stop(): void
}

const NONE: Progress = { file() {}, tick() {}, copying() {}, stop() {} }

const mb = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MB`

export function startProgress(stream: NodeJS.WriteStream | undefined, totalBytes: number): Progress {
  if (!stream?.isTTY) return NONE
  let done = 0
  let name = ''
  let readers: ByteReader[] = []
  let summary: RestoreSummary | undefined
  let copy: { lines: number } | undefined
  const draw = () => {
    const read = done + readers.reduce((sum, r) => sum + r.consumed, 0)
    const ratio = totalBytes > 0 ? Math.min(1, read / totalBytes) : 0
    const width = 24
    const bar = '█'.repeat(Math.round(ratio * width)).padEnd(width, '·')
    const rows = (summary ? [...summary.rows.values()].reduce((a, b) => a + b, 0) : 0) + (copy?.lines ?? 0)
    stream.write(`\r\x1b[K${bar} ${(ratio * 100).toFixed(0).padStart(3)}% ${mb(read)}/${mb(totalBytes)} ${summary?.statementsRun ?? 0} statements ${rows} rows  ${name}`)
  }
  const timer = setInterval(draw, 200)
  timer.unref()
  return {
    file(next, nextReaders) {
      done += readers.reduce((sum, r) => sum + r.consumed, 0)
      name = next
      readers = nextReaders
    },
    tick(next) {
      summary = next
    },
    copying(stats) {
      copy = stats
    },
    stop() {
      clearInterval(timer)
      draw()
      stream.write('\n')
    },
  }
}
