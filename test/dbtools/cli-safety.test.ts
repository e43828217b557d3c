import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { useCliDatabase } from '../support/cli.ts'
import { tempFile } from './helpers.ts'

describe('resolution db restore: the safety check and --allow-unsafe (the CLI)', { timeout: 240_000 }, () => {
  const run = useCliDatabase('resolution-cli-safety')
  const DUMP = 'CREATE TABLE public.cli_safety (id int);\nDO $$ BEGIN CREATE TABLE public.cli_from_do (id int); END $$;\nCOPY public.cli_safety FROM PROGRAM \'echo 1\';\n'

  it('refuses with exit 1 and the list; --dry-run lists; --allow-unsafe runs; stdin is checked too', () => {
    const file = tempFile('unsafe.sql', DUMP)
    const refused = run(undefined, 'db', 'restore', file)
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain(`${file}:2: DO block [do-block]: runs procedural code at restore time`)
    expect(refused.stderr).toContain(`${file}:3: COPY public.cli_safety FROM PROGRAM [copy-program]: runs a shell command on the database server`)
    expect(refused.stderr).toContain('--allow-unsafe')
    expect(refused.stderr).not.toContain('    at ')

    const piped = run(DUMP, 'db', 'restore', '-')
    expect(piped.code).toBe(1)
    expect(piped.stderr).toContain('stdin:2: DO block [do-block]')

    const dry = run(undefined, 'db', 'restore', '--dry-run', file)
    expect(dry.code).toBe(0)
    expect(dry.stdout).toContain('Unsafe: 2 statements a restore refuses')
    expect(dry.stdout).toContain('unsafe.sql:3: COPY public.cli_safety FROM PROGRAM [copy-program]')

    const json = run(undefined, 'db', 'restore', '--dry-run', '--json', file)
    expect(JSON.parse(json.stdout).unsafe).toEqual([expect.objectContaining({ line: 2, rule: 'do-block', allowed: false }), expect.objectContaining({ line: 3, rule: 'copy-program', allowed: false })])

    // Nothing was created by the refusals; then the harmless DO block runs with the flag.
    const allowed = run(undefined, 'db', 'restore', '--allow-unsafe', tempFile('do.sql', 'DO $$ BEGIN CREATE TABLE public.cli_from_do (id int); END $$;\n'))
    expect(allowed.stderr).toBe('')
    expect(allowed.code).toBe(0)
    expect(allowed.stdout).toContain('Unsafe, ran because of --allow-unsafe: 1 statement:')
    // public holds cli_from_do only: the refused runs created no cli_safety.
    const status = JSON.parse(run(undefined, 'db', 'status', '--json').stdout) as { schemas: { schema: string; tables: number }[] }
    expect(status.schemas.find((s) => s.schema === 'public')?.tables).toBe(1)
    const help = run(undefined, 'db', 'restore', '--help')
    expect(help.stdout).toContain('--allow-unsafe')
  })

  it('db dump keeps GRANT/REVOKE by default (a move needs them); --no-acl leaves them out', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'resolution-cli-acl-'))
    const withAcl = run(undefined, 'db', 'dump', '--schema-only', '-n', 'public', '-f', path.join(dir, 'acl.sql'))
    expect(withAcl.code).toBe(0)
    expect(fs.readFileSync(path.join(dir, 'acl.sql'), 'utf8')).toMatch(/^GRANT ALL ON TABLE "public"\."cli_from_do" TO "anon";$/m)
    const without = run(undefined, 'db', 'dump', '--schema-only', '-n', 'public', '--no-acl', '-f', path.join(dir, 'no-acl.sql'))
    expect(without.code).toBe(0)
    const text = fs.readFileSync(path.join(dir, 'no-acl.sql'), 'utf8')
    expect(text).toContain('CREATE TABLE "public"."cli_from_do"')
    expect(text).not.toMatch(/^(GRANT|REVOKE) /m)
  })
})
