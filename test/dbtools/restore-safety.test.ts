import { randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { expect, it } from 'vitest'
import { RestoreError } from '../../src/dbtools/restore/errors.ts'
import { formatSummary } from '../../src/dbtools/restore/report.ts'
import { restore } from '../../src/dbtools/restore/restore.ts'
import { UnsafeDumpError } from '../../src/dbtools/restore/safety.ts'
import type { Queryable } from '../../src/db/types.ts'
import { describeEachDatabase } from '../support/databases.ts'
import { F, snapshot, tempFile } from './helpers.ts'

const suffix = randomBytes(3).toString('hex')
const superRole = `safety_su_${suffix}`
const member = `safety_member_${suffix}`

/** A crafted dump: every line a rule of safety.ts refuses, between harmless ones. */
const CRAFTED = [
  'CREATE TABLE public.safety_t (id int, note text);', // 1
  "COPY public.safety_t (note) FROM PROGRAM 'echo pwned';", // 2
  "COPY public.safety_t (note) FROM '/etc/hostname';", // 3
  "SELECT pg_catalog.pg_read_file('/etc/hostname');", // 4
  "SELECT lo_import('/etc/hostname');", // 5
  `CREATE ROLE ${superRole} SUPERUSER LOGIN;`, // 6
  'CREATE FUNCTION public.safety_evt() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN END $$;', // 7
  'CREATE EVENT TRIGGER safety_evt ON ddl_command_end EXECUTE FUNCTION public.safety_evt();', // 8
  'DO $$ BEGIN CREATE TABLE public.safety_from_do (id int); END $$;', // 9
  'COPY (SELECT id FROM public.safety_t) TO STDOUT;', // 10
  "ALTER SYSTEM SET work_mem = '64MB';", // 11: skipped (database-level), never run
  // A definition is not execution: this body is restored, not refused.
  "CREATE FUNCTION public.safety_reader() RETURNS text LANGUAGE sql AS $$ SELECT pg_read_file('/etc/hostname') $$;", // 12
  'SELECT public.safety_reader();', // 13: …but calling it at restore time is
  `CREATE ROLE ${member} NOLOGIN;`, // 14
  `GRANT pg_execute_server_program TO ${member};`, // 15
  "CREATE FUNCTION public.safety_c() RETURNS int LANGUAGE c AS '/tmp/evil.so', 'f';", // 16
  "CREATE TABLE public.safety_defaults (id int, leak text DEFAULT pg_read_file('/etc/hostname'));", // 17
  'CREATE TABLE public.safety_after (id int);', // 18
  `CREATE ROLE ${member}_in IN ROLE pg_read_server_files;`, // 19
  `ALTER GROUP pg_write_server_files ADD USER ${member};`, // 20
  "COPY public.safety_t (id) FROM stdin WHERE pg_read_file('/etc/hostname') IS NOT NULL;", // 21
  '1',
  '\\.',
  "PREPARE safety_p AS SELECT pg_ls_dir('/');", // 24
  "CREATE SUBSCRIPTION safety_sub CONNECTION 'host=127.0.0.1 dbname=none' PUBLICATION p;", // 25
  "CREATE SUBSCRIPTION safety_sub2 CONNECTION 'host=127.0.0.1 dbname=none' PUBLICATION p WITH (connect = false, slot_name = NONE, enabled = false);", // 26: as pg_dump writes it
  '',
].join('\n')

const EXPECTED = [
  { line: 2, rule: 'copy-program' },
  { line: 3, rule: 'copy-file' },
  { line: 4, rule: 'server-function' },
  { line: 5, rule: 'server-function' },
  { line: 6, rule: 'privileged-role' },
  { line: 8, rule: 'event-trigger' },
  { line: 9, rule: 'do-block' },
  { line: 10, rule: 'copy-out' },
  { line: 13, rule: 'dump-function-call' },
  { line: 15, rule: 'privileged-membership' },
  { line: 16, rule: 'untrusted-language' },
  { line: 17, rule: 'server-function' },
  { line: 19, rule: 'privileged-membership' },
  { line: 20, rule: 'privileged-membership' },
  { line: 21, rule: 'server-function' },
  { line: 24, rule: 'server-function' },
  { line: 25, rule: 'subscription' },
]

async function exists(db: Queryable, sql: string): Promise<boolean> {
  const { rows } = await db.query<{ found: boolean }>(`SELECT EXISTS (${sql}) AS found`)
  return rows[0]!.found
}

describeEachDatabase('restore: the safety check (issue 12, points 9 and 11)', (ctx) => {
  it('refuses a crafted dump with file, line, what and why for every unsafe statement, and changes nothing', async () => {
    const db = ctx().database
    const before = await snapshot(db)
    const file = tempFile('crafted.sql', CRAFTED)
    const error = await restore(db, [file]).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(UnsafeDumpError)
    const unsafe = error as UnsafeDumpError
    expect(unsafe.code).toBe('unsafe_statement')
    expect(unsafe.findings.map((f) => ({ line: f.line, rule: f.rule }))).toEqual(EXPECTED)
    for (const f of unsafe.findings) {
      expect(f.file).toBe(file)
      expect(f.what.length).toBeGreaterThan(0)
      expect(f.why.length).toBeGreaterThan(0)
      expect(unsafe.message).toContain(`${file}:${f.line}: ${f.what} [${f.rule}]: ${f.why}`)
    }
    expect(unsafe.findings[0]).toMatchObject({ what: 'COPY public.safety_t FROM PROGRAM', why: 'runs a shell command on the database server, as its operating-system user' })
    expect(unsafe.findings.find((f) => f.line === 4)).toMatchObject({ what: 'calls pg_catalog.pg_read_file()', why: 'reads or writes files on the database server' })
    expect(unsafe.message).toContain('nothing was restored')
    expect(unsafe.message).toContain('--allow-unsafe')

    // Nothing ran: no table, no role, no event trigger, no function.
    expect(await snapshot(db)).toEqual(before)
    expect(await exists(db, `SELECT 1 FROM pg_roles WHERE rolname IN ('${superRole}', '${member}', '${member}_in')`)).toBe(false)
    expect(await exists(db, "SELECT 1 FROM pg_event_trigger WHERE evtname = 'safety_evt'")).toBe(false)
    expect(await exists(db, "SELECT 1 FROM pg_proc WHERE proname LIKE 'safety\\_%'")).toBe(false)
  })

  it('--no-transaction: the check reads every file before the first statement commits', async () => {
    const db = ctx().database
    const first = tempFile('first.sql', 'CREATE TABLE public.safety_first (id int);\n')
    const second = tempFile('second.sql', 'CREATE TABLE public.safety_second (id int);\nDO $$ BEGIN PERFORM 1; END $$;\n')
    const error = await restore(db, [first, second], { transaction: false }).catch((e: unknown) => e)
    expect((error as UnsafeDumpError).findings).toEqual([expect.objectContaining({ file: second, line: 2, rule: 'do-block' })])
    expect(await exists(db, "SELECT 1 FROM pg_class WHERE relname IN ('safety_first', 'safety_second')")).toBe(false)
  })

  it('--dry-run lists them and changes nothing', async () => {
    const db = ctx().database
    const before = await snapshot(db)
    const summary = await restore(db, [tempFile('crafted.sql', CRAFTED)], { dryRun: true })
    expect(summary.unsafe.map((f) => ({ line: f.line, rule: f.rule }))).toEqual(EXPECTED)
    expect(summary.unsafe.every((f) => !f.allowed)).toBe(true)
    const text = formatSummary(summary)
    expect(text).toContain(`Unsafe: ${EXPECTED.length} statements a restore refuses`)
    expect(text).toMatch(/crafted\.sql:2: COPY public\.safety_t FROM PROGRAM \[copy-program\]: runs a shell command/)
    // ALTER SYSTEM is skipped as always (database-level), so it is not in the list and never runs.
    expect(summary.decisions.find((d) => d.line === 11)).toMatchObject({ rule: 'database-level', action: 'skip' })
    expect(await snapshot(db)).toEqual(before)
  })

  it('COPY (SELECT …) TO no longer crashes the restore: it is refused like the rest (point 11)', async () => {
    const error = await restore(ctx().database, [tempFile('copy-out.sql', 'COPY (SELECT 1) TO STDOUT;\n')]).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(RestoreError)
    expect((error as UnsafeDumpError).findings).toEqual([expect.objectContaining({ line: 1, rule: 'copy-out', what: 'COPY (query) TO STDOUT' })])
    const toFile = await restore(ctx().database, [tempFile('copy-to.sql', "COPY (SELECT 1) TO '/tmp/resolution-safety-out';\n")]).catch((e: unknown) => e)
    expect((toFile as UnsafeDumpError).findings).toEqual([expect.objectContaining({ rule: 'copy-file', what: 'COPY (query) TO a server file' })])
  })

  it('--allow-unsafe runs them, and the summary says which ran', async () => {
    const db = ctx().database
    const dump = [
      'DO $$ BEGIN CREATE TABLE public.safety_allowed (id int); END $$;',
      'CREATE FUNCTION public.safety_fill() RETURNS void LANGUAGE sql AS $$ INSERT INTO public.safety_allowed VALUES (7) $$;',
      'SELECT public.safety_fill();',
      '',
    ].join('\n')
    const summary = await restore(db, [tempFile('allowed.sql', dump)], { allowUnsafe: true })
    expect(summary.unsafe.map((f) => ({ line: f.line, rule: f.rule, allowed: f.allowed }))).toEqual([
      { line: 1, rule: 'do-block', allowed: true },
      { line: 3, rule: 'dump-function-call', allowed: true },
    ])
    expect(formatSummary(summary)).toContain('Unsafe, ran because of --allow-unsafe: 2 statements:')
    const { rows } = await db.query<{ id: number }>('SELECT id FROM public.safety_allowed')
    expect(rows).toEqual([{ id: 7 }])
    await db.exec('DROP TABLE public.safety_allowed; DROP FUNCTION public.safety_fill()')
  })

  it('standard input is checked too (spooled once, then restored from the copy)', async () => {
    const db = ctx().database
    const refused = await restore(db, [{ name: 'stdin', once: true, open: () => Readable.from(['CREATE TABLE public.safety_stdin (id int);\n', "COPY public.safety_stdin FROM PROGRAM 'id';\n"]) }]).catch((e: unknown) => e)
    expect((refused as UnsafeDumpError).findings).toEqual([expect.objectContaining({ file: 'stdin', line: 2, rule: 'copy-program' })])
    expect(await exists(db, "SELECT 1 FROM pg_class WHERE relname = 'safety_stdin'")).toBe(false)
    const summary = await restore(db, [{ name: 'stdin', once: true, open: () => Readable.from(['CREATE TABLE public.safety_stdin (id int);\nCOPY public.safety_stdin (id) FROM stdin;\n1\n2\n\\.\n']) }])
    expect(summary.rows.get('public.safety_stdin')).toBe(2)
  })

  it("Supabase's own files need no flag: their event triggers and DO block are skipped by known rules, not refused", async () => {
    const db = ctx().database
    const summary = await restore(db, [F.globals, F.roles, F.initial15, F.schema, F.data, F.seed], { dryRun: true })
    expect(summary.unsafe).toEqual([])
    expect(summary.decisions.find((d) => d.rule === 'supabase-do-block')).toMatchObject({ action: 'skip', line: 134 })
    expect(summary.decisions.filter((d) => d.rule === 'event-trigger' && d.excerpt.startsWith('CREATE EVENT TRIGGER'))).toHaveLength(6)
    // And for real (globals.sql carries the DO block; the other files are restored by the fixture suite).
    const real = await restore(db, [F.globals])
    expect(real.unsafe).toEqual([])
  })
})
