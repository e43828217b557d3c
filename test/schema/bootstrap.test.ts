import { AUTH_OUTBOX } from '../../src/schema/sql/outbox.ts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLogger } from '../../src/logger.ts'
import { BOOTSTRAP_STEPS, BOOTSTRAP_VERSION, bootstrap, bootstrapStatus } from '../../src/schema/bootstrap.ts'
import { openTestDatabase, targets, type TestDatabase } from '../support/databases.ts'

for (const target of targets()) {
  describe(`bootstrap of a fresh database [${target}]`, () => {
    let testDb: TestDatabase & { dispose: () => Promise<void> }
    beforeAll(async () => {
      testDb = await openTestDatabase(target, { bootstrapped: false })
    }, 120_000)
    afterAll(() => testDb?.dispose(), 60_000)

    let settingsBefore: unknown
    it('reports no version before the first bootstrap', async () => {
      expect(await bootstrapStatus(testDb.database)).toBeNull()
      settingsBefore = await sessionSettings(testDb)
    })

    it('applies every step once and records the version', async () => {
      const report = await bootstrap(testDb.database)
      expect(report).toMatchObject({ version: BOOTSTRAP_VERSION, previousVersion: null, applied: true, warnings: [] })
      expect(report.durationMs).toBeGreaterThan(0)
      expect(report.steps.map((s) => s.name)).toEqual(BOOTSTRAP_STEPS.map((s) => s.name))
      expect(await bootstrapStatus(testDb.database)).toBe(BOOTSTRAP_VERSION)
      const { rows } = await testDb.database.query<{ version: number; server_version: string }>('SELECT version, server_version FROM _resolution.bootstrap')
      expect(rows).toHaveLength(1)
      expect(rows[0]!.version).toBe(BOOTSTRAP_VERSION)
      expect(rows[0]!.server_version).toMatch(/^\d+/)
    })

    it('is a no-op the second time', async () => {
      const report = await bootstrap(testDb.database)
      expect(report).toMatchObject({ version: BOOTSTRAP_VERSION, previousVersion: BOOTSTRAP_VERSION, applied: false })
    })

    it('re-runs every statement on a bootstrapped database without an error or a change', async () => {
      const before = await catalogFingerprint(testDb)
      const report = await bootstrap(testDb.database, { force: true })
      expect(report).toMatchObject({ applied: true, previousVersion: BOOTSTRAP_VERSION, warnings: [] })
      expect(await catalogFingerprint(testDb)).toEqual(before)
      // One row per version, refreshed rather than duplicated.
      const { rows } = await testDb.database.query('SELECT version FROM _resolution.bootstrap')
      expect(rows).toHaveLength(1)
    })

    it('leaves no session setting behind (PGlite has one session)', async () => {
      expect(await sessionSettings(testDb)).toEqual(settingsBefore)
      const { rows } = await testDb.database.query<{ warnings: string | null }>("SELECT current_setting('resolution.bootstrap_warnings', true) AS warnings")
      expect(rows[0]!.warnings ?? '').toBe('')
    })

    it('serialises concurrent bootstraps of one database: one applies, the others wait and find it done', async () => {
      await testDb.database.exec('DELETE FROM _resolution.bootstrap')
      const reports = await Promise.all([bootstrap(testDb.database), bootstrap(testDb.database), bootstrap(testDb.database)])
      expect(reports.filter((r) => r.applied)).toHaveLength(1)
      expect(reports.every((r) => r.version === BOOTSTRAP_VERSION)).toBe(true)
      expect(await bootstrapStatus(testDb.database)).toBe(BOOTSTRAP_VERSION)
    })

    it('keeps a newer version recorded by a newer build and does nothing', async () => {
      await testDb.database.query('INSERT INTO _resolution.bootstrap (version) VALUES ($1)', [BOOTSTRAP_VERSION + 1])
      const report = await bootstrap(testDb.database)
      expect(report).toMatchObject({ applied: false, version: BOOTSTRAP_VERSION + 1 })
      await testDb.database.query('DELETE FROM _resolution.bootstrap WHERE version > $1', [BOOTSTRAP_VERSION])
    })

    it('rolls back completely when a step fails, and names the step', async () => {
      const other = await openTestDatabase(target, { bootstrapped: false })
      try {
        // A table where the auth schema's enum type must go makes the "auth" step fail.
        await other.database.exec('CREATE SCHEMA auth; CREATE TABLE auth.aal_level (x int)')
        await expect(bootstrap(other.database)).rejects.toThrow(/bootstrap step "auth" failed/)
        expect(await bootstrapStatus(other.database)).toBeNull()
        const { rows } = await other.database.query("SELECT to_regnamespace('vault') AS vault, to_regclass('auth.users') AS users")
        expect(rows[0]).toEqual({ vault: null, users: null })
      } finally {
        await other.dispose()
      }
    }, 60_000)

    it('leaves an existing vault.secrets (the supabase_vault extension, a restore) exactly as it is', async () => {
      const other = await openTestDatabase(target, { bootstrapped: false })
      try {
        await other.database.exec("CREATE SCHEMA vault; CREATE TABLE vault.secrets (id bigint PRIMARY KEY, secret text); INSERT INTO vault.secrets VALUES (1, 'kept')")
        expect((await bootstrap(other.database)).warnings).toEqual([])
        const { rows } = await other.database.query(
          "SELECT string_agg(attname, ',' ORDER BY attnum) AS columns, (SELECT secret FROM vault.secrets) AS secret, has_table_privilege('service_role', 'vault.secrets', 'SELECT') AS granted FROM pg_attribute WHERE attrelid = 'vault.secrets'::regclass AND attnum > 0",
        )
        expect(rows[0]).toEqual({ columns: 'id,secret', secret: 'kept', granted: false })
      } finally {
        await other.dispose()
      }
    }, 60_000)

    it('upgrades a database bootstrapped by an older version by re-running every step', async () => {
      await testDb.database.exec('DELETE FROM _resolution.bootstrap')
      await testDb.database.query('INSERT INTO _resolution.bootstrap (version) VALUES ($1)', [BOOTSTRAP_VERSION - 1])
      const report = await bootstrap(testDb.database)
      expect(report).toMatchObject({ applied: true, previousVersion: BOOTSTRAP_VERSION - 1, version: BOOTSTRAP_VERSION, warnings: [] })
      const { rows } = await testDb.database.query<{ version: number }>('SELECT version FROM _resolution.bootstrap ORDER BY version')
      expect(rows.map((r) => r.version)).toEqual([BOOTSTRAP_VERSION - 1, BOOTSTRAP_VERSION])
    })

    it('keeps pgcrypto where an older database installed it (public) and uses it there', async () => {
      const other = await openTestDatabase(target, { bootstrapped: false })
      try {
        await other.database.exec('CREATE EXTENSION pgcrypto')
        expect((await bootstrap(other.database)).warnings).toEqual([])
        const { rows } = await other.database.query(
          "SELECT extnamespace::regnamespace::text AS schema, (SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef WHERE adrelid = 'vault.secrets'::regclass AND adnum = 6) AS nonce_default FROM pg_extension WHERE extname = 'pgcrypto'",
        )
        // pg_get_expr leaves out a schema that is on the search_path.
        expect(rows[0]).toEqual({ schema: 'public', nonce_default: expect.stringMatching(/^(public\.)?gen_random_bytes\(16\)$/) })
        const inserted = await other.database.query<{ n: number }>("INSERT INTO vault.secrets (secret) VALUES ('x') RETURNING length(nonce) AS n")
        expect(inserted.rows[0]!.n).toBe(16)
      } finally {
        await other.dispose()
      }
    }, 60_000)

    it('treats a _resolution schema made by someone else (the auth outbox) as not bootstrapped, and logs what it did', async () => {
      const other = await openTestDatabase(target, { bootstrapped: false })
      try {
        await other.database.exec('CREATE SCHEMA _resolution;' + AUTH_OUTBOX)
        expect(await bootstrapStatus(other.database)).toBeNull()
        const lines: Array<Record<string, unknown>> = []
        const logger = createLogger('info', { write: (line: string) => lines.push(JSON.parse(line)) })
        const report = await bootstrap(other.database, { logger })
        expect(report.applied).toBe(true)
        expect(lines).toEqual([expect.objectContaining({ level: 'info', msg: 'database bootstrapped', version: BOOTSTRAP_VERSION, steps: report.steps })])
        lines.length = 0
        await bootstrap(other.database, { logger })
        expect(lines).toEqual([])
      } finally {
        await other.dispose()
      }
    }, 60_000)

    it('lists its steps in order', () => {
      expect(BOOTSTRAP_STEPS.map((s) => s.name)).toEqual(['roles', 'schemas and extensions', 'auth', 'auth outbox', 'auth limits', 'vault', 'storage', 'realtime', 'shims', 'grants', 'schema watch'])
    })
  })
}

