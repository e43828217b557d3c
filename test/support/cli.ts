/**
 * Runs the real `resolution` binary in a child process against a database of the suite's own: a fresh
 * database on the server when TEST_DATABASE_URL is set (faster than a PGlite start per command), else
 * an embedded data dir of its own. Call inside a `describe`; it registers the set-up and tear-down.
 */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll } from 'vitest'
import { createServerDatabase } from './databases.ts'

export const BIN = path.resolve(import.meta.dirname, '../../bin/resolution.mjs')

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

export type CliRunner = (input: string | undefined, ...argv: string[]) => CliResult

export function useCliDatabase(prefix: string): CliRunner {
  let args: string[] = []
  let env: NodeJS.ProcessEnv = {}
  let drop = async () => {}

  beforeAll(async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`))
    env = { ...process.env, RESOLUTION_DATA_DIR: dataDir, DATABASE_URL: '', LOG_LEVEL: 'error' }
    if (process.env.TEST_DATABASE_URL) {
      const server = await createServerDatabase()
      args = ['--database-url', server.url]
      drop = server.drop
    }
  }, 60_000)
  afterAll(() => drop(), 60_000)

  return (input, ...argv) => {
    // `--help` and `--version` need no database, and the flag would only be noise in what they print.
    const withDb = argv.includes('--help') || argv.includes('--version') ? argv : [...argv, ...args]
    const result = spawnSync(process.execPath, [BIN, ...withDb], { env, encoding: 'utf8', timeout: 120_000, input })
    return { code: result.status, stdout: result.stdout, stderr: result.stderr }
  }
}
