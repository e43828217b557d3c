/**
 * `.env` in the working directory, as `.env.example` promises. The real environment wins: a
 * variable already set (even to an empty string) is never replaced by the file. Parsed with
 * Node's own `util.parseEnv` (the `--env-file` syntax), so no dependency is needed.
 * @module
 */
import fs from 'node:fs'
import path from 'node:path'
import util from 'node:util'
import { FatalError } from '../errors.ts'

export interface DotEnvResult {
  /** The file read, or undefined when there was none. */
  file: string | undefined
  /** Names taken from the file (not already in the environment). */
  applied: string[]
}

/** Reads `<dir>/.env` into `env` (default `process.env`) without overriding what is set. */
export function loadDotEnv(env: NodeJS.ProcessEnv = process.env, dir = process.cwd()): DotEnvResult {
  const file = path.join(dir, '.env')
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') return { file: undefined, applied: [] }
    throw new FatalError(`.env: cannot read ${file} (${code ?? (error as Error).message})`)
  }
  const parsed = util.parseEnv(text)
  const applied: string[] = []
  for (const [name, value] of Object.entries(parsed)) {
    if (env[name] !== undefined) continue
    env[name] = value
    applied.push(name)
  }
  return { file, applied }
}