/** Everything a re-run could change: tables, columns, indexes, functions, ACLs, default ACLs, roles' memberships. */
async function catalogFingerprint(testDb: TestDatabase): Promise<unknown> {
  const { rows } = await testDb.database.query(`
    SELECT
      (SELECT json_agg(x ORDER BY x) FROM (SELECT c.oid::regclass::text || ':' || c.relkind::text || ':' || coalesce(c.relacl::text, '') AS x
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname IN ('auth', 'vault', 'extensions', 'public', '_resolution')) s) AS relations,
      (SELECT json_agg(x ORDER BY x) FROM (SELECT attrelid::regclass::text || '.' || attname || ':' || format_type(atttypid, atttypmod) AS x
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname IN ('auth', 'vault') AND attnum > 0 AND NOT attisdropped) s) AS columns,
      (SELECT json_agg(x ORDER BY x) FROM (SELECT p.oid::regprocedure::text || ':' || md5(p.prosrc) || ':' || coalesce(p.proacl::text, '') AS x
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname IN ('auth', 'vault')) s) AS functions,
      (SELECT json_agg(x ORDER BY x) FROM (SELECT defaclrole::regrole::text || ':' || defaclobjtype::text || ':' || defaclacl::text AS x FROM pg_default_acl) s) AS default_acls,
      (SELECT json_agg(x ORDER BY x) FROM (SELECT nspname || ':' || coalesce(nspacl::text, '') AS x FROM pg_namespace) s) AS schemas,
      (SELECT json_agg(x ORDER BY x) FROM (SELECT enumtypid::regtype::text || ':' || enumlabel AS x FROM pg_enum) s) AS enums
  `)
  return rows[0]
}

async function sessionSettings(testDb: TestDatabase): Promise<unknown> {
  const { rows } = await testDb.database.query("SELECT name, setting FROM pg_settings WHERE name IN ('search_path', 'role', 'session_authorization', 'statement_timeout', 'check_function_bodies', 'client_min_messages', 'row_security', 'session_replication_role') ORDER BY name")
  const user = await testDb.database.query('SELECT current_user, session_user')
  return { rows, user: user.rows }
}
