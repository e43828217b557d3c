import { beforeAll, expect, it } from 'vitest'
import { RestoreError } from '../../src/dbtools/restore/errors.ts'
import { restore } from '../../src/dbtools/restore/restore.ts'
import { describeEachDatabase } from '../support/databases.ts'
import { snapshot, tempFile } from './helpers.ts'

/** A dump that changes the target a lot before it breaks: any leftover would show in the snapshot. */
const PREFIX = `SET statement_timeout = 0;
SELECT pg_catalog.set_config('search_path', '', false);
CREATE TABLE public.broken_a (id integer PRIMARY KEY, name text);
INSERT INTO public.broken_a VALUES (1, 'one'), (2, 'two');
COPY public.base (id, note) FROM stdin;
10\tten
11\televen
\\.
`

async function expectFailure(db: Parameters<typeof restore>[0], content: string | Buffer, check: (error: RestoreError) => void): Promise<void> {
  const before = await snapshot(db)
  const error = await restore(db, [tempFile('broken.sql', content)]).catch((e: unknown) => e)
  expect(error).toBeInstanceOf(RestoreError)
  check(error as RestoreError)
  expect(await snapshot(db)).toEqual(before)
}

describeEachDatabase('restore: broken files fail with line and cause, target unchanged', (ctx) => {
  beforeAll(async () => {
    await ctx().database.exec("CREATE TABLE public.base (id integer PRIMARY KEY, note text); INSERT INTO public.base VALUES (1, 'kept')")
  })

  it('a COPY block without its \\. line (file ends in the data)', async () => {
    await expectFailure(ctx().database, `${PREFIX}COPY public.base (id, note) FROM stdin;\n20\ttwenty\n21\ttwenty-one\n`, (error) => {
      expect(error.code).toBe('copy_unterminated')
      expect(error.line).toBe(9)
      expect(error.message).toMatch(/broken\.sql:9: COPY data starting at line 10 has no terminating \\\. line/)
    })
  })

  it('a truncated file (ends inside a statement)', async () => {
    await expectFailure(ctx().database, `${PREFIX}CREATE TABLE public.broken_b (\n    id integer,\n    na`, (error) => {
      expect(error.code).toBe('truncated')
      expect(error.line).toBe(9)
    })
  })

  it('a garbage line', async () => {
    await expectFailure(ctx().database, `${PREFIX}SELECT 1;\nthis line is garbage\nSELECT 2;\n`, (error) => {
      expect(error.code).toBe('syntax_error')
      expect(error.line).toBe(10)
      expect(error.message).toContain('syntax error at or near "this"')
    })
  })

  it('a wrong encoding (Latin-1 bytes)', async () => {
    const content = Buffer.concat([Buffer.from(`${PREFIX}INSERT INTO public.base VALUES (30, 'caf`), Buffer.from([0xe9]), Buffer.from("');\n")])
    await expectFailure(ctx().database, content, (error) => {
      expect(error.code).toBe('invalid_encoding')
      expect(error.line).toBe(9)
      expect(error.message).toContain('not valid UTF-8')
    })
  })

  it('a statement the server refuses: the statement, its line and PostgreSQL\'s message', async () => {
    await expectFailure(ctx().database, `${PREFIX}\nALTER TABLE public.base\n    ADD COLUMN note text;\n`, (error) => {
      expect(error.code).toBe('statement_failed')
      expect(error.sqlState).toBe('42701')
      expect(error.line).toBe(10)
      expect(error.message).toContain('column "note" of relation "base" already exists')
      expect(error.message).toContain('statement (line 10): ALTER TABLE public.base')
    })
  })

  it('bad COPY data: the line of the bad row in the file', async () => {
    await expectFailure(ctx().database, `${PREFIX}COPY public.base (id, note) FROM stdin;\n40\tok\nnot-a-number\tbad\n\\.\n`, (error) => {
      expect(error.code).toBe('statement_failed')
      expect(error.sqlState).toBe('22P02')
      expect(error.message).toContain('invalid input syntax for type integer: "not-a-number"')
      expect(error.line).toBe(11)
    })
  })

  it('an unsupported psql meta-command', async () => {
    await expectFailure(ctx().database, `${PREFIX}\\i other.sql\n`, (error) => {
      expect(error.code).toBe('unsupported')
      expect(error.message).toMatch(/broken\.sql:9: .*\\i/)
    })
  })

  it('--no-transaction keeps what ran before the failure', async () => {
    const db = ctx().database
    const error = await restore(db, [tempFile('partial.sql', 'CREATE TABLE public.partial (id int);\nINSERT INTO public.partial VALUES (1);\nINSERT INTO public.partial VALUES (\'x\');\n')], { transaction: false }).catch((e: unknown) => e)
    expect((error as RestoreError).line).toBe(3)
    const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM public.partial')
    expect(Number(rows[0]!.n)).toBe(1)
  })

  it('a file that does not exist', async () => {
    const error = await restore(ctx().database, ['/nonexistent/dump.sql']).catch((e: unknown) => e)
    expect((error as RestoreError).code).toBe('file_not_found')
  })
})
