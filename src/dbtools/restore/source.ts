/**
 * Where a restore reads a dump from: a file, standard input, or any stream a caller hands in.
 * @module
 */
import fs from 'node:fs'
import type { Readable } from 'node:stream'
import { RestoreError } from './errors.ts'

export interface RestoreSource {
  /** Shown in messages (`file:line`). */
  name: string
  open(): Readable | AsyncIterable<Buffer | string>
  /** Bytes, for the progress bar. */
  size?: number
  /** `open()` works only once (standard input): the safety check spools it to a temporary file. */
  once?: boolean
}

/** A dump file, or `-` for standard input (`resolution db restore - < dump.sql`). */
export function fileSource(path: string): RestoreSource {
  if (path === '-') return { name: 'stdin', open: () => process.stdin, once: true }
  let size: number
  try {
    size = fs.statSync(path).size
  } catch (error) {
    throw new RestoreError('file_not_found', `${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`)
  }
  return { name: path, size, open: () => fs.createReadStream(path, { highWaterMark: 4 * 1024 * 1024 }) }
}
