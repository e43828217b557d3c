import { createHmac } from 'node:crypto'
import { expect, it } from 'vitest'
import { AUTH_ENUMS, AUTH_TABLES } from '../../src/schema/sql/auth.ts'
import { SUPABASE_ROLES } from '../../src/schema/sql/roles.ts'
import { SERVICE_SCHEMAS } from '../../src/schema/sql/schemas.ts'
import { withSession } from '../../src/db/session.ts'
import { describeEachDatabase } from '../support/databases.ts'
import { copyBlocks, DATA_2025, SEED_2024, seedInserts } from './dump-fixtures.ts'

describeEachDatabase('bootstrap objects', (ctx) => {
  const q = async <R = Record<string, unknown>>(sql: string, params: unknown[] = []) => (await ctx().database.query<R>(sql, params)).rows

  it('creates the Supabase roles with their attributes', async () => {
    const rows = await q<{ rolname: string; rolsuper: boolean; rolinherit: boolean; rolcanlogin: boolean; rolbypassrls: boolean; rolcreaterole: boolean }>(
      'SELECT rolname, rolsuper, rolinherit, rolcanlogin, rolbypassrls, rolcreaterole FROM pg_roles WHERE rolname = ANY($1::text[])',
      [SUPABASE_ROLES.map((r) => r.name)],
    )
    const role = (name: string) => rows.find((r) => r.rolname === name)
    expect(rows.map((r) => r.rolname).sort()).toEqual(SUPABASE_ROLES.map((r) => r.name).sort())
    for (const name of ['anon', 'authenticated']) {
      expect(role(name)).toMatchObject({ rolsuper: false, rolinherit: false, rolcanlogin: false, rolbypassrls: false })
    }
    expect(role('service_role')).toMatchObject({ rolsuper: false, rolinherit: false, rolcanlogin: false, rolbypassrls: true })
    expect(role('authenticator')).toMatchObject({ rolsuper: false, rolinherit: false })
    expect(role('supabase_admin')).toMatchObject({ rolsuper: true })
    expect(role('supabase_auth_admin')).toMatchObject({ rolsuper: false, rolinherit: false, rolcreaterole: true })
  })

  it('makes authenticator a member of the three API roles', async () => {
    const rows = await q<{ role: string }>(
      `SELECT r.rolname AS role FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
       WHERE u.rolname = 'authenticator' ORDER BY 1`,
    )
    expect(rows.map((r) => r.role)).toEqual(['anon', 'authenticated', 'service_role'])
  })

  it('lets the connecting role switch to every API role', async () => {
    for (const role of ['anon', 'authenticated', 'service_role']) {
      const rows = await q<{ member: boolean }>("SELECT pg_has_role(current_user, $1, 'MEMBER') AS member", [role])
      expect(rows[0]!.member).toBe(true)
    }
  })

  it('creates the service schemas and installs pgcrypto and uuid-ossp in extensions', async () => {
    const schemas = await q<{ nspname: string }>('SELECT nspname FROM pg_namespace WHERE nspname = ANY($1::text[])', [[...SERVICE_SCHEMAS]])
    expect(schemas.map((s) => s.nspname).sort()).toEqual([...SERVICE_SCHEMAS].sort())
    const extensions = await q<{ extname: string; schema: string }>(
      "SELECT extname, extnamespace::regnamespace::text AS schema FROM pg_extension WHERE extname IN ('pgcrypto', 'uuid-ossp') ORDER BY 1",
    )
    expect(extensions).toEqual([
      { extname: 'pgcrypto', schema: 'extensions' },
      { extname: 'uuid-ossp', schema: 'extensions' },
    ])
    const [row] = await q<{ v4: string; bytes: number }>('SELECT extensions.uuid_generate_v4()::text AS v4, length(extensions.gen_random_bytes(16)) AS bytes')
    expect(row!.v4).toMatch(/^[0-9a-f-]{36}$/)
    expect(row!.bytes).toBe(16)
  })

  it('creates every auth table with its columns, RLS enabled', async () => {
    for (const table of AUTH_TABLES) {
      const rows = await q<{ attname: string }>(
        "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        [`auth.${table.name}`],
      )
      expect(rows.map((r) => r.attname), table.name).toEqual(table.columns.map(([name]) => name))
    }
    const rls = await q<{ relname: string }>("SELECT relname FROM pg_class WHERE relnamespace = 'auth'::regnamespace AND relkind = 'r' AND NOT relrowsecurity")
    expect(rls).toEqual([])
  })

  it('makes users.confirmed_at and identities.email generated columns', async () => {
    const rows = await q<{ col: string; generated: string }>(
      "SELECT attrelid::regclass::text || '.' || attname AS col, attgenerated::text AS generated FROM pg_attribute WHERE attrelid IN ('auth.users'::regclass, 'auth.identities'::regclass) AND attgenerated <> '' ORDER BY 1",
    )
    expect(rows).toEqual([
      { col: 'auth.identities.email', generated: 's' },
      { col: 'auth.users.confirmed_at', generated: 's' },
    ])
  })

  it('creates the enum types with every label', async () => {
    for (const [name, labels] of AUTH_ENUMS) {
      const rows = await q<{ label: string }>('SELECT enumlabel AS label FROM pg_enum WHERE enumtypid = to_regtype($1) ORDER BY enumsortorder', [`auth.${name}`])
      expect(rows.map((r) => r.label)).toEqual(labels)
    }
  })

  it('creates the keys and indexes GoTrue relies on, under its names', async () => {
    const indexes = await q<{ name: string; def: string }>(
      "SELECT indexrelid::regclass::text AS name, pg_get_indexdef(indexrelid) AS def FROM pg_index WHERE indrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'auth'::regnamespace)",
    )
    const byName = new Map(indexes.map((i) => [i.name.replace(/^auth\./, ''), i.def]))
    expect(byName.get('refresh_tokens_token_unique')).toMatch(/UNIQUE INDEX .* \(token\)/)
    expect(byName.get('confirmation_token_idx')).toMatch(/UNIQUE INDEX .*WHERE .*confirmation_token.*!~ '\^\[0-9 \]\*\$'/)
    expect(byName.get('users_email_partial_key')).toMatch(/UNIQUE INDEX .*\(email\) WHERE \(is_sso_user = false\)/)
    expect(byName.get('identities_provider_id_provider_unique')).toMatch(/UNIQUE INDEX .*\(provider_id, provider\)/)
    expect(byName.get('mfa_amr_claims_session_id_authentication_method_pkey')).toMatch(/UNIQUE INDEX/)
    expect(byName.get('one_time_tokens_token_hash_hash_idx')).toMatch(/USING hash \(token_hash\)/)
    for (const table of AUTH_TABLES) for (const [name] of table.indexes ?? []) expect(byName.has(name), name).toBe(true)
    const constraints = await q<{ conname: string }>("SELECT conname FROM pg_constraint WHERE connamespace = 'auth'::regnamespace AND contype = 'f' ORDER BY 1")
    expect(constraints.map((c) => c.conname)).toEqual(
      expect.arrayContaining([
        'identities_user_id_fkey',
        'sessions_user_id_fkey',
        'refresh_tokens_session_id_fkey',
        'mfa_factors_user_id_fkey',
        'mfa_challenges_auth_factor_id_fkey',
        'mfa_amr_claims_session_id_fkey',
        'one_time_tokens_user_id_fkey',
      ]),
    )
  })

  it('defaults the users token columns to empty strings (GoTrue reads them as Go strings)', async () => {
    const id = '4b3f4b7e-9d4c-4f1e-8a55-0c7e1a1e0001'
    await q("INSERT INTO auth.users (id, email) VALUES ($1, 'tokens@example.com')", [id])
    const [row] = await q(
      'SELECT confirmation_token, recovery_token, email_change_token_new, email_change_token_current, phone_change_token, reauthentication_token, email_change, phone_change, is_anonymous, is_sso_user FROM auth.users WHERE id = $1',
      [id],
    )
    expect(row).toEqual({
      confirmation_token: '',
      recovery_token: '',
      email_change_token_new: '',
      email_change_token_current: '',
      phone_change_token: '',
      reauthentication_token: '',
      email_change: '',
      phone_change: '',
      is_anonymous: false,
      is_sso_user: false,
    })
    // Empty tokens do not collide under the partial unique indexes.
    await q("INSERT INTO auth.users (id, email) VALUES ('4b3f4b7e-9d4c-4f1e-8a55-0c7e1a1e0002', 'other@example.com')")
    await expect(q("INSERT INTO auth.users (id, email) VALUES ('4b3f4b7e-9d4c-4f1e-8a55-0c7e1a1e0003', 'other@example.com')")).rejects.toMatchObject({ code: '23505' })
    await q("DELETE FROM auth.users WHERE email IN ('tokens@example.com', 'other@example.com')")
  })

  it('accepts every auth COPY column list of a 2025 Supabase data dump', async () => {
    const blocks = copyBlocks(DATA_2025, 'auth')
    expect(blocks.length).toBe(15)
    for (const block of blocks) {
      const columns = block.columns.map((c) => `"${c}"`).join(', ')
      // INSERT … SELECT … WHERE false: every column exists and is writable (not generated).
      await q(`INSERT INTO "auth"."${block.table}" (${columns}) SELECT ${columns} FROM "auth"."${block.table}" WHERE false`)
    }
  })

  it('loads the auth rows of a 2024 Supabase seed dump', async () => {
    for (const statement of seedInserts(SEED_2024, 'auth')) await ctx().database.exec(statement)
    const [row] = await q<{ users: number; identities: number; confirmed: number; emails: number }>(
      `SELECT (SELECT count(*)::int FROM auth.users) AS users, (SELECT count(*)::int FROM auth.identities) AS identities,
              (SELECT count(*)::int FROM auth.users WHERE confirmed_at IS NOT NULL) AS confirmed,
              (SELECT count(*)::int FROM auth.identities WHERE email IS NOT NULL) AS emails`,
    )
    expect(row).toEqual({ users: 2, identities: 2, confirmed: 2, emails: 2 })
    await q('DELETE FROM auth.users')
    expect((await q<{ n: number }>('SELECT count(*)::int AS n FROM auth.identities'))[0]!.n).toBe(0)
  })

  it('accepts the storage COPY column lists of the same dump, and has the path helpers policies call', async () => {
    const blocks = copyBlocks(DATA_2025, 'storage')
    expect(blocks.map((b) => b.table)).toEqual(['buckets', 'objects', 's3_multipart_uploads', 's3_multipart_uploads_parts'])
    for (const block of blocks) {
      const columns = block.columns.map((c) => `"${c}"`).join(', ')
      await q(`INSERT INTO "storage"."${block.table}" (${columns}) SELECT ${columns} FROM "storage"."${block.table}" WHERE false`)
    }
    const [row] = await q("SELECT storage.foldername('a/b/c.tar.gz') AS folders, storage.filename('a/b/c.tar.gz') AS file, storage.extension('a/b/c.tar.gz') AS ext")
    expect(row).toEqual({ folders: ['a', 'b'], file: 'c.tar.gz', ext: 'gz' })
    await q("INSERT INTO storage.buckets (id, name) VALUES ('avatars', 'avatars')")
    const [object] = await q<{ path_tokens: string[] }>("INSERT INTO storage.objects (bucket_id, name) VALUES ('avatars', 'u1/me.png') RETURNING path_tokens")
    expect(object!.path_tokens).toEqual(['u1', 'me.png'])
    // Granted to the API roles like Supabase, but RLS without a policy hides every row.
    const visible = await withSession(ctx().database, { role: 'anon' }, async (tx) => (await tx.query('SELECT count(*)::int AS n FROM storage.objects')).rows[0])
    expect(visible).toEqual({ n: 0 })
    await q("DELETE FROM storage.objects")
    await q('DELETE FROM storage.buckets')
  })

  it('creates vault.secrets with the Vault 0.3 columns and defaults', async () => {
    const columns = await q<{ name: string; type: string; notnull: boolean; def: string | null }>(
      `SELECT attname AS name, format_type(atttypid, atttypmod) AS type, attnotnull AS notnull, pg_get_expr(adbin, adrelid) AS def
       FROM pg_attribute LEFT JOIN pg_attrdef ON adrelid = attrelid AND adnum = attnum
       WHERE attrelid = 'vault.secrets'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`,
    )
    expect(columns.map((c) => [c.name, c.type, c.notnull])).toEqual([
      ['id', 'uuid', true],
      ['name', 'text', false],
      ['description', 'text', true],
      ['secret', 'text', true],
      ['key_id', 'uuid', false],
      ['nonce', 'bytea', false],
      ['created_at', 'timestamp with time zone', true],
      ['updated_at', 'timestamp with time zone', true],
    ])
    const [row] = await q<{ id: string; description: string; nonce_length: number }>(
      "INSERT INTO vault.secrets (name, secret) VALUES ('a', 'x') RETURNING id::text, description, length(nonce) AS nonce_length",
    )
    expect(row).toMatchObject({ description: '', nonce_length: 16 })
    // Unique by name where a name is given; any number of unnamed secrets.
    await expect(q("INSERT INTO vault.secrets (name, secret) VALUES ('a', 'y')")).rejects.toMatchObject({ code: '23505' })
    await q("INSERT INTO vault.secrets (secret) VALUES ('y'), ('z')")
    const [index] = await q<{ def: string }>("SELECT pg_get_indexdef('vault.secrets_name_idx'::regclass) AS def")
    expect(index!.def).toMatch(/UNIQUE INDEX secrets_name_idx ON vault.secrets USING btree \(name\) WHERE \(name IS NOT NULL\)/)
    await q('DELETE FROM vault.secrets')
  })

  it('gives service_role read and delete on vault.secrets, and anon nothing', async () => {
    const [row] = await q(
      `SELECT has_table_privilege('service_role', 'vault.secrets', 'SELECT') AS s_select, has_table_privilege('service_role', 'vault.secrets', 'DELETE') AS s_delete,
              has_table_privilege('service_role', 'vault.secrets', 'INSERT') AS s_insert, has_schema_privilege('anon', 'vault', 'USAGE') AS anon_usage,
              has_table_privilege('anon', 'auth.users', 'SELECT') AS anon_users`,
    )
    expect(row).toEqual({ s_select: true, s_delete: true, s_insert: false, anon_usage: false, anon_users: false })
  })

  it('grants the API roles usage on public, extensions and auth, and auth helpers to call', async () => {
    for (const role of ['anon', 'authenticated', 'service_role']) {
      const [row] = await q(
        `SELECT has_schema_privilege($1, 'public', 'USAGE') AS public, has_schema_privilege($1, 'extensions', 'USAGE') AS extensions,
                has_schema_privilege($1, 'auth', 'USAGE') AS auth, has_function_privilege($1, 'auth.uid()', 'EXECUTE') AS uid,
                has_function_privilege($1, 'auth.jwt()', 'EXECUTE') AS jwt`,
        [role],
      )
      expect(row, role).toEqual({ public: true, extensions: true, auth: true, uid: true, jwt: true })
    }
  })

  it('has pgjwt-compatible extensions.sign/verify over pgcrypto (HS256 as RFC 7519 computes it)', async () => {
    const [row] = await q<{ token: string }>(`SELECT extensions.sign('{"sub":"1","exp":4102444800}'::json, 'top-secret') AS token`)
    const [header, payload, signature] = row!.token.split('.')
    expect(JSON.parse(Buffer.from(header!, 'base64url').toString())).toEqual({ alg: 'HS256', typ: 'JWT' })
    expect(JSON.parse(Buffer.from(payload!, 'base64url').toString())).toEqual({ sub: '1', exp: 4102444800 })
    expect(signature).toBe(createHmac('sha256', 'top-secret').update(`${header}.${payload}`).digest('base64url'))
    const verified = await q('SELECT payload, valid FROM extensions.verify($1, $2)', [row!.token, 'top-secret'])
    expect(verified).toEqual([{ payload: { sub: '1', exp: 4102444800 }, valid: true }])
    const forged = await q('SELECT valid FROM extensions.verify($1, $2)', [row!.token, 'wrong-secret'])
    expect(forged).toEqual([{ valid: false }])
    const [expired] = await q<{ valid: boolean }>(`SELECT valid FROM extensions.verify(extensions.sign('{"exp":1}'::json, 's'), 's')`)
    expect(expired!.valid).toBe(false)
  })

  it('answers graphql_public.graphql() with the pg_graphql-not-enabled error, callable by anon', async () => {
    const row = await withSession(ctx().database, { role: 'anon' }, async (tx) => (await tx.query("SELECT graphql_public.graphql(query => '{ __typename }') AS r")).rows[0])
    expect(row).toEqual({ r: { errors: [{ message: 'pg_graphql extension is not enabled.' }] } })
  })

  it('creates the empty supabase_realtime publication', async () => {
    const rows = await q("SELECT pubname, puballtables FROM pg_publication WHERE pubname = 'supabase_realtime'")
    expect(rows).toEqual([{ pubname: 'supabase_realtime', puballtables: false }])
  })
})
