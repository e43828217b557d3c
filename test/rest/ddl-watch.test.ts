/**
 * DDL made outside the service (psql, a migration tool) is served without a manual NOTIFY: the
 * bootstrap's event triggers notify `pgrst`, and the running app reloads its schema cache within
 * a second — on PostgreSQL (LISTEN on a dedicated connection) and on PGlite (its one backend,
 * including raw wire-protocol sessions as the embedded psql server runs them).
 */
import pg from 'pg'
import { afterAll, beforeAll, expect, it } from 'vitest'
import type { PgliteDatabase } from '../../src/db/pglite-driver.ts'
import { startTestApp, type TestApp } from '../support/app.ts'
import { describeEachDatabase } from '../support/databases.ts'

/** Polls until `probe` holds; returns the milliseconds it took. */
async function within(ms: number, probe: () => Promise<boolean>, what = 'change'): Promise<number> {
  const started = Date.now()
  for (;;) {
    if (await probe()) return Date.now() - started
    if (Date.now() - started > ms) throw new Error(`${what} not served within ${ms} ms`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

/** A simple-query protocol message, as psql sends one. */
function queryMessage(sql: string): Uint8Array {
  const text = Buffer.from(`${sql}\0`)
  const message = Buffer.alloc(5 + text.length)
  message.write('Q', 0)
  message.writeInt32BE(4 + text.length, 1)
  text.copy(message, 5)
  return message
}

describeEachDatabase('schema changes served without a reload', (ctx) => {
  let app: TestApp
  /** Runs SQL the way an outside client does: its own connection on a server, the shared engine on PGlite. */
  let outside: (sql: string) => Promise<void>
  let client: pg.Client | undefined
  const get = (path: string) => fetch(`${app.url}/rest/v1${path}`, { headers: { apikey: app.serviceRoleKey } })

  beforeAll(async () => {
    app = await startTestApp(ctx())
    if (ctx().url) {
      client = new pg.Client({ connectionString: ctx().url })
      await client.connect()
      outside = async (sql) => void (await client!.query(sql))
    } else {
      outside = (sql) => ctx().database.exec(sql)
    }
    // The first request loads the cache (without the tables below) and starts the listener.
    expect((await get('/watched')).status).toBe(404)
    if (ctx().url) {
      await within(10_000, async () => {
        const { rows } = await client!.query("SELECT 1 FROM pg_stat_activity WHERE application_name = 'resolution schema listener' AND datname = current_database() AND query ILIKE 'LISTEN%'")
        return rows.length > 0
      })
    }
  })
  afterAll(async () => {
    await client?.end()
    await app?.close()
  })

  it('the bootstrap installed Supabase\'s event triggers', async () => {
    const { rows } = await ctx().database.query<{ evtname: string; fn: string }>('SELECT evtname, evtfoid::regproc::text AS fn FROM pg_event_trigger ORDER BY evtname')
    expect(rows).toEqual([
      { evtname: 'pgrst_ddl_watch', fn: 'extensions.pgrst_ddl_watch' },
      { evtname: 'pgrst_drop_watch', fn: 'extensions.pgrst_drop_watch' },
    ])
  })

  it('a table, a column, a function and a drop are each served within a second', async () => {
    await outside("CREATE TABLE public.watched (id int PRIMARY KEY); INSERT INTO public.watched VALUES (1)")
    const table = await within(1000, async () => (await get('/watched?select=id')).status === 200, 'table')
    await outside('ALTER TABLE public.watched ADD COLUMN label text')
    const column = await within(1000, async () => (await get('/watched?select=id,label')).status === 200, 'column')
    await outside("CREATE FUNCTION public.watched_count() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM public.watched'")
    const fn = await within(1000, async () => (await fetch(`${app.url}/rest/v1/rpc/watched_count`, { method: 'POST', headers: { apikey: app.serviceRoleKey, 'Content-Type': 'application/json' }, body: '{}' })).status === 200, 'function')
    await outside('DROP TABLE public.watched CASCADE')
    const dropped = await within(1000, async () => (await get('/watched')).status === 404, 'drop')
    // Latencies, for the record when a run is slow.
    expect({ table, column, fn, dropped }).toEqual({ table: expect.any(Number), column: expect.any(Number), fn: expect.any(Number), dropped: expect.any(Number) })
  })

  it('a temporary table notifies nothing (as Supabase\'s watch)', async () => {
    const { rows } = await ctx().database.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_proc WHERE proname = 'pgrst_ddl_watch' AND prosrc LIKE '%pg_temp%'",
    )
    expect(rows[0]!.n).toBe(1)
  })

  it('on PGlite, DDL over the raw wire protocol (an embedded psql session) is served too, and the notice is not forwarded', async () => {
    if (ctx().target !== 'pglite') return
    const chunks: Uint8Array[] = []
    await (ctx().database as PgliteDatabase).withPglite((pglite) =>
      pglite.execProtocolRawStream(queryMessage('CREATE TABLE public.from_psql (id int); INSERT INTO public.from_psql VALUES (7)'), { onRawData: (chunk) => void chunks.push(chunk.slice()) }),
    )
    await within(1000, async () => (await get('/from_psql?select=id')).status === 200)
    const output = Buffer.concat(chunks)
    expect(output.includes(Buffer.from('CREATE TABLE\0'))).toBe(true)
    expect(output.includes(Buffer.from('pgrst\0'))).toBe(false)
  })
})
