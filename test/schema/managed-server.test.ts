/**
 * PostgreSQL only: the connecting role is no superuser (an RDS master user, Supabase's own
 * `postgres`), and roles are shared by every database of the cluster.
 */
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPgDatabase } from '../../src/db/pg-driver.ts'
import { createLogger } from '../../src/logger.ts'
import { withSession } from '../../src/db/session.ts'
import type { Database } from '../../src/db/types.ts'
import { bootstrap } from '../../src/schema/bootstrap.ts'
import { DDL_WATCH_WARNING } from '../../src/schema/sql/ddl-watch.ts'
import { planRoles, type RoleSpec } from '../../src/schema/sql/roles.ts'
import { openTestDatabase } from '../support/databases.ts'
import { auth2023Statements } from './dump-fixtures.ts'

const adminUrl = process.env.TEST_DATABASE_URL

async function admin<T>(fn: (client: pg.Client) => Promise<T>, database?: string): Promise<T> {
  const url = new URL(adminUrl!)
  if (database) url.pathname = `/${database}`
  const client = new pg.Client({ connectionString: url.toString() })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

describe.skipIf(!adminUrl)('bootstrap as a non-superuser master role [postgres]', () => {
  const suffix = `${process.pid}_${randomBytes(3).toString('hex')}`
  const master = `rtest_master_${suffix}`
  const plainDb = `rtest_plain_${suffix}`
  const supabaseDb = `rtest_supabase_${suffix}`
  const opened: Database[] = []

  const openAs = (database: string) => {
    const url = new URL(adminUrl!)
    url.username = master
    url.password = ''
    url.pathname = `/${database}`
    const handle = createPgDatabase({ url: url.toString(), poolMax: 3 })
    opened.push(handle)
    return handle
  }

  beforeAll(async () => {
    await admin(async (c) => {
      await c.query(`CREATE ROLE ${master} LOGIN CREATEROLE CREATEDB NOSUPERUSER NOBYPASSRLS`)
      await c.query(`CREATE DATABASE ${plainDb} OWNER ${master}`)
      await c.query(`CREATE DATABASE ${supabaseDb} OWNER ${master}`)
    })
    // The Supabase-like database: the Supabase roles exist, and `auth` is the 2023 one owned by
    // supabase_admin / supabase_auth_admin, as on a hosted project.
    await admin(async (c) => {
      await c.query('BEGIN')
      const superuser = { superuser: true, createRole: true, createDb: true, replication: true, bypassRls: true, serverVersionNum: 150000 }
      for (const statement of planRoles(superuser, new Set()).statements) await c.query(statement)
      for (const statement of auth2023Statements({ keepOwners: true })) await c.query(statement)
      // A privilege the master cannot give back (it holds no grant option on auth).
      await c.query('REVOKE USAGE ON SCHEMA auth FROM anon')
      await c.query('COMMIT')
    }, supabaseDb)
  }, 120_000)

  afterAll(async () => {
    for (const handle of opened) await handle.close()
    await admin(async (c) => {
      await c.query(`DROP DATABASE IF EXISTS ${plainDb} WITH (FORCE)`)
      await c.query(`DROP DATABASE IF EXISTS ${supabaseDb} WITH (FORCE)`)
      await c.query(`DROP ROLE IF EXISTS ${master}`)
    })
  }, 60_000)

  it('bootstraps an empty database it owns without an error', async () => {
    const database = openAs(plainDb)
    const report = await bootstrap(database)
    expect(report.applied).toBe(true)
    // Roles already exist in the cluster, so nothing had to be degraded but the schema watch
    // (event triggers need a superuser), which is said, not failed.
    expect(report.warnings).toEqual([DDL_WATCH_WARNING])
    expect((await bootstrap(database)).applied).toBe(false)
    expect((await bootstrap(database, { force: true })).warnings).toEqual([DDL_WATCH_WARNING])
    const { rows } = await database.query('SELECT evtname FROM pg_event_trigger')
    expect(rows).toEqual([])
  })

  it('can switch to the API roles (it was granted their membership) and RLS applies to them', async () => {
    const database = openAs(plainDb)
    await database.exec(`CREATE TABLE public.posts (id int PRIMARY KEY, published boolean);
      ALTER TABLE public.posts ENABLE ROW LEVEL SECURITY;
      CREATE POLICY published ON public.posts FOR SELECT TO anon USING (published);
      INSERT INTO public.posts VALUES (1, true), (2, false);`)
    const anon = await withSession(database, { role: 'anon' }, async (tx) => (await tx.query('SELECT current_user AS who, count(*)::int AS n FROM public.posts')).rows[0])
    expect(anon).toEqual({ who: 'anon', n: 1 })
    const service = await withSession(database, { role: 'service_role' }, async (tx) => (await tx.query('SELECT count(*)::int AS n FROM public.posts')).rows[0])
    expect(service).toEqual({ n: 2 })
  })

  it('leaves a Supabase auth schema it does not own untouched, reporting what it could not add', async () => {
    const database = openAs(supabaseDb)
    const columns = async () =>
      (await database.query("SELECT attrelid::regclass::text || '.' || attname AS c FROM pg_attribute WHERE attrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'auth'::regnamespace) AND attnum > 0 ORDER BY 1")).rows
    const before = await columns()
    const logged: Array<Record<string, unknown>> = []
    const report = await bootstrap(database, { logger: createLogger('info', { write: (line: string) => logged.push(JSON.parse(line)) }) })
    expect(report.applied).toBe(true)
    // Each warning is also logged once, at warn level.
    expect(logged.filter((l) => l.level === 'warn').map((l) => l.warning)).toEqual(report.warnings)
    expect(report.warnings).toEqual(
      expect.arrayContaining([
        'column auth.users.is_anonymous is missing and the connecting role does not own the table',
        'table auth.one_time_tokens is missing and the connecting role may not create in schema auth',
        'auth.identities has the pre-2023-11 shape (text id, no provider_id) and the connecting role does not own it',
        'USAGE on schema auth is missing for role anon and the connecting role cannot grant it',
      ]),
    )
    expect(await columns()).toEqual(before)
    // What it may do, it did: its own schemas, vault, and the public grants.
    const [row] = (await database.query("SELECT to_regclass('vault.secrets')::text AS vault, has_schema_privilege('anon', 'public', 'USAGE') AS usage")).rows
    expect(row).toEqual({ vault: 'vault.secrets', usage: true })
  })
})

describe.skipIf(!adminUrl)('bootstrap of a current Supabase-like database whose service schemas belong to other roles [postgres]', () => {
  const suffix = `${process.pid}_${randomBytes(3).toString('hex')}`
  const master = `rtest_postgres_${suffix}`
  const name = `rtest_hosted_${suffix}`
  let database: Database | undefined

  beforeAll(async () => {
    await admin(async (c) => {
      await c.query(`CREATE ROLE ${master} LOGIN CREATEROLE CREATEDB NOSUPERUSER`)
      await c.query(`CREATE DATABASE ${name} OWNER ${master}`)
    })
    // Bootstrapped by a superuser, then handed to the service roles the way a hosted project has
    // them: auth/storage owned by their admins, the connecting "postgres" only granted access.
    const superuserUrl = Object.assign(new URL(adminUrl!), { pathname: `/${name}` }).toString()
    const asSuperuser = createPgDatabase({ url: superuserUrl, poolMax: 1 })
    try {
      await bootstrap(asSuperuser)
      await asSuperuser.exec(`
        DO $$ DECLARE r record; BEGIN
          FOR r IN SELECT c.oid::regclass AS t FROM pg_class c WHERE c.relnamespace = 'auth'::regnamespace AND c.relkind = 'r' LOOP
            EXECUTE format('ALTER TABLE %s OWNER TO supabase_auth_admin', r.t);
            EXECUTE format('GRANT ALL ON %s TO ${master}', r.t);
          END LOOP;
          FOR r IN SELECT t.oid::regtype AS t FROM pg_type t WHERE t.typnamespace = 'auth'::regnamespace AND t.typtype = 'e' LOOP
            EXECUTE format('ALTER TYPE %s OWNER TO supabase_auth_admin', r.t);
          END LOOP;
          FOR r IN SELECT p.oid::regprocedure AS f FROM pg_proc p WHERE p.pronamespace = 'auth'::regnamespace LOOP
            EXECUTE format('ALTER FUNCTION %s OWNER TO supabase_auth_admin', r.f);
          END LOOP;
          FOR r IN SELECT c.oid::regclass AS t FROM pg_class c WHERE c.relnamespace = 'storage'::regnamespace AND c.relkind = 'r' LOOP
            EXECUTE format('ALTER TABLE %s OWNER TO supabase_storage_admin', r.t);
          END LOOP;
        END $$;
        ALTER SCHEMA auth OWNER TO supabase_admin;
        ALTER SCHEMA storage OWNER TO supabase_admin;
        GRANT USAGE ON SCHEMA auth, storage TO ${master};
        DELETE FROM _resolution.bootstrap;
        ALTER SCHEMA _resolution OWNER TO ${master};
        ALTER TABLE _resolution.bootstrap OWNER TO ${master};
      `)
    } finally {
      await asSuperuser.close()
    }
    const url = Object.assign(new URL(adminUrl!), { pathname: `/${name}`, username: master }).toString()
    database = createPgDatabase({ url, poolMax: 2 })
  }, 120_000)

  afterAll(async () => {
    await database?.close()
    await admin(async (c) => {
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await c.query(`DROP ROLE IF EXISTS ${master}`)
    })
  }, 60_000)

  it('raises nothing, reports nothing missing and changes no column, owner or privilege', async () => {
    const snapshot = async () =>
      (
        await database!.query(`SELECT c.oid::regclass::text AS t, c.relowner::regrole::text AS owner, coalesce(c.relacl::text, '') AS acl,
          (SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum) FROM pg_attribute WHERE attrelid = c.oid AND attnum > 0 AND NOT attisdropped) AS columns
          FROM pg_class c WHERE c.relnamespace IN ('auth'::regnamespace, 'storage'::regnamespace, 'vault'::regnamespace) ORDER BY 1`)
      ).rows
    const before = await snapshot()
    const report = await bootstrap(database!)
    expect(report).toMatchObject({ applied: true, previousVersion: null, warnings: [] })
    expect(await snapshot()).toEqual(before)
    expect((await bootstrap(database!)).applied).toBe(false)
  })
})

describe.skipIf(!adminUrl)('roles created concurrently by two bootstraps of one cluster [postgres]', () => {
  const prefix = `rtest_race_${process.pid}_${randomBytes(3).toString('hex')}`
  const roles: RoleSpec[] = [
    { name: `${prefix}_a`, attributes: ['NOLOGIN', 'NOINHERIT'], essential: true, settings: { statement_timeout: '3s' } },
    { name: `${prefix}_b`, attributes: ['NOLOGIN', 'BYPASSRLS'], essential: true },
    { name: `${prefix}_c`, attributes: ['LOGIN', 'NOINHERIT'], memberOf: [`${prefix}_a`, `${prefix}_b`], essential: true },
  ]

  afterAll(async () => {
    await admin(async (c) => {
      for (const role of [...roles].reverse()) await c.query(`DROP ROLE IF EXISTS ${role.name}`)
    })
  })

  it('lets the second transaction wait for the first and succeed instead of failing on duplicates', async () => {
    const me = { superuser: true, createRole: true, createDb: true, replication: true, bypassRls: true, serverVersionNum: 150000 }
    // Both plan before either has created anything, as two cold bootstraps would.
    const planA = planRoles(me, new Set(), roles, [])
    const planB = planRoles(me, new Set(), roles, [])
    const first = new pg.Client({ connectionString: adminUrl })
    const second = new pg.Client({ connectionString: adminUrl })
    await first.connect()
    await second.connect()
    try {
      await first.query('BEGIN')
      await second.query('BEGIN')
      for (const statement of planA.statements) await first.query(statement)
      // Blocks on the first transaction's uncommitted roles…
      let secondDone = false
      const racing = (async () => {
        for (const statement of planB.statements) await second.query(statement)
        secondDone = true
      })()
      await new Promise((resolve) => setTimeout(resolve, 300))
      expect(secondDone).toBe(false)
      await first.query('COMMIT')
      // …then sees a unique violation, which counts as "already there".
      await racing
      await second.query('COMMIT')
    } finally {
      await first.end()
      await second.end()
    }
    const rows = await admin(async (c) =>
      (
        await c.query(
          `SELECT r.rolname, r.rolbypassrls, r.rolinherit, (SELECT array_agg(g.rolname::text ORDER BY g.rolname) FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid) AS groups
           FROM pg_roles r WHERE r.rolname LIKE $1 ORDER BY 1`,
          [`${prefix}%`],
        )
      ).rows,
    )
    expect(rows).toEqual([
      { rolname: `${prefix}_a`, rolbypassrls: false, rolinherit: false, groups: null },
      { rolname: `${prefix}_b`, rolbypassrls: true, rolinherit: true, groups: null },
      { rolname: `${prefix}_c`, rolbypassrls: false, rolinherit: false, groups: [`${prefix}_a`, `${prefix}_b`] },
    ])
  })
})

describe.skipIf(!adminUrl)('parallel bootstraps of different databases of one server [postgres]', () => {
  it('all apply without a duplicate-object error', async () => {
    const fresh = await Promise.all([1, 2, 3].map(() => openTestDatabase('postgres', { bootstrapped: false })))
    try {
      const reports = await Promise.all(fresh.map((t) => bootstrap(t.database)))
      expect(reports.map((r) => [r.applied, r.warnings])).toEqual([
        [true, []],
        [true, []],
        [true, []],
      ])
    } finally {
      await Promise.all(fresh.map((t) => t.dispose()))
    }
  }, 120_000)
})
