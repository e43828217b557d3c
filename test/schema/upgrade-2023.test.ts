import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bootstrap } from '../../src/schema/bootstrap.ts'
import { AUTH_TABLES } from '../../src/schema/sql/auth.ts'
import { openTestDatabase, targets, type TestDatabase } from '../support/databases.ts'
import { auth2023Statements, copyBlocks, DATA_2025, readFixture, SEED_2024, seedInserts } from './dump-fixtures.ts'

const GLOBALS = 'supabase_cli__apps_cli-go_internal_utils_templates_globals.sql'

const OLD_USER = '11111111-2222-4333-8444-555555555555'

for (const target of targets()) {
  describe(`bootstrap over the 2023 auth schema of initial_schemas/15.sql [${target}]`, () => {
    let testDb: TestDatabase & { dispose: () => Promise<void> }
    const q = async <R = Record<string, unknown>>(sql: string, params: unknown[] = []) => (await testDb.database.query<R>(sql, params)).rows

    beforeAll(async () => {
      testDb = await openTestDatabase(target, { bootstrapped: false })
      await testDb.database.transaction(async (tx) => {
        for (const statement of auth2023Statements()) await tx.exec(statement)
      })
      // A user and an identity in the old shape (identities.id text = the provider's id).
      await testDb.database.exec(`
        INSERT INTO auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at, raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
        VALUES ('00000000-0000-0000-0000-000000000000', '${OLD_USER}', 'authenticated', 'authenticated', 'old@example.com', '', now(), '{}', '{}', now(), now());
        INSERT INTO auth.identities (id, user_id, identity_data, provider, created_at, updated_at)
        VALUES ('${OLD_USER}', '${OLD_USER}', '{"sub": "${OLD_USER}", "email": "Old@Example.com"}', 'email', now(), now());
      `)
    }, 120_000)
    afterAll(() => testDb?.dispose(), 60_000)

    it('starts from the 2023 shape', async () => {
      const rows = await q<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_attribute WHERE attrelid = 'auth.users'::regclass AND attname = 'is_anonymous'",
      )
      expect(rows[0]!.n).toBe(0)
      expect((await q<{ n: number }>('SELECT count(*)::int AS n FROM auth.schema_migrations'))[0]!.n).toBe(44)
      expect((await q("SELECT to_regclass('auth.one_time_tokens') AS t"))[0]).toEqual({ t: null })
    })

    it('bootstraps without an error or a warning', async () => {
      const report = await bootstrap(testDb.database)
      expect(report).toMatchObject({ applied: true, previousVersion: null, warnings: [] })
    })

    it('adds the columns, tables and enum labels GoTrue added since', async () => {
      for (const table of AUTH_TABLES) {
        const rows = await q<{ attname: string }>('SELECT attname FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped', [
          `auth.${table.name}`,
        ])
        const present = new Set(rows.map((r) => r.attname))
        for (const [column] of table.columns) expect(present.has(column), `auth.${table.name}.${column}`).toBe(true)
      }
      const labels = await q<{ label: string }>("SELECT enumlabel AS label FROM pg_enum WHERE enumtypid = 'auth.factor_type'::regtype ORDER BY enumsortorder")
      expect(labels.map((l) => l.label)).toEqual(['totp', 'webauthn', 'phone'])
      expect((await q("SELECT to_regclass('auth.one_time_tokens')::text AS t"))[0]).toEqual({ t: 'auth.one_time_tokens' })
    })

    it('keeps existing rows and never retypes existing columns', async () => {
      expect((await q<{ n: number }>('SELECT count(*)::int AS n FROM auth.schema_migrations'))[0]!.n).toBe(44)
      const [user] = await q(`SELECT email, is_anonymous, confirmed_at IS NOT NULL AS confirmed, format_type(atttypid, atttypmod) AS phone_type
        FROM auth.users, pg_attribute WHERE id = $1 AND attrelid = 'auth.users'::regclass AND attname = 'phone'`, [OLD_USER])
      expect(user).toEqual({ email: 'old@example.com', is_anonymous: false, confirmed: true, phone_type: 'text' })
    })

    it("migrates identities as GoTrue's 2023-11 migration does: the text id becomes provider_id, a uuid id the key", async () => {
      const [identity] = await q<{ provider_id: string; id: string; email: string }>('SELECT provider_id, id::text AS id, email FROM auth.identities WHERE user_id = $1', [OLD_USER])
      expect(identity!.provider_id).toBe(OLD_USER)
      expect(identity!.id).toMatch(/^[0-9a-f-]{36}$/)
      expect(identity!.email).toBe('old@example.com')
      const [key] = await q<{ def: string }>("SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'auth.identities'::regclass AND contype = 'p'")
      expect(key!.def).toBe('PRIMARY KEY (id)')
      // A current-style insert (no id) works now.
      await q(`INSERT INTO auth.identities (provider_id, user_id, identity_data, provider) VALUES ('gh-1', $1, '{}', 'github')`, [OLD_USER])
    })

    it('accepts the auth COPY column lists of a 2025 data dump and the rows of a 2024 seed', async () => {
      for (const block of copyBlocks(DATA_2025, 'auth')) {
        const columns = block.columns.map((c) => `"${c}"`).join(', ')
        await q(`INSERT INTO "auth"."${block.table}" (${columns}) SELECT ${columns} FROM "auth"."${block.table}" WHERE false`)
      }
      for (const statement of seedInserts(SEED_2024, 'auth')) await testDb.database.exec(statement)
      expect((await q<{ n: number }>('SELECT count(*)::int AS n FROM auth.users'))[0]!.n).toBe(3)
    })

    it('is a no-op afterwards, and a forced re-run changes nothing', async () => {
      expect(await bootstrap(testDb.database)).toMatchObject({ applied: false })
      const columns = async () => q("SELECT attrelid::regclass::text AS t, attname, atttypid::regtype::text AS type FROM pg_attribute WHERE attrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'auth'::regnamespace AND relkind = 'r') AND attnum > 0 AND NOT attisdropped ORDER BY 1, 2")
      const before = await columns()
      expect(await bootstrap(testDb.database, { force: true })).toMatchObject({ applied: true, warnings: [] })
      expect(await columns()).toEqual(before)
    })

    it('keeps the 2023 helper functions (already current) as they were', async () => {
      const [fn] = await q<{ src: string }>("SELECT prosrc AS src FROM pg_proc WHERE oid = 'auth.uid()'::regprocedure")
      expect(fn!.src).toContain("current_setting('request.jwt.claims', true)")
      // The 2023 dump's body has a trailing space after "select"; ours has none, so an unchanged body proves no replace.
      expect(fn!.src).toMatch(/select \n/)
    })
  })
}

