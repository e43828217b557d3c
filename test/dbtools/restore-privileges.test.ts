import fs from 'node:fs'
import { expect, it } from 'vitest'
import { dump, dumpArgs } from '../../src/dbtools/dump.ts'
import { restore } from '../../src/dbtools/restore/restore.ts'
import type { Queryable } from '../../src/db/types.ts'
import { SUPABASE_ROLES } from '../../src/schema/sql/roles.ts'
import { describeEachDatabase, openTestDatabase } from '../support/databases.ts'
import { tempFile } from './helpers.ts'

/** Functions, procedures, tables, views, sequences, types and schemas with privileges revoked from and granted to the API roles. */
const SOURCE = `
CREATE SCHEMA priv_app;
GRANT USAGE ON SCHEMA priv_app TO authenticated, service_role;
CREATE SCHEMA priv_hidden;
CREATE TYPE public.priv_mood AS ENUM ('a', 'b');
REVOKE USAGE ON TYPE public.priv_mood FROM PUBLIC;
GRANT USAGE ON TYPE public.priv_mood TO authenticated;
CREATE TYPE public.priv_pair AS (a int, b int);
CREATE DOMAIN priv_app.priv_pos AS integer CHECK (VALUE > 0);
REVOKE USAGE ON DOMAIN priv_app.priv_pos FROM PUBLIC;
GRANT USAGE ON DOMAIN priv_app.priv_pos TO authenticated, service_role;
CREATE TABLE public.priv_open (id int);
CREATE TABLE public.priv_closed (id int);
REVOKE ALL ON public.priv_closed FROM anon, authenticated, service_role;
CREATE TABLE public.priv_cols (id int, secret text);
REVOKE ALL ON public.priv_cols FROM anon, authenticated;
GRANT SELECT (id) ON public.priv_cols TO anon;
CREATE TABLE public.priv_ident (id bigint GENERATED ALWAYS AS IDENTITY, v text);
REVOKE ALL ON public.priv_ident FROM anon, authenticated, service_role;
REVOKE ALL ON SEQUENCE public.priv_ident_id_seq FROM anon, authenticated, service_role;
CREATE TABLE priv_app.priv_items (id int);
GRANT SELECT ON priv_app.priv_items TO authenticated;
CREATE VIEW public.priv_view AS SELECT id FROM public.priv_open;
REVOKE ALL ON public.priv_view FROM anon;
CREATE SEQUENCE public.priv_seq;
REVOKE ALL ON SEQUENCE public.priv_seq FROM anon, authenticated;
CREATE FUNCTION public.priv_open_fn() RETURNS int LANGUAGE sql AS 'SELECT 1';
CREATE FUNCTION public.priv_admin_fn() RETURNS int LANGUAGE sql SECURITY DEFINER SET search_path = '' AS 'SELECT 2';
REVOKE ALL ON FUNCTION public.priv_admin_fn() FROM PUBLIC, anon, authenticated;
CREATE FUNCTION public.priv_private_fn(a integer, b text[], c character varying) RETURNS int LANGUAGE sql AS 'SELECT 3';
REVOKE ALL ON FUNCTION public.priv_private_fn(integer, text[], character varying) FROM PUBLIC, anon, authenticated, service_role;
CREATE FUNCTION priv_app.priv_api_fn(p priv_app.priv_pos, OUT r int) LANGUAGE sql AS 'SELECT 4';
REVOKE ALL ON FUNCTION priv_app.priv_api_fn(priv_app.priv_pos) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION priv_app.priv_api_fn(priv_app.priv_pos) TO authenticated;
CREATE PROCEDURE public.priv_proc() LANGUAGE sql AS 'SELECT 1';
REVOKE ALL ON PROCEDURE public.priv_proc() FROM PUBLIC, anon, authenticated;
CREATE FUNCTION public.priv_overload(a int) RETURNS int LANGUAGE sql AS 'SELECT 5';
CREATE FUNCTION public.priv_overload(a text) RETURNS int LANGUAGE sql AS 'SELECT 6';
REVOKE ALL ON FUNCTION public.priv_overload(text) FROM PUBLIC, anon, authenticated;
`

/** Every role the bootstrap makes (present on both sides), and PUBLIC. */
const ROLES = `(SELECT rolname::text AS r FROM pg_roles WHERE rolname = ANY ($1::text[]) UNION ALL SELECT 'public') AS roles`
const OURS = `n.nspname IN ('public', 'priv_app', 'priv_hidden')`

