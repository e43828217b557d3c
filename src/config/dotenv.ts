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
  const parsed = typeof util.parseEnv === 'function' ? util.parseEnv(text) : parseSimple(text)
  const applied: string[] = []
  for (const [name, value] of Object.entries(parsed)) {
    if (env[name] !== undefined) continue
    env[name] = value
    applied.push(name)
  }
  return { file, applied }
}

/** For Node 20 before 20.12 (no `util.parseEnv`): KEY=value lines, optional quotes, # comments. */
export function parseSimple(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const line of text.split(/\r?\n/)) {
    const match = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/.exec(line)
    if (!match) continue
    let value = match[2]!.trim()
    const quote = value[0]
    if ((quote === '"' || quote === "'" || quote === '`') && value.indexOf(quote, 1) > 0) value = value.slice(1, value.indexOf(quote, 1))
    else value = value.replace(/\s+#.*$/, '')
    out[match[1]!] = value
  }
  return out
}
