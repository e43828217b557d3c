/**
 * Every variable the code reads is declared (src/config/variables.ts), documented in the README's
 * settings table and present in `.env.example`; and nothing reads the environment behind the
 * config's back: no `process.env.X` outside src/config/, no `env.X` read outside the parsers.
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { VARIABLES } from '../../src/config/variables.ts'

const ROOT = path.resolve(import.meta.dirname, '../..')
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8')

function sources(dir: string): string[] {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const relative = path.join(dir, entry.name)
    if (entry.isDirectory()) return sources(relative)
    return entry.name.endsWith('.ts') ? [relative] : []
  })
}

/** Names in the first column of the README's settings table (`| \`A\`, \`B\` | … |`). */
function readmeTable(): Set<string> {
  const section = read('README.md').split('\n## Configuration')[1]?.split('\n## ')[0] ?? ''
  const names = new Set<string>()
  for (const line of section.split('\n')) {
    const first = /^\|([^|]*)\|/.exec(line)?.[1] ?? ''
    for (const match of first.matchAll(/`([A-Z][A-Z0-9_]*)`/g)) names.add(match[1]!)
  }
  return names
}

/** `NAME=` lines, set or commented out. */
function envExample(): Set<string> {
  return new Set([...read('.env.example').matchAll(/^#?\s*([A-Z][A-Z0-9_]*)=/gm)].map((match) => match[1]!))
}

/**
 * Where the whole environment (not one variable) may be handed on: entry points passing it to the
 * config loader (`createLambdaRuntime(process.env)`), and child processes inheriting it
 * (`{ ...process.env }`). Neither reads a variable.
 */
const WHOLE_ENV = /^process\.env\s*(?:[,;:)}\]]|$|\?\?)/

/** A named read (`env.JWT_SECRET`, `env?.PORT`, `env['PORT']`); an assignment to a child's env is a write. */
const NAMED_READ = /(?<!process\.)\benv\??\.\s*[A-Z][A-Z0-9_]*\b(?!\s*=[^=])|(?<!process\.)\benv\[\s*'[A-Z][A-Z0-9_]*'\s*\](?!\s*=[^=])/

/** Lines of `file` that read the environment behind the config's back. */
function readsOutsideConfig(file: string, text: string): string[] {
  const offences: string[] = []
  text.split('\n').forEach((line, index) => {
    const code = line.trim()
    if (code.startsWith('*') || code.startsWith('//') || code.startsWith('/*')) return
    const where = `${file}:${index + 1}: ${code}`
    for (const match of line.matchAll(/process\.env\b/g)) {
      if (file.startsWith('src/config/') || WHOLE_ENV.test(line.slice(match.index))) continue
      offences.push(where)
    }
    if (file !== 'src/config/env.ts' && NAMED_READ.test(line)) offences.push(where)
  })
  return offences
}

describe('configuration is declared and documented', () => {
  it('every declared variable is in the README settings table and in .env.example', () => {
    const table = readmeTable()
    const example = envExample()
    expect(VARIABLES.filter((name) => !table.has(name)), 'missing from the README settings table').toEqual([])
    expect(VARIABLES.filter((name) => !example.has(name)), 'missing from .env.example').toEqual([])
  })

  it('documents nothing that is not read', () => {
    const declared = new Set<string>(VARIABLES)
    expect([...readmeTable()].filter((name) => !declared.has(name)), 'in the README table but never read').toEqual([])
    expect([...envExample()].filter((name) => !declared.has(name)), 'in .env.example but never read').toEqual([])
  })

  it('no process.env.X outside src/config/, and no env.X read outside the parsers (src/config/env.ts)', () => {
    expect(sources('src').flatMap((file) => readsOutsideConfig(file, read(file)))).toEqual([])
  })

  it('the scan catches a planted read, and lets the whole environment be handed on', () => {
    expect(readsOutsideConfig('src/rest/x.ts', 'const port = process.env.PORT')).toHaveLength(1)
    expect(readsOutsideConfig('src/rest/x.ts', "const port = process.env['PORT']")).toHaveLength(1)
    expect(readsOutsideConfig('src/config/rest.ts', 'const rows = env.DB_MAX_ROWS')).toHaveLength(1)
    expect(readsOutsideConfig('src/cli/x.ts', 'const env = { ...process.env }\nenv.PGPASSWORD = password')).toEqual([])
    expect(readsOutsideConfig('src/runtime/lambda.ts', 'await createLambdaRuntime(process.env)')).toEqual([])
    expect(readsOutsideConfig('src/config/env.ts', 'const value = env[name]?.trim()')).toEqual([])
  })
})
