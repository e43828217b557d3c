import { randomBytes } from 'node:crypto'
import { expect, it } from 'vitest'
import { startProgress } from '../../src/dbtools/restore/progress.ts'
import { formatSummary, type RestoreSummary } from '../../src/dbtools/restore/report.ts'
import { restore } from '../../src/dbtools/restore/restore.ts'
import { describeEachDatabase } from '../support/databases.ts'
import { tempFile } from './helpers.ts'

const find = (summary: RestoreSummary, rule: string) => summary.decisions.filter((d) => d.rule === rule)

describeEachDatabase('restore: the error catalogue of a PG 17 --create full dump', (ctx) => {
  it('strips the header, rewrites what the target version lacks, and keeps meaning for missing roles', async () => {
    const db = ctx().database
    const version = await db.serverVersionNum()
    const suffix = randomBytes(3).toString('hex')
    const ghost = `ghost_owner_${suffix}` // never exists: ownership falls back to the connecting role
    const reader = `policy_reader_${suffix}` // only named in a policy: created NOLOGIN
    const dump = `--
-- PostgreSQL database dump (pg_dump 17.6, --create --clean)
--
\\restrict Kx9mbZ2
SET statement_timeout = 0;
SET transaction_timeout = 0;
SET client_encoding = 'UTF8';
SELECT pg_catalog.set_config('search_path', '', false);
SET session_replication_role = replica;
DROP DATABASE IF EXISTS resolution_nowhere;
CREATE DATABASE resolution_nowhere WITH TEMPLATE = template0 ENCODING = 'UTF8' LOCALE = 'en_US.UTF-8';
ALTER DATABASE resolution_nowhere OWNER TO postgres;
\\connect resolution_nowhere
CREATE TABLE public.things (
    id integer NOT NULL,
    name text,
    name_len integer GENERATED ALWAYS AS (length(name)) STORED
);
ALTER TABLE public.things OWNER TO ${ghost};
ALTER TABLE ONLY public.things ADD CONSTRAINT things_pkey PRIMARY KEY (id);
ALTER TABLE public.things ENABLE ROW LEVEL SECURITY;
CREATE POLICY "readers see things" ON public.things FOR SELECT TO ${reader}, authenticated USING (true);
SECURITY LABEL FOR pgsodium ON COLUMN public.things.name IS 'ENCRYPT WITH KEY ID 00000000-0000-0000-0000-000000000000';
CREATE FUNCTION public.noop_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN END $$;
CREATE EVENT TRIGGER pgrst_ddl_watch ON ddl_command_end EXECUTE FUNCTION public.noop_ddl();
ALTER PUBLICATION supabase_realtime ADD TABLE ONLY public.things;
GRANT SELECT,INSERT,MAINTAIN ON TABLE public.things TO anon, ${ghost};
GRANT ALL ON TABLE public.things TO ${ghost};
ALTER DEFAULT PRIVILEGES FOR ROLE ${ghost} IN SCHEMA public GRANT ALL ON TABLES TO anon;
COPY public.things (id, name, name_len) FROM stdin;
1\tone\t3
2\t\\N\t\\N
\\.
\\unrestrict Kx9mbZ2
`
    const summary = await restore(db, [tempFile('full17.sql', dump)])
    const byLine = (line: number) => summary.decisions.filter((d) => d.line === line)

    expect(find(summary, 'psql-restrict').map((d) => d.line)).toEqual([4, 34])
    expect(find(summary, 'database-level').map((d) => d.line)).toEqual([10, 11, 12, 13])
    // transaction_timeout: dropped below 17, kept (as SET LOCAL) on PGlite's 18.
    if (version < 170000) expect(byLine(6)[0]?.rule).toBe('pg17-setting')
    else expect(byLine(6)[0]?.rule).toBe('session-setting')
    expect(byLine(19)[0]).toMatchObject({ rule: 'owner', action: 'skip' })
    expect(byLine(22)[0]).toMatchObject({ rule: 'policy-roles', action: 'rewrite', reason: `role ${reader} created NOLOGIN so the policy keeps its meaning` })
    expect(byLine(23)[0]?.rule).toBe('security-label')
    expect(byLine(25)[0]?.rule).toBe('event-trigger')
    expect(byLine(27)[0]).toMatchObject({ rule: 'acl-baseline', action: 'rewrite' })
    const grant = byLine(27).find((d) => d.rule === 'privileges')!
    expect(grant.action).toBe('rewrite')
    expect(grant.reason).toContain(`grantees ${ghost} dropped`)
    if (version < 170000) expect(grant.reason).toContain('MAINTAIN dropped')
    expect(byLine(28)[0]).toMatchObject({ rule: 'privileges', action: 'skip' })
    expect(byLine(29)[0]).toMatchObject({ rule: 'privileges', action: 'skip' })
    expect(byLine(30)[0]).toMatchObject({ rule: 'rows', action: 'rewrite', reason: 'generated column name_len left to the target to compute' })
    expect(summary.rows.get('public.things')).toBe(2)

    const { rows } = await db.query<{ id: number; name: string | null; name_len: number | null }>('SELECT id, name, name_len FROM public.things ORDER BY id')
    expect(rows).toEqual([{ id: 1, name: 'one', name_len: 3 }, { id: 2, name: null, name_len: null }])
    const { rows: policy } = await db.query<{ roles: string[] }>("SELECT roles::text[] AS roles FROM pg_policies WHERE tablename = 'things'")
    expect([...policy[0]!.roles].sort()).toEqual(['authenticated', reader].sort())
    const { rows: acl } = await db.query<{ ok: boolean }>("SELECT has_table_privilege('anon', 'public.things', 'INSERT') AS ok")
    expect(acl[0]!.ok).toBe(true)
    // The dump's pgrst_ddl_watch (on public.noop_ddl) was skipped; the bootstrap's stays.
    const { rows: events } = await db.query("SELECT evtfoid::regproc::text AS fn FROM pg_event_trigger WHERE evtname = 'pgrst_ddl_watch'")
    expect(events).toEqual([{ fn: 'extensions.pgrst_ddl_watch' }])
    const { rows: pub } = await db.query("SELECT 1 FROM pg_publication_tables WHERE pubname = 'supabase_realtime' AND tablename = 'things'")
    expect(pub).toHaveLength(1)
    // The dump's replica mode did not outlive the restore transaction.
    const { rows: mode } = await db.query<{ session_replication_role: string }>('SHOW session_replication_role')
    expect(mode[0]!.session_replication_role).toBe('origin')

    const text = formatSummary(summary)
    expect(text).toContain('public.things: 2')
    expect(text).toMatch(/Skipped \d+ statements:/)

    // Roles are cluster-wide on a server: leave none behind.
    await db.exec(`DROP TABLE public.things; DROP ROLE ${reader}`)
  })

  it("a full dump's auth.users is kept as the target has it, but the user's own trigger on it is restored", async () => {
    const db = ctx().database
    const dump = `CREATE TABLE IF NOT EXISTS auth.users (
    instance_id uuid,
    id uuid NOT NULL,
    email character varying(255)
);
ALTER TABLE ONLY auth.users ADD CONSTRAINT users_pkey PRIMARY KEY (id);
CREATE INDEX users_instance_id_idx ON auth.users USING btree (instance_id);
CREATE TABLE public.profiles_kept (id uuid PRIMARY KEY, email text);
CREATE FUNCTION public.handle_new_user() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  INSERT INTO public.profiles_kept (id, email) VALUES (NEW.id, NEW.email);
  RETURN NEW;
END $$;
CREATE TRIGGER on_auth_user_created AFTER INSERT ON auth.users FOR EACH ROW EXECUTE FUNCTION public.handle_new_user();
`
    const summary = await restore(db, [tempFile('full-auth.sql', dump)])
    const skipped = summary.decisions.filter((d) => d.action === 'skip').map((d) => d.line)
    expect(skipped).toEqual(expect.arrayContaining([1, 6, 7]))
    expect(skipped).not.toContain(14)
    await db.exec("INSERT INTO auth.users (id, email, instance_id, aud, role) VALUES ('00000000-0000-0000-0000-0000000000aa', 'new@example.com', '00000000-0000-0000-0000-000000000000', 'authenticated', 'authenticated')")
    const { rows } = await db.query('SELECT email FROM public.profiles_kept')
    expect(rows).toEqual([{ email: 'new@example.com' }])
    await db.exec("DELETE FROM auth.users WHERE id = '00000000-0000-0000-0000-0000000000aa'; DROP TRIGGER on_auth_user_created ON auth.users")
  })

  it('rows of Supabase service tables the target lacks are skipped with a warning that counts them', async () => {
    const db = ctx().database
    const { rows: present } = await db.query("SELECT to_regclass('storage.vector_indexes') IS NOT NULL AS present")
    expect(present[0]!.present).toBe(false)
    const dump = `COPY "storage"."vector_indexes" ("id", "upload_id") FROM stdin;\n1\ta\n2\tb\n\\.\nCOPY "storage"."vector_indexes" ("id", "upload_id") FROM stdin;\n\\.\nCREATE TABLE public.after_storage (id int);\n`
    const summary = await restore(db, [tempFile('storage.sql', dump)])
    expect(summary.decisions.filter((d) => d.rule === 'missing-service-object').map((d) => d.line)).toEqual([1, 5])
    expect(summary.warnings).toEqual([expect.stringMatching(/storage\.sql:1: 2 rows of storage\.vector_indexes not restored/)])
    const { rows } = await db.query("SELECT to_regclass('public.after_storage') IS NOT NULL AS present")
    expect(rows[0]!.present).toBe(true)
  })

  it('warns when a file switches databases (pg_dumpall), and restores into the connected one', async () => {
    const summary = await restore(ctx().database, [tempFile('all.sql', '\\connect template1\nSELECT 1;\n\\connect postgres\nCREATE TABLE public.from_all (id int);\n')])
    expect(summary.warnings.some((w) => w.includes('connects to more than one database'))).toBe(true)
    const { rows } = await ctx().database.query("SELECT to_regclass('public.from_all') IS NOT NULL AS present")
    expect(rows[0]!.present).toBe(true)
  })
})

