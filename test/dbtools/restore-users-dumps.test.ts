/**
 * Issue 13 §1 with hand-written dumps in Supabase's shapes: a plain `pg_dump --data-only` (COPY,
 * tables in name order: `auth.identities` before `auth.users`), `supabase db dump --data-only`
 * (INSERT, `--column-inserts`) and the split roles.sql / schema.sql / data.sql of the CLI. Each
 * restores into a fresh target with foreign keys checked at the end, and the users sign in with
 * their old passwords and refresh their old sessions. A failed restore leaves a fresh target
 * without the bootstrap's schemas and says which roles stay.
 */
import bcrypt from 'bcryptjs'
import { createClient } from '@supabase/supabase-js'
import { describe, expect, it } from 'vitest'
import { RestoreError } from '../../src/dbtools/restore/errors.ts'
import { restore } from '../../src/dbtools/restore/restore.ts'
import { openTestDatabase, targets, type TestDatabase } from '../support/databases.ts'
import { startTestApp } from '../support/app.ts'
import { snapshot, tempFile } from './helpers.ts'

const PASSWORD = 'handwritten-pass-1'
const HASH = bcrypt.hashSync(PASSWORD, 10)
const USER = '5a4f1f9e-2d53-4c4e-9a57-1f3c0b2d9e11'
const SESSION = '0c5f1e3a-7b8d-4e2f-9a1b-3c4d5e6f7a8b'
const FACTOR = '9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a'
const OBJECT = 'b1e2c3d4-a5b6-4c7d-8e9f-0a1b2c3d4e5f'
const EMAIL = 'handwritten@example.com'
const TOKEN = 'hw4refresh9tk'
const TS = '2025-02-10 09:15:00.123456+00'

const PREAMBLE = `SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;
`

/** Rows in the column order of a 2025 Supabase project; tables in pg_dump's name order. */
const ROWS: Array<{ table: string; columns: string[]; values: string[][] }> = [
  {
    table: 'auth.identities',
    columns: ['provider_id', 'user_id', 'identity_data', 'provider', 'last_sign_in_at', 'created_at', 'updated_at', 'id'],
    values: [[USER, USER, `{"sub": "${USER}", "email": "${EMAIL}", "email_verified": false, "phone_verified": false}`, 'email', TS, TS, TS, 'f1e2d3c4-b5a6-4978-8a9b-0c1d2e3f4a5b']],
  },
  {
    table: 'auth.mfa_factors',
    columns: ['id', 'user_id', 'friendly_name', 'factor_type', 'status', 'created_at', 'updated_at', 'secret', 'phone', 'last_challenged_at', 'web_authn_credential', 'web_authn_aaguid'],
    values: [[FACTOR, USER, 'phone app', 'totp', 'unverified', TS, TS, 'JBSWY3DPEHPK3PXP', '\\N', '\\N', '\\N', '\\N']],
  },
  {
    table: 'auth.refresh_tokens',
    columns: ['instance_id', 'id', 'token', 'user_id', 'revoked', 'created_at', 'updated_at', 'parent', 'session_id'],
    values: [['00000000-0000-0000-0000-000000000000', '7', TOKEN, USER, 'f', TS, TS, '\\N', SESSION]],
  },
  {
    table: 'auth.sessions',
    columns: ['id', 'user_id', 'created_at', 'updated_at', 'factor_id', 'aal', 'not_after', 'refreshed_at', 'user_agent', 'ip', 'tag'],
    values: [[SESSION, USER, TS, TS, '\\N', 'aal1', '\\N', '\\N', 'node', '127.0.0.1', '\\N']],
  },
  {
    table: 'auth.users',
    columns: ['instance_id', 'id', 'aud', 'role', 'email', 'encrypted_password', 'email_confirmed_at', 'invited_at', 'confirmation_token', 'confirmation_sent_at', 'recovery_token', 'recovery_sent_at', 'email_change_token_new', 'email_change', 'email_change_sent_at', 'last_sign_in_at', 'raw_app_meta_data', 'raw_user_meta_data', 'is_super_admin', 'created_at', 'updated_at', 'phone', 'phone_confirmed_at', 'phone_change', 'phone_change_token', 'phone_change_sent_at', 'email_change_token_current', 'email_change_confirm_status', 'banned_until', 'reauthentication_token', 'reauthentication_sent_at', 'is_sso_user', 'deleted_at', 'is_anonymous'],
    values: [['00000000-0000-0000-0000-000000000000', USER, 'authenticated', 'authenticated', EMAIL, HASH, TS, '\\N', '', '\\N', '', '\\N', '', '', '\\N', TS, '{"provider": "email", "providers": ["email"]}', `{"sub": "${USER}", "email": "${EMAIL}"}`, '\\N', TS, TS, '\\N', '\\N', '', '', '\\N', '', '0', '\\N', '', '\\N', 'f', '\\N', 'f']],
  },
  {
    table: 'storage.buckets',
    columns: ['id', 'name', 'owner', 'created_at', 'updated_at', 'public', 'avif_autodetection', 'file_size_limit', 'allowed_mime_types', 'owner_id'],
    values: [['avatars', 'avatars', '\\N', TS, TS, 't', 'f', '\\N', '\\N', '\\N']],
  },
  {
    table: 'storage.objects',
    columns: ['id', 'bucket_id', 'name', 'owner', 'created_at', 'updated_at', 'last_accessed_at', 'metadata', 'version', 'owner_id', 'user_metadata'],
    values: [[OBJECT, 'avatars', 'me/face.png', USER, TS, TS, TS, '{"size": 3, "mimetype": "image/png"}', 'v1', USER, '\\N']],
  },
]