describe('bootstrap after the Supabase CLI role set (globals.sql) [pglite]', () => {
  // Roles are cluster-wide, so only a private PGlite cluster may run the fixture's CREATE ROLEs.
  let testDb: TestDatabase & { dispose: () => Promise<void> }
  beforeAll(async () => {
    testDb = await openTestDatabase('pglite', { bootstrapped: false })
    // PostgreSQL 16+ (PGlite is 18) lets only the grantor's admins say GRANTED BY; the memberships are the same without it.
    await testDb.database.exec(readFixture(GLOBALS).replaceAll(/ GRANTED BY \w+/g, ''))
  }, 120_000)
  afterAll(() => testDb?.dispose(), 60_000)

  it('keeps every role as the fixture made it and warns about nothing', async () => {
    const roles = async () =>
      (
        await testDb.database.query(`SELECT r.rolname, r.rolsuper, r.rolinherit, r.rolcanlogin, r.rolbypassrls, r.rolreplication, r.rolconfig::text AS config,
          (SELECT string_agg(g.rolname, ',' ORDER BY g.rolname) FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid) AS groups
          FROM pg_roles r WHERE r.rolname !~ '^pg_' ORDER BY 1`)
      ).rows
    const before = await roles()
    const report = await bootstrap(testDb.database)
    expect(report).toMatchObject({ applied: true, warnings: [] })
    expect(await roles()).toEqual(before)
    expect(before.find((r) => r.rolname === 'supabase_admin')).toMatchObject({ rolsuper: true, rolcanlogin: true })
  })
})
