import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { useCliDatabase } from '../support/cli.ts'
import { F, tempFile } from './helpers.ts'

describe('resolution db status | dump | restore | migrate (the CLI)', { timeout: 240_000 }, () => {
  const runWithInput = useCliDatabase('resolution-cli')
  const run = (...argv: string[]) => runWithInput(undefined, ...argv)

  it('--help on every command, exit 0', () => {
    for (const command of ['status', 'dump', 'restore', 'migrate']) {
      const { code, stdout } = run('db', command, '--help')
      expect(code).toBe(0)
      expect(stdout).toContain(`Usage: resolution db ${command}`)
      expect(stdout).toContain('--database-url')
    }
  })

  it('--version prints the package version', () => {
    const { version } = JSON.parse(fs.readFileSync(path.resolve(import.meta.dirname, '../../package.json'), 'utf8')) as { version: string }
    expect(run('--version')).toMatchObject({ code: 0, stdout: `${version}\n` })
  })

  it('restore: exit 0 with the summary; a broken file exits 1 with file, line and cause', () => {
    const ok = run('db', 'restore', F.schema, F.data)
    expect(ok.stderr).toBe('')
    expect(ok.code).toBe(0)
    expect(ok.stdout).toContain('public.clients: 2')
    expect(ok.stdout).toMatch(/extension pgsodium is not available on the target/)

    const broken = tempFile('broken.sql', 'SELECT 1;\nCOPY public.clients (id) FROM stdin;\n99\n')
    const failed = run('db', 'restore', broken)
    expect(failed.code).toBe(1)
    expect(failed.stderr).toContain(`resolution: ${broken}:2: COPY data starting at line 3 has no terminating \\. line`)
    expect(failed.stderr).not.toContain('    at ') // one clear line, no stack

    const piped = runWithInput('CREATE TABLE public.from_stdin (id int);\nCOPY public.from_stdin (id) FROM stdin;\n1\n2\n\\.\n', 'db', 'restore', '-')
    expect(piped.code).toBe(0)
    expect(piped.stdout).toContain('public.from_stdin: 2')

    const missing = run('db', 'restore', '/nonexistent.sql')
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain('/nonexistent.sql: no such file')
  })

  it('status and dump, exit 0', () => {
    const status = run('db', 'status')
    expect(status.code).toBe(0)
    expect(status.stdout).toMatch(/Bootstrap:\s+version \d+/)
    expect(status.stdout).toMatch(/public\s+2\s+/) // clients and from_stdin
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'resolution-cli-dump-')), 'schema.sql')
    const dump = run('db', 'dump', '--schema-only', '-f', file)
    expect(dump.code).toBe(0)
    expect(fs.readFileSync(file, 'utf8')).toContain('CREATE TABLE "public"."clients"')
    const both = run('db', 'dump', '--schema-only', '--data-only')
    expect(both.code).toBe(1)
  })

  it('migrate applies once; --status lists; a missing directory exits 1', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'resolution-cli-migrations-'))
    fs.writeFileSync(path.join(dir, '20250101000000_add_note.sql'), 'ALTER TABLE public.clients ADD COLUMN note text;\n')
    const first = run('db', 'migrate', '--dir', dir)
    expect(first.code).toBe(0)
    expect(first.stdout).toContain('1 migration(s) applied, 0 already applied')
    const second = run('db', 'migrate', '--dir', dir)
    expect(second.stdout).toContain('0 migration(s) applied, 1 already applied')
    const status = run('db', 'migrate', '--dir', dir, '--status')
    expect(status.stdout).toMatch(/20250101000000\s+applied\s+add_note/)
    const missing = run('db', 'migrate', '--dir', path.join(dir, 'nope'))
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain('does not exist')
  })
})
