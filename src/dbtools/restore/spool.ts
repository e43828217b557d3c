/**
 * A source that can be read only once (standard input) but must be read twice — by the safety
 * check, then by the restore — is copied to a private temporary file on the first read.
 * Memory stays flat: chunks go straight to disk.
 * @module
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { RestoreSource } from './source.ts'

export interface Spooled {
  source: RestoreSource
  /** Deletes the temporary copy (a no-op for a file that can be re-read). */
  remove(): void
}

export async function spoolOnce(source: RestoreSource): Promise<Spooled> {
  if (!source.once) return { source, remove: () => {} }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'resolution-restore-'))
  const file = path.join(dir, 'stdin.sql')
  const remove = () => fs.rmSync(dir, { recursive: true, force: true })
  try {
    const out = fs.createWriteStream(file, { mode: 0o600 })
    for await (const chunk of source.open()) {
      if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()))
    }
    await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())))
  } catch (error) {
    remove()
    throw error
  }
  const size = fs.statSync(file).size
  return { source: { name: source.name, size, open: () => fs.createReadStream(file, { highWaterMark: 4 * 1024 * 1024 }) }, remove }
}
