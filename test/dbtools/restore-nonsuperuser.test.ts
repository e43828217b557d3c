import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPgDatabase } from '../../src/db/pg-driver.ts'
import type { Database } from '../../src/db/types.ts'
import { restore } from '../../src/dbtools/restore/restore.ts'
import { bootstrap } from '../../src/schema/bootstrap.ts'
import { createServerDatabase } from '../support/databases.ts'
import { tempFile } from './helpers.ts'

// RDS-like targets: the connecting role is no superuser (E2, E6, E22 of the error catalogue).
describe.skipIf(!process.env.TEST_DATABASE_URL)('restore as a role without SUPERUSER [postgres]', () => {
  const role = `restorer_${randomBytes(3).toString('hex')}`
  let server: Awaited<ReturnType<typeof createServerDatabase>>
  let database: Database

  beforeAll(async () => {
    server = await createServerDatabase()
    const admin = createPgDatabase({ url: server.url, poolMax: 1 })
    await bootstrap(admin)
    await admin.exec(`CREATE ROLE ${role} LOGIN CREATEROLE; GRANT CREATE ON SCHEMA public TO ${role}; GRANT USAGE ON SCHEMA _resolution TO ${role}; GRANT SELECT ON _resolution.bootstrap TO ${role}`)
    await admin.close()
    const url = new URL(server.url)
    url.username = role
    database = createPgDatabase({ url: url.toString(), poolMax: 2 })
  }, 120_000)

  afterAll(async () => {
    await database?.close()
    await server?.drop()
    const client = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL })
    await client.connect()
    await client.query(`DROP ROLE IF EXISTS ${role}`).finally(() => client.end())
  }, 60_000)

  it('skips what only a superuser may do, loads the rest', async () => {
    const dump = `SET session_replication_role = replica;
CREATE TABLE public.rds_things (id integer PRIMARY KEY, name text);
ALTER TABLE public.rds_things OWNER TO postgres;
ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON TABLES TO anon;
CREATE FUNCTION public.rds_noop() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN END $$;
CREATE EVENT TRIGGER rds_watch ON ddl_command_end EXECUTE FUNCTION public.rds_noop();
CREATE PUBLICATION rds_everything FOR ALL TABLES;
COPY public.rds_things (id, name) FROM stdin;
1\tone
\\.
`
    const summary = await restore(database, [tempFile('rds.sql', dump)])
    const rule = (line: number) => summary.decisions.find((d) => d.line === line && d.action === 'skip')?.rule
    expect(rule(1)).toBe('replication-role')
    expect(rule(3)).toBe('owner')
    expect(rule(4)).toBe('privileges')
    expect(rule(6)).toBe('event-trigger')
    expect(rule(7)).toBe('publication')
    expect(summary.rows.get('public.rds_things')).toBe(1)
    const { rows } = await database.query<{ owner: string }>("SELECT tableowner AS owner FROM pg_tables WHERE tablename = 'rds_things'")
    expect(rows[0]!.owner).toBe(role)
  })
})