/** Every privilege of every Supabase role (and PUBLIC) on the priv_* objects: `what → true/false`. */
async function privilegeMatrix(db: Queryable): Promise<Record<string, boolean>> {
  const { rows } = await db.query<{ k: string; v: boolean }>(`
    SELECT 'function ' || p.oid::regprocedure::text || ' ' || r AS k, has_function_privilege(r, p.oid, 'EXECUTE') AS v
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace, ${ROLES} WHERE ${OURS} AND p.proname LIKE 'priv\\_%'
    UNION ALL
    SELECT 'relation ' || c.oid::regclass::text || ' ' || r || ' ' || priv, has_table_privilege(r, c.oid, priv)
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, ${ROLES}, unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) AS priv
     WHERE ${OURS} AND c.relname LIKE 'priv\\_%' AND c.relkind IN ('r', 'v', 'm', 'p', 'f')
    UNION ALL
    SELECT 'column ' || c.oid::regclass::text || '.' || a.attname || ' ' || r || ' ' || priv, has_column_privilege(r, c.oid, a.attnum, priv)
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped, ${ROLES}, unnest(ARRAY['SELECT', 'INSERT', 'UPDATE']) AS priv
     WHERE ${OURS} AND c.relname LIKE 'priv\\_%' AND c.relkind IN ('r', 'v')
    UNION ALL
    SELECT 'sequence ' || c.oid::regclass::text || ' ' || r || ' ' || priv, has_sequence_privilege(r, c.oid, priv)
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, ${ROLES}, unnest(ARRAY['USAGE', 'SELECT', 'UPDATE']) AS priv
     WHERE ${OURS} AND c.relname LIKE 'priv\\_%' AND c.relkind = 'S'
    UNION ALL
    SELECT 'type ' || t.oid::regtype::text || ' ' || r, has_type_privilege(r, t.oid, 'USAGE')
      FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace, ${ROLES}
     WHERE ${OURS} AND t.typname LIKE 'priv\\_%' AND t.typtype IN ('e', 'd', 'c') AND (t.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
    UNION ALL
    SELECT 'schema ' || n.nspname || ' ' || r || ' ' || priv, has_schema_privilege(r, n.oid, priv)
      FROM pg_namespace n, ${ROLES}, unnest(ARRAY['USAGE', 'CREATE']) AS priv WHERE ${OURS}
  `, [SUPABASE_ROLES.map((r) => r.name)])
  return Object.fromEntries(rows.map((r) => [r.k, r.v]))
}

describeEachDatabase('restore: privileges survive a move (issue 12, point 10)', (ctx) => {
  it('db dump keeps ACLs by default; after restore into a fresh bootstrapped target every privilege of every role equals the source', { timeout: 180_000 }, async () => {
    const source = ctx()
    await source.database.exec(SOURCE)
    const before = await privilegeMatrix(source.database)
    // The source is what the test says it is (so equal matrices mean something).
    expect(Object.keys(before).length).toBeGreaterThan(1000)
    expect(before['function priv_admin_fn() anon']).toBe(false)
    expect(before['function priv_admin_fn() service_role']).toBe(true)
    expect(before['function priv_open_fn() anon']).toBe(true)
    expect(before['relation priv_closed anon SELECT']).toBe(false)
    expect(before['relation priv_open anon SELECT']).toBe(true)
    expect(before['type priv_mood anon']).toBe(false)
    expect(before['schema priv_app anon USAGE']).toBe(false)

    const file = tempFile('with-acl.sql', '')
    await dump(source.database, { file, url: source.url })
    const text = fs.readFileSync(file, 'utf8')
    expect(text).toMatch(/REVOKE ALL ON FUNCTION "public"\."priv_admin_fn"\(\) FROM PUBLIC/)

    const target = await openTestDatabase(source.target)
    try {
      const summary = await restore(target.database, [file])
      expect(summary.unsafe).toEqual([])
      const after = await privilegeMatrix(target.database)
      expect(after).toEqual(before)
      // Spelled out, the holes of issue 12: a revoked SECURITY DEFINER function, a closed table.
      expect(after['function priv_admin_fn() anon']).toBe(false)
      expect(after['function priv_admin_fn() authenticated']).toBe(false)
      expect(after['relation priv_closed anon SELECT']).toBe(false)
      expect(after['sequence priv_ident_id_seq anon USAGE']).toBe(false)
    } finally {
      await target.dispose()
    }
  })

  it('a new overload of a function the target already has takes the dump\'s ACL too', { timeout: 180_000 }, async () => {
    const target = await openTestDatabase(ctx().target)
    try {
      await target.database.exec("CREATE FUNCTION public.priv_ov(a integer) RETURNS int LANGUAGE sql AS 'SELECT 1'")
      const dump = [
        'CREATE FUNCTION "public"."priv_ov"("a" "text") RETURNS integer LANGUAGE "sql" AS $$SELECT 2$$;',
        'REVOKE ALL ON FUNCTION "public"."priv_ov"("a" "text") FROM PUBLIC;',
        'GRANT ALL ON FUNCTION "public"."priv_ov"("a" "text") TO "service_role";',
        '',
      ].join('\n')
      const summary = await restore(target.database, [tempFile('overload.sql', dump)])
      expect(summary.decisions.find((d) => d.line === 2)).toMatchObject({ rule: 'acl-baseline', action: 'rewrite' })
      const { rows } = await target.database.query<{ anon: boolean; service: boolean; old: boolean }>(
        "SELECT has_function_privilege('anon', 'public.priv_ov(text)', 'EXECUTE') AS anon, has_function_privilege('service_role', 'public.priv_ov(text)', 'EXECUTE') AS service, has_function_privilege('anon', 'public.priv_ov(integer)', 'EXECUTE') AS old",
      )
      expect(rows[0]).toEqual({ anon: false, service: true, old: true })
    } finally {
      await target.dispose()
    }
  })

  it('--no-acl still leaves privileges out on request, and such a dump keeps the target\'s default privileges', { timeout: 180_000 }, async () => {
    expect(dumpArgs({})).not.toContain('--no-acl')
    expect(dumpArgs({ privileges: false })).toContain('--no-acl')
    const file = tempFile('no-acl.sql', '')
    await dump(ctx().database, { file, url: ctx().url, privileges: false, schemas: ['public'] })
    expect(fs.readFileSync(file, 'utf8')).not.toMatch(/^(GRANT|REVOKE) /m)
    const target = await openTestDatabase(ctx().target)
    try {
      await restore(target.database, [file])
      const after = await privilegeMatrix(target.database)
      expect(after['relation priv_closed anon SELECT']).toBe(true)
      expect(after['function priv_admin_fn() anon']).toBe(true)
    } finally {
      await target.dispose()
    }
  })
})
