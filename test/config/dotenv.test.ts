import { mkdtempSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import util from 'node:util'
import { describe, expect, it } from 'vitest'
import { loadDotEnv, parseSimple } from '../../src/config/dotenv.ts'

const TEXT = '# comment\nPORT=5123\nexport LOG_LEVEL=debug\nDB_SCHEMAS="public,api"\nSITE_URL=http://localhost:4000 # inline\nEMPTY=\nQUOTED=\'a # b\'\n'

describe('.env', () => {
  it('fills only what the environment does not set, and says which names it took', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'resolution-dotenv-'))
    writeFileSync(path.join(dir, '.env'), TEXT)
    const env: NodeJS.ProcessEnv = { LOG_LEVEL: 'warn', EMPTY: '' }
    const result = loadDotEnv(env, dir)
    expect(result.file).toBe(path.join(dir, '.env'))
    expect(env).toMatchObject({ PORT: '5123', LOG_LEVEL: 'warn', DB_SCHEMAS: 'public,api', SITE_URL: 'http://localhost:4000', EMPTY: '' })
    expect(result.applied.sort()).toEqual(['DB_SCHEMAS', 'PORT', 'QUOTED', 'SITE_URL'])
  })

  it('no file is not an error', () => {
    expect(loadDotEnv({}, mkdtempSync(path.join(os.tmpdir(), 'resolution-dotenv-')))).toEqual({ file: undefined, applied: [] })
  })

  it('the fallback parser for old Node 20 reads what util.parseEnv reads', () => {
    const fallback = parseSimple(TEXT)
    expect(fallback).toEqual({ PORT: '5123', LOG_LEVEL: 'debug', DB_SCHEMAS: 'public,api', SITE_URL: 'http://localhost:4000', EMPTY: '', QUOTED: 'a # b' })
    if (typeof util.parseEnv === 'function') expect(util.parseEnv(TEXT)).toEqual(fallback)
  })
})