const quoted = (table: string) => table.split('.').map((p) => `"${p}"`).join('.')
const columnList = (columns: string[]) => columns.map((c) => `"${c}"`).join(', ')

/** `pg_dump --data-only` (COPY): tables in name order, a trailing setval. */
function copyDump(rows = ROWS): string {
  let out = PREAMBLE
  for (const { table, columns, values } of rows) {
    out += `\n--\n-- Data for Name: ${table.split('.')[1]}; Type: TABLE DATA; Schema: ${table.split('.')[0]}; Owner: supabase_auth_admin\n--\n\n`
    out += `COPY ${quoted(table)} (${columnList(columns)}) FROM stdin;\n${values.map((v) => v.join('\t')).join('\n')}\n\\.\n\n`
  }
  return `${out}SELECT pg_catalog.setval('"auth"."refresh_tokens_id_seq"', 7, true);\n`
}

const sqlValue = (v: string) => (v === '\\N' ? 'NULL' : `'${v.replace(/'/g, "''")}'`)

/** `supabase db dump --data-only` (INSERT, --column-inserts), as the CLI writes it. */
function insertDump(rows = ROWS, before: string[] = []): string {
  let out = `SET session_replication_role = replica;\n\n${PREAMBLE}`
  for (const statement of before) out += `\n${statement}\n`
  for (const { table, columns, values } of rows) {
    out += `\n--\n-- Data for Name: ${table.split('.')[1]}; Type: TABLE DATA; Schema: ${table.split('.')[0]}; Owner: supabase_admin\n--\n\n`
    out += `INSERT INTO ${quoted(table)} (${columnList(columns)}) VALUES\n${values.map((v) => `\t(${v.map(sqlValue).join(', ')})`).join(',\n')};\n`
  }
  return `${out}\nSELECT pg_catalog.setval('"auth"."refresh_tokens_id_seq"', 7, true);\n\nRESET ALL;\n`
}

const ROLES_SQL = `SET default_transaction_read_only = off;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
-- CREATE ROLE "anon";
-- ALTER ROLE "anon" WITH NOINHERIT NOCREATEROLE NOCREATEDB NOLOGIN NOBYPASSRLS;
CREATE ROLE "moved_reader";
ALTER ROLE "moved_reader" WITH INHERIT NOCREATEROLE NOCREATEDB NOLOGIN NOBYPASSRLS;
RESET ALL;
`

const SCHEMA_SQL = `${PREAMBLE}
COMMENT ON SCHEMA "public" IS 'standard public schema';
CREATE TABLE IF NOT EXISTS "public"."profiles" (
    "id" "uuid" NOT NULL,
    "username" "text"
);
ALTER TABLE "public"."profiles" OWNER TO "postgres";
ALTER TABLE ONLY "public"."profiles"
    ADD CONSTRAINT "profiles_pkey" PRIMARY KEY ("id");
ALTER TABLE ONLY "public"."profiles"
    ADD CONSTRAINT "profiles_id_fkey" FOREIGN KEY ("id") REFERENCES "auth"."users"("id") ON DELETE CASCADE;
ALTER TABLE "public"."profiles" ENABLE ROW LEVEL SECURITY;
CREATE POLICY "own profile" ON "public"."profiles" FOR SELECT TO "authenticated" USING (("auth"."uid"() = "id"));
GRANT ALL ON TABLE "public"."profiles" TO "anon";
GRANT ALL ON TABLE "public"."profiles" TO "authenticated";
GRANT ALL ON TABLE "public"."profiles" TO "service_role";
GRANT SELECT ON TABLE "public"."profiles" TO "moved_reader";
RESET ALL;
`

const PROFILES = { table: 'public.profiles', columns: ['id', 'username'], values: [[USER, 'hand']] }

async function expectUserMoved(db: TestDatabase): Promise<void> {
  const count = async (table: string) => Number((await db.database.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]!.n)
  for (const { table } of ROWS) expect(await count(table), table).toBe(1)
  const deferrable = await db.database.query<{ n: string }>("SELECT count(*) AS n FROM pg_catalog.pg_constraint WHERE contype = 'f' AND condeferrable AND connamespace IN ('auth'::regnamespace, 'storage'::regnamespace)")
  expect(Number(deferrable.rows[0]!.n)).toBe(0)
  const app = await startTestApp(db)
  try {
    const supabase = createClient(app.url, app.anonKey, { realtime: { transport: class {} as never }, auth: { persistSession: false, autoRefreshToken: false } })
    const signIn = await supabase.auth.signInWithPassword({ email: EMAIL, password: PASSWORD })
    expect(signIn.error).toBeNull()
    expect(signIn.data.user!.id).toBe(USER)
    const refreshed = await supabase.auth.refreshSession({ refresh_token: TOKEN })
    expect(refreshed.error).toBeNull()
    expect(refreshed.data.user!.id).toBe(USER)
    expect(refreshed.data.session!.refresh_token).not.toBe(TOKEN)
  } finally {
    await app.close()
  }
}