it('the progress bar draws only on a terminal', async () => {
  const written: string[] = []
  const fakeTty = { isTTY: true, write: (s: string) => written.push(s) } as unknown as NodeJS.WriteStream
  const progress = startProgress(fakeTty, 100)
  progress.file('x.sql', [{ consumed: 50 } as never])
  progress.stop()
  expect(written.join('')).toMatch(/50% 0\.0 MB\/0\.0 MB 0 statements 0 rows {2}x\.sql\n$/)
  const quiet: string[] = []
  const pipe = { isTTY: false, write: (s: string) => quiet.push(s) } as unknown as NodeJS.WriteStream
  const none = startProgress(pipe, 100)
  none.stop()
  expect(quiet).toEqual([])
})

describeEachDatabase('serverVersionNum', (ctx) => {
  it('is the numeric server version (dump compares it with pg_dump\'s)', async () => {
    const version = await ctx().database.serverVersionNum()
    expect(version).toBeGreaterThanOrEqual(150000)
    expect(version).toBeLessThan(300000)
  })
})

describeEachDatabase('restore: INSERT-style data dumps (supabase db dump --data-only)', (ctx) => {
  it('loads multi-row INSERTs of 10,000 rows, staging one through its generated column', async () => {
    const db = ctx().database
    await db.exec('CREATE TABLE public.big_rows (id integer PRIMARY KEY, note text, note_len integer GENERATED ALWAYS AS (length(note)) STORED)')
    const values = (from: number) => Array.from({ length: 10000 }, (_, i) => `\t(${from + i}, 'note ${from + i}; it''s (fine)', NULL)`).join(',\n')
    const dump = `SET session_replication_role = replica;\nINSERT INTO "public"."big_rows" ("id", "note", "note_len") VALUES\n${values(0)};\nINSERT INTO "public"."big_rows" ("id", "note", "note_len") VALUES\n${values(10000)};\nRESET ALL;\n`
    const dry = await restore(db, [tempFile('big.sql', dump)], { dryRun: true })
    expect(dry.rows.get('public.big_rows')).toBe(20000)
    const summary = await restore(db, [tempFile('big.sql', dump)])
    expect(summary.rows.get('public.big_rows')).toBe(20000)
    expect(summary.decisions.filter((d) => d.rule === 'rows').map((d) => d.line)).toEqual([2, 10003])
    const { rows } = await db.query<{ n: string; len: number }>("SELECT count(*) AS n, max(note_len) AS len FROM public.big_rows")
    expect(Number(rows[0]!.n)).toBe(20000)
    expect(rows[0]!.len).toBe('note 19999; it\'s (fine)'.length)
  })
})
