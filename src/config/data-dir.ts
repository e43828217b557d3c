/**
 * Creates the data dir one level at a time. Node's `mkdir({ recursive: true })` never returns
 * for some impossible paths (`/proc/x` spins forever on ENOENT), so a bad RESOLUTION_DATA_DIR
 * would hang start-up instead of failing with one line.
 * @module
 */
import fs from 'node:fs'
import path from 'node:path'
import { fail } from './env.ts'

function exists(target: string): boolean {
  try {
    fs.lstatSync(target)
    return true
  } catch {
    return false
  }
}

/** Makes `dir` (and missing parents) and checks it is writable; a ConfigError naming the variable otherwise. */
export function ensureDataDir(dir: string): void {
  const target = path.resolve(dir)
  try {
    const missing: string[] = []
    let current = target
    while (!exists(current)) {
      missing.unshift(current)
      const parent = path.dirname(current)
      if (parent === current) break
      current = parent
    }
    for (const level of missing) fs.mkdirSync(level)
    if (!fs.statSync(target).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' })
    fs.accessSync(target, fs.constants.W_OK)
  } catch (error) {
    fail('RESOLUTION_DATA_DIR', `${dir} is not writable (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`)
  }
}
