/**
 * The embedded engine over the wire, in process: real PGlite, real sockets, real psql and pg.
 * What matters is that the ONE engine session is never shared mid-transaction: a socket
 * transaction holds API traffic off until it ends, an API transaction holds socket traffic off,
 * and a connection that leaves (or idles in a transaction) gives the session back clean.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPgliteDatabase, type PgliteDatabase } from '../../src/db/pglite-driver.ts'
import { ReadyTracker, readyForQuery, textResult } from '../../src/db/wire-messages.ts'
import { DUMP_REQUEST, startWireServer, type WireServer } from '../../src/db/wire-server.ts'
import { dumpHeldEngine } from '../../src/dbtools/dump.ts'

describe('ReadyTracker', () => {
  it('finds the final ReadyForQuery and its status, however the reply is split', () => {
    const reply = Buffer.concat([textResult('x', 'Z\0\0\0\x05I', 'T')])
    for (let split = 0; split <= reply.length; split++) {
      const tracker = new ReadyTracker()
      tracker.push(reply.subarray(0, split))
      tracker.push(reply.subarray(split))
      expect(tracker.status).toBe('T')
      expect(tracker.idle).toBe(false)
    }
    const idle = new ReadyTracker()
    for (const byte of Buffer.concat([textResult('x', 'v', 'I')])) idle.push(Uint8Array.of(byte))
    expect(idle.idle).toBe(true)
    // A reply to Parse alone ('1', ParseComplete) has no ReadyForQuery: the session stays held.
    const parse = new ReadyTracker()
    parse.push(Buffer.from([0x31, 0, 0, 0, 4]))
    expect(parse.ready).toBe(false)
    parse.push(readyForQuery('E'))
    expect([parse.ready, parse.idle, parse.status]).toEqual([true, false, 'E'])
  })

  it('collects NotificationResponses (NOTIFY pgrst), split anywhere', () => {
    const body = Buffer.concat([Buffer.from([0, 0, 0, 7]), Buffer.from('pgrst\0reload schema\0')])
    const header = Buffer.from([0x41, 0, 0, 0, 0])
    header.writeInt32BE(body.length + 4, 1)
    const reply = Buffer.concat([header, body, readyForQuery('I')])
    for (let split = 0; split <= reply.length; split++) {
      const tracker = new ReadyTracker()
      tracker.push(reply.subarray(0, split))
      tracker.push(reply.subarray(split))
      expect(tracker.notifications).toEqual([{ channel: 'pgrst', payload: 'reload schema' }])
      expect(tracker.idle).toBe(true)
    }
  })
})

describe('the embedded engine over the wire (in process)', { timeout: 120_000 }, () => {
  let database: PgliteDatabase
  let wire: WireServer
  let url: string
  let initialPath: string
  const clients: pg.Client[] = []

  beforeAll(async () => {
    database = await createPgliteDatabase()
    wire = await startWireServer({ database, port: 0, idleInTransactionMs: 1500, dump: dumpHeldEngine })
    url = `postgres://postgres@127.0.0.1:${wire.port}/postgres`
    initialPath = (await database.query<{ path: string }>("SELECT current_setting('search_path') AS path")).rows[0]!.path
    await database.exec('CREATE TABLE public.items (id int PRIMARY KEY, note text)')
  })
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.end().catch(() => {})))
    await wire?.close()
    await database?.close()
  })

  async function client(): Promise<pg.Client> {
    const c = new pg.Client({ connectionString: url })
    c.on('error', () => {}) // a connection the server ends is expected in some tests
    await c.connect()
    clients.push(c)
    return c
  }

  it('psql creates, writes and reads, and the API sees it', async () => {
    // Not spawnSync: the server answering psql lives in this very process.
    const psql = await promisify(execFile)('psql', ['-X', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', String(wire.port), '-U', 'postgres', '-d', 'postgres', '-At',
      '-c', 'CREATE TABLE public.from_psql (id int)', '-c', 'INSERT INTO public.from_psql VALUES (1), (2)', '-c', 'SELECT sum(id) FROM public.from_psql'], { encoding: 'utf8' })
    expect(psql.stdout.trim().split('\n').at(-1)).toBe('3')
    const { rows } = await database.query<{ n: number }>('SELECT count(*)::int AS n FROM public.from_psql')
    expect(rows[0]!.n).toBe(2)
  })

  it('a socket transaction holds API queries off until COMMIT; they never see its uncommitted rows', async () => {
    const c = await client()
    await c.query('BEGIN')
    await c.query('INSERT INTO public.items VALUES (1, $1)', ['from socket'])
    let apiDone = false
    const api = database.query<{ n: number }>('SELECT count(*)::int AS n FROM public.items').then((r) => ((apiDone = true), r.rows[0]!.n))
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(apiDone).toBe(false) // waiting for the engine, not running inside the socket's transaction
    // The same connection keeps working inside its transaction meanwhile.
    expect((await c.query('SELECT count(*)::int AS n FROM public.items')).rows[0].n).toBe(1)
    await c.query('COMMIT')
    expect(await api).toBe(1)
  })

  it('an API transaction holds socket queries off; a rolled-back API write is never seen', async () => {
    const c = await client()
    let socketDone = false
    let socketResult: Promise<number> | undefined
    const apiTx = database
      .transaction(async (tx) => {
        await tx.query("INSERT INTO public.items VALUES (2, 'api, rolled back')")
        socketResult = c.query('SELECT count(*)::int AS n FROM public.items').then((r) => ((socketDone = true), r.rows[0].n as number))
        await new Promise((resolve) => setTimeout(resolve, 300))
        expect(socketDone).toBe(false)
        throw new Error('roll back')
      })
      .catch((error: Error) => error.message)
    expect(await apiTx).toBe('roll back')
    expect(await socketResult).toBe(1)
  })

  it('a connection closed inside a transaction is rolled back, and its SET/SET ROLE do not outlive it', async () => {
    const c = await client()
    await c.query("SET search_path = pg_catalog")
    await c.query('CREATE ROLE wire_reader NOLOGIN')
    await c.query('SET ROLE wire_reader')
    await c.query('BEGIN')
    await c.query('SELECT 1')
    await c.end()
    // The API gets the session back as it was: no open transaction, its own role and search_path.
    const { rows } = await database.query<{ role: string; path: string }>('SELECT current_user AS role, current_setting($1) AS path', ['search_path'])
    expect(rows[0]).toEqual({ role: 'postgres', path: initialPath })
    await expect(database.query('SELECT count(*) FROM items')).resolves.toBeTruthy()
  })

  it('a connection idle inside a transaction past the limit is closed with 25P03 and rolled back', async () => {
    const c = await client()
    const ended = new Promise<string>((resolve) => c.once('error', (error) => resolve(error.message)))
    await c.query('BEGIN')
    await c.query("INSERT INTO public.items VALUES (3, 'abandoned')")
    const started = Date.now()
    // API traffic waits for the abandoned transaction, then runs once it is rolled back.
    const { rows } = await database.query<{ n: number }>('SELECT count(*)::int AS n FROM public.items WHERE id = 3')
    expect(rows[0]!.n).toBe(0)
    expect(Date.now() - started).toBeGreaterThan(1000)
    expect(await ended).toMatch(/idle-in-transaction timeout/)
  })

  it('errors inside a socket transaction stay in it (25P02), and ROLLBACK frees the session', async () => {
    const c = await client()
    await c.query('BEGIN')
    await expect(c.query('SELECT * FROM no_such_table')).rejects.toMatchObject({ code: '42P01' })
    await expect(c.query('SELECT 1')).rejects.toMatchObject({ code: '25P02' })
    await c.query('ROLLBACK')
    expect((await database.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one).toBe(1)
  })

  it(`${DUMP_REQUEST} dumps the engine with the WASM pg_dump; bad options get a clear error`, async () => {
    const c = await client()
    const { rows } = await c.query(`${DUMP_REQUEST} {"schemaOnly": true, "schemas": ["public"]}`)
    expect(rows[0].dump).toContain('CREATE TABLE "public"."items"')
    expect(rows[0].dump).toContain('Dumped by pg_dump version 18')
    await expect(c.query(`${DUMP_REQUEST} not json`)).rejects.toThrow(/wants JSON options/)
    await c.query('BEGIN')
    await expect(c.query(`${DUMP_REQUEST} {}`)).rejects.toThrow(/inside a transaction/)
    await c.query('ROLLBACK')
    // The session is the API's again, with its settings as they were.
    const { rows: after } = await database.query<{ path: string }>("SELECT current_setting('search_path') AS path")
    expect(after[0]!.path).toBe(initialPath)
  })
})
