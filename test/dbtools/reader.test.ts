import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { RestoreError } from '../../src/dbtools/restore/errors.ts'
import { scanInsertValues } from '../../src/dbtools/restore/insert-scan.ts'
import { parseDump, type DumpItem } from '../../src/dbtools/restore/parse.ts'

/** Feeds `text` in chunks of the given sizes (cycled), like a file stream would. */
async function* chunked(text: string | Buffer, sizes: number[] = [1 << 20]): AsyncGenerator<Buffer> {
  const bytes = Buffer.isBuffer(text) ? text : Buffer.from(text, 'utf8')
  let at = 0
  let i = 0
  while (at < bytes.length) {
    const size = Math.max(1, sizes[i++ % sizes.length]!)
    yield bytes.subarray(at, at + size)
    at += size
  }
}

interface Seen {
  kind: string
  line: number
  sql?: string
  data?: string
  type?: string
}

async function collect(text: string | Buffer, sizes?: number[]): Promise<Seen[]> {
  const seen: Seen[] = []
  for await (const item of parseDump(chunked(text, sizes), 'test.sql') as AsyncGenerator<DumpItem>) {
    if (item.kind === 'copy') {
      const parts: Buffer[] = []
      for await (const chunk of item.data) parts.push(chunk)
      seen.push({ kind: 'copy', line: item.line, sql: item.sql, data: Buffer.concat(parts).toString('utf8') })
    } else if (item.kind === 'meta') seen.push({ kind: 'meta', line: item.line, sql: `${item.command} ${item.args}` })
    else seen.push({ kind: 'statement', line: item.line, sql: item.sql, type: item.type })
  }
  return seen
}

async function failure(text: string | Buffer): Promise<RestoreError> {
  const error = await collect(text).then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(RestoreError)
  return error as RestoreError
}

const DUMP = `--
-- PostgreSQL database dump
--
\\restrict abc123

SET statement_timeout = 0;
SELECT pg_catalog.set_config('search_path', '', false);

CREATE FUNCTION public.f() RETURNS text
    LANGUAGE plpgsql
    AS $_$
BEGIN
  -- a ; inside a body, and a line that starts with a backslash:
\\. RETURN 'it''s; fine';
END;
$_$;

COMMENT ON TABLE public.t IS 'semi;colon
second line';
COPY public.t (id, name) FROM stdin;
1\tone
2\t\\N
\\.
INSERT INTO public.t VALUES (3, E'x\\';y');  SELECT 1;
COPY "public"."empty" ("id") FROM stdin;
\\.
\\unrestrict abc123
`

describe('dump reader', () => {
  it('splits statements, meta-commands and COPY blocks with their file lines', async () => {
    const seen = await collect(DUMP)
    expect(seen.map((s) => [s.kind, s.line, s.type ?? ''])).toEqual([
      ['meta', 4, ''],
      ['statement', 6, 'VariableSetStmt'],
      ['statement', 7, 'SelectStmt'],
      ['statement', 9, 'CreateFunctionStmt'],
      ['statement', 18, 'CommentStmt'],
      ['copy', 20, ''],
      ['statement', 24, 'InsertStmt'],
      ['statement', 24, 'SelectStmt'],
      ['copy', 25, ''],
      ['meta', 27, ''],
    ])
    expect(seen[3]!.sql).toContain("\\. RETURN 'it''s; fine';")
    expect(seen[5]!.data).toBe('1\tone\n2\t\\N\n')
    expect(seen[8]!.data).toBe('')
    expect(seen[6]!.sql).toBe("INSERT INTO public.t VALUES (3, E'x\\';y')")
  })

  it('gives the same items however the bytes are chunked', async () => {
    const whole = await collect(DUMP)
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 8 }), async (sizes) => {
        expect(await collect(DUMP, sizes)).toEqual(whole)
      }),
      { numRuns: 60 },
    )
  })

  it('keeps multi-byte characters split across chunks intact and counts lines by newline', async () => {
    const text = "SELECT 'é😀';\nCOPY t (a) FROM stdin;\nü\t😀\n\\.\nSELECT 2;\n"
    const seen = await collect(text, [1])
    expect(seen.map((s) => s.line)).toEqual([1, 2, 5])
    expect(seen[0]!.sql).toBe("SELECT 'é😀'")
    expect(seen[1]!.data).toBe('ü\t😀\n')
  })

  it('accepts CRLF line ends in COPY data and the \\. marker', async () => {
    const seen = await collect('COPY t (a) FROM stdin;\r\n1\r\n\\.\r\nSELECT 1;\r\n')
    expect(seen.map((s) => s.kind)).toEqual(['copy', 'statement'])
    expect(seen[0]!.data).toBe('1\r\n')
  })

  it('fails on COPY data without its \\. line, naming the COPY line', async () => {
    const error = await failure('SELECT 1;\nCOPY public.t (id) FROM stdin;\n1\n2\n')
    expect(error.code).toBe('copy_unterminated')
    expect(error.line).toBe(2)
    expect(error.message).toMatch(/test\.sql:2: COPY data starting at line 3 has no terminating \\\. line/)
  })

  it('fails on a file that ends inside a statement or a quote', async () => {
    const open = await failure("SELECT 1;\nCREATE TABLE t (\n  a int\n")
    expect(open.code).toBe('truncated')
    expect(open.line).toBe(2)
    const quote = await failure("SELECT 1;\nINSERT INTO t VALUES ('abc\n")
    expect(quote.code).toBe('truncated')
    expect(quote.message).toContain('quoted string begun at line 2')
    const body = await failure('CREATE FUNCTION f() RETURNS int AS $$\nSELECT 1;\n')
    expect(body.message).toContain('dollar-quoted body ($$) begun at line 1')
  })

  it('fails on a garbage line with its line number and the parser message', async () => {
    const error = await failure('SELECT 1;\nSELECT 2;\nthis is not sql;\nSELECT 3;\n')
    expect(error.code).toBe('syntax_error')
    expect(error.line).toBe(3)
    expect(error.message).toMatch(/test\.sql:3: syntax error at or near "this"/)
  })

  it('fails on bytes that are not UTF-8, naming line and column', async () => {
    const latin1 = Buffer.concat([Buffer.from("SELECT 1;\nINSERT INTO t VALUES ('caf"), Buffer.from([0xe9]), Buffer.from("');\n")])
    const error = await failure(latin1)
    expect(error.code).toBe('invalid_encoding')
    expect(error.line).toBe(2)
    expect(error.message).toContain('byte 0xe9 at column 27')
  })

  it('rejects a stray \\. line and meta-commands inside a statement', async () => {
    expect((await failure('SELECT 1;\n\\.\n')).line).toBe(2)
    expect((await failure('SELECT\n\\restrict x\n1;\n')).code).toBe('syntax_error')
  })

  it('treats SQL-standard function bodies (BEGIN ATOMIC … END) as one statement', async () => {
    const seen = await collect('CREATE FUNCTION f() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT 1;\n  SELECT CASE WHEN true THEN 2 END;\nEND;\nSELECT 3;\n')
    expect(seen.map((s) => s.type)).toEqual(['CreateFunctionStmt', 'SelectStmt'])
  })

  it('keeps server-side COPY … FROM a file as an ordinary statement', async () => {
    const seen = await collect("COPY t FROM '/tmp/x.csv';\nSELECT 1;\n")
    expect(seen.map((s) => s.kind)).toEqual(['statement', 'statement'])
  })
})