async function fresh<T>(target: TestDatabase['target'], fn: (db: TestDatabase) => Promise<T>): Promise<T> {
  const db = await openTestDatabase(target, { bootstrapped: false })
  try {
    return await fn(db)
  } finally {
    await db.dispose()
  }
}

for (const target of targets()) {
  describe(`restore: hand-written Supabase dumps with users [${target}]`, () => {
    it('pg_dump --data-only (COPY, identities before users, refresh_tokens before sessions)', async () => {
      await fresh(target, async (db) => {
        const summary = await restore(db.database, [tempFile('data.sql', copyDump())])
        expect(summary.rows.get('auth.identities')).toBe(1)
        await expectUserMoved(db)
      })
    }, 120_000)

    it('supabase db dump --data-only (INSERT form)', async () => {
      await fresh(target, async (db) => {
        await restore(db.database, [tempFile('data.sql', insertDump())])
        await expectUserMoved(db)
      })
    }, 120_000)

    it('supabase db dump split: roles.sql, schema.sql (a public FK to auth.users), data.sql (profiles before users)', async () => {
      await fresh(target, async (db) => {
        const summary = await restore(db.database, [tempFile('roles.sql', ROLES_SQL), tempFile('schema.sql', SCHEMA_SQL), tempFile('data.sql', insertDump([PROFILES, ...ROWS]))])
        expect(summary.rows.get('public.profiles')).toBe(1)
        await expectUserMoved(db)
        const { rows } = await db.database.query<{ username: string }>('SELECT username FROM public.profiles')
        expect(rows).toEqual([{ username: 'hand' }])
      })
    }, 120_000)

    it('a row whose user is missing fails the foreign key check at the end; the fresh target is left as it was', async () => {
      await fresh(target, async (db) => {
        const before = await snapshot(db.database)
        const orphan = ROWS.map((r) =>
          r.table === 'auth.identities' ? { ...r, values: [...r.values, [USER, 'ffffffff-0000-4000-8000-000000000000', '{}', 'github', TS, TS, TS, 'aaaaaaaa-0000-4000-8000-000000000000']] } : r,
        )
        const error = await restore(db.database, [tempFile('orphan.sql', copyDump(orphan))]).catch((e: unknown) => e)
        expect(error).toBeInstanceOf(RestoreError)
        expect((error as RestoreError).code).toBe('foreign_key_violation')
        expect((error as RestoreError).sqlState).toBe('23503')
        expect((error as Error).message).toMatch(/orphan\.sql: at the end of the restore: foreign key check failed: .*identities_user_id_fkey/)
        expect((error as Error).message).toMatch(/rolled back to how it was/)
        expect(await snapshot(db.database)).toEqual(before)
        const schemas = await db.database.query<{ nspname: string }>("SELECT nspname FROM pg_catalog.pg_namespace WHERE nspname IN ('auth', 'storage', 'vault', '_resolution')")
        expect(schemas.rows).toEqual([])
      })
    }, 120_000)

    it('a last row breaking a constraint fails at its line; roles.sql roles are named as staying or rolled back', async () => {
      await fresh(target, async (db) => {
        const before = await snapshot(db.database)
        const rolesBefore = (await db.database.query<{ rolname: string }>('SELECT rolname FROM pg_catalog.pg_roles')).rows.map((r) => r.rolname).sort()
        const duplicate = ROWS.map((r) => (r.table === 'storage.objects' ? { ...r, values: [...r.values, r.values[0]!] } : r))
        const data = copyDump(duplicate)
        const error = await restore(db.database, [tempFile('roles.sql', ROLES_SQL.replace(/moved_reader/g, `moved_reader_${process.pid}`)), tempFile('broken.sql', data)]).catch((e: unknown) => e)
        expect(error).toBeInstanceOf(RestoreError)
        expect((error as RestoreError).code).toBe('statement_failed')
        const lastRow = data.split('\n').lastIndexOf(duplicate.at(-1)!.values.at(-1)!.join('\t')) + 1
        expect((error as RestoreError).line).toBe(lastRow)
        expect(await snapshot(db.database)).toEqual(before)
        // CREATE ROLE is transactional: the roles the bootstrap and roles.sql made are rolled back too, and the report says so.
        const rolesAfter = (await db.database.query<{ rolname: string }>('SELECT rolname FROM pg_catalog.pg_roles')).rows.map((r) => r.rolname).sort()
        expect(rolesAfter).toEqual(rolesBefore)
        expect((error as Error).message).toMatch(/no roles were left behind/)
      })
    }, 120_000)
  })
}