describe('multi-row INSERT fast path', () => {
  const row = fc.tuple(
    fc.integer(),
    fc.string({ unit: fc.constantFrom('a', "'", '"', ';', '(', ')', ',', '\\', '$', '-', '*', '/', 'é', ' ', '\n') }),
    fc.boolean(),
  )

  it('finds the first row and counts rows exactly as the parser does', async () => {
    const { loadModule, parseSync } = await import('libpg-query')
    await loadModule()
    fc.assert(
      fc.property(fc.array(row, { minLength: 1, maxLength: 12 }), (rows) => {
        const values = rows.map(([n, s, e]) => `(${n}, ${e ? `E'${s.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'` : `'${s.replaceAll("'", "''")}'`}, "x" /* c */, $q$${s.replaceAll('$q$', '')}$q$) -- ${n}\n`)
        const sql = `INSERT INTO "p"."t" ("a", "values", "c", "d") VALUES ${values.join(', ')}`
        const shape = scanInsertValues(sql)!
        expect(shape.rows).toBe((parseSync(sql).stmts![0]!.stmt as { InsertStmt: { selectStmt: { SelectStmt: { valuesLists: unknown[] } } } }).InsertStmt.selectStmt.SelectStmt.valuesLists.length)
        expect(shape.tail).toBe(false)
        const head = parseSync(sql.slice(0, shape.headEnd)).stmts![0]!.stmt as { InsertStmt: { selectStmt: { SelectStmt: { valuesLists: unknown[] } } } }
        expect(head.InsertStmt.selectStmt.SelectStmt.valuesLists).toHaveLength(1)
      }),
      { numRuns: 200 },
    )
    expect(scanInsertValues("INSERT INTO t (a) VALUES (1), (2) ON CONFLICT DO NOTHING")!.tail).toBe(true)
  })

  it('hands a huge INSERT out alone, understood from its head, with its row count and line', async () => {
    const rows = Array.from({ length: 8000 }, (_, i) => `\t(${i}, 'row ${i}; with (parens) and ''quotes''')`)
    const text = `SELECT 1;\nINSERT INTO "public"."t" ("id", "note") VALUES\n${rows.join(',\n')};\nSELECT 2;\n`
    const seen: DumpItem[] = []
    for await (const item of parseDump(chunked(text, [65536]), 'big.sql')) seen.push(item)
    expect(seen.map((s) => [(s as { type?: string }).type ?? s.kind, s.line])).toEqual([['SelectStmt', 1], ['InsertStmt', 2], ['SelectStmt', 8003]])
    const insert = seen[1] as DumpItem & { kind: 'statement' }
    expect(insert.valuesRows).toBe(8000)
    expect(insert.sql.endsWith("(7999, 'row 7999; with (parens) and ''quotes''')")).toBe(true)
  })
})
