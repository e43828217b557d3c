/**
 * The one-round-trip transaction: BEGIN, the session settings, the statement and COMMIT written
 * together. A failure anywhere in it rolls back and leaves the connection clean; no setting
 * outlives its request, also behind PgBouncer in transaction mode.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isConnectionError } from '../../src/db/errors.ts'
import { createPgDatabase } from '../../src/db/pg-driver.ts'
import { withSession, type SessionOptions } from '../../src/db/session.ts'
import type { Database } from '../../src/db/types.ts'
import { describeEachDatabase, openTestDatabase, type TestDatabase } from '../support/databases.ts'
import { freePort } from '../support/ports.ts'

const ROLES = ['anon', 'authenticated', 'service_role'] as const

interface Seen {
  role: string
  claims: string | null
  method: string | null
}

const SEEN_SQL = `SELECT current_user AS role, current_setting('request.jwt.claims', true) AS claims, current_setting('request.method', true) AS method`

/**
 * `count` requests with mixed roles and endings (commit with the statement, a failing statement,
 * a rollback, two statements), `concurrency` at a time. Each checks it sees its own settings only,
 * and between requests the connection shows none.
 */
async function mixedRequests(database: Database, count: number, concurrency: number): Promise<{ failures: number }> {
  let next = 0
  let failures = 0
  const one = async (i: number) => {
    const role = ROLES[i % ROLES.length]!
    const claims = { sub: `user-${i}`, role }
    const options: SessionOptions = { role, claims, readOnly: i % 4 === 0, settings: { 'request.method': `M${i}` } }
    const kind = i % 5
    try {
      const seen = await withSession(database, options, async (tx) => {
        if (kind === 1) {
          // Fails inside the pipeline: the transaction aborts, COMMIT rolls it back.
          await tx.query('SELECT 1 / (0 * $1::int)', [i], { commit: true })
        }
        const first = await tx.query<Seen>(SEEN_SQL, [], { commit: kind === 0 })
        if (kind === 2) tx.markRollback()
        if (kind === 3) await tx.query('SELECT pg_sleep(0)')
        return first.rows[0]!
      })
      expect(seen).toEqual({ role, claims: JSON.stringify(claims), method: `M${i}` })
    } catch (error) {
      if (kind !== 1) throw error
      expect((error as { code?: string }).code).toBe('22012')
      failures++
    }
    if (i % 7 === 0) {
      // Autocommit on a pooled connection: nothing of any request is left on it.
      const { rows } = await database.query<Seen>(SEEN_SQL)
      expect(rows[0]!.claims ?? '').toBe('')
      expect(rows[0]!.method ?? '').toBe('')
      expect(ROLES as readonly string[]).not.toContain(rows[0]!.role)
    }
  }
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await one(next++)
    }),
  )
  return { failures }
}

describeEachDatabase('pipelined request transactions', (ctx) => {
  /** On a server, one connection, so "the next request" runs where the failure happened. */
  let single: Database
  beforeAll(() => {
    const { target, url, database } = ctx()
    single = target === 'postgres' ? createPgDatabase({ url: url!, poolMax: 1 }) : database
  })
  afterAll(async () => {
    if (ctx().target === 'postgres') await single.close()
  })

  it('rolls back a statement that fails mid-pipeline, and the next request on the connection is clean', async () => {
    await single.exec('CREATE TABLE pipe_t (id int PRIMARY KEY); GRANT ALL ON pipe_t TO service_role')
    const session: SessionOptions = { role: 'service_role', claims: { role: 'service_role', sub: 'a' } }
    await expect(withSession(single, session, (tx) => tx.query('INSERT INTO pipe_t VALUES (1), (1)', [], { commit: true }))).rejects.toMatchObject({ code: '23505' })
    // A failure in the settings (a role that does not exist) aborts the statement after it too.
    await expect(withSession(single, { role: 'no_such_role' }, (tx) => tx.query('INSERT INTO pipe_t VALUES (2)', [], { commit: true }))).rejects.toMatchObject({
      code: expect.stringMatching(/^(22023|42704)$/),
    })
    const seen = await withSession(single, { settings: { 'request.method': 'GET' } }, async (tx) => {
      await tx.query('INSERT INTO pipe_t VALUES (3)')
      return (await tx.query<Seen>(SEEN_SQL, [], { commit: true })).rows[0]!
    })
    expect(seen.method).toBe('GET')
    expect(seen.claims ?? '').toBe('')
    expect((await single.query('SELECT id FROM pipe_t ORDER BY id')).rows).toEqual([{ id: 3 }])
    const { rows } = await single.query<Seen>(SEEN_SQL)
    expect(rows[0]!.method ?? '').toBe('')
  })

  it('reports a COMMIT that fails (a deferred constraint) as the statement failing, and keeps nothing', async () => {
    await single.exec('CREATE TABLE pipe_d (id int, CONSTRAINT pipe_d_u UNIQUE (id) DEFERRABLE INITIALLY DEFERRED)')
    await expect(single.transaction((tx) => tx.query('INSERT INTO pipe_d VALUES (1), (1)', [], { commit: true }))).rejects.toMatchObject({ code: '23505' })
    expect((await single.query('SELECT count(*)::int AS n FROM pipe_d')).rows).toEqual([{ n: 0 }])
    await single.transaction((tx) => tx.query('INSERT INTO pipe_d VALUES (2)', [], { commit: true }))
    expect((await single.query('SELECT id FROM pipe_d')).rows).toEqual([{ id: 2 }])
  })

  it('sends nothing for a transaction that runs no statement', async () => {
    expect(await single.transaction(async () => 'nothing')).toBe('nothing')
    expect(await withSession(single, { role: 'anon' }, async () => 'still nothing')).toBe('still nothing')
  })

  it('forgets prepared statements on a schema reload: a changed table is read with its new columns', async () => {
    const database = single
    await database.exec('CREATE TABLE prep_t (a int); INSERT INTO prep_t VALUES (1)')
    const read = () => withSession(database, {}, async (tx) => (await tx.query('SELECT * FROM prep_t', [], { commit: true })).rows)
    expect(await read()).toEqual([{ a: 1 }])
    // Before any reload notice: the kept statement no longer fits (PostgreSQL answers 0A000, cached
    // plan must not change result type); the session runs once more on re-prepared statements.
    await database.exec('ALTER TABLE prep_t ADD COLUMN b int DEFAULT 2')
    expect(await read()).toEqual([{ a: 1, b: 2 }])
    // A schema reload forgets them before anything fails.
    await database.exec('ALTER TABLE prep_t ADD COLUMN c int DEFAULT 3')
    database.forgetPreparedStatements()
    expect(await read()).toEqual([{ a: 1, b: 2, c: 3 }])
    expect(await read()).toEqual([{ a: 1, b: 2, c: 3 }])
    // The connection holds the current statement only: the old ones were deallocated.
    const { rows } = await database.query<{ statement: string }>('SELECT statement FROM pg_prepared_statements')
    expect(rows).toEqual([{ statement: 'SELECT * FROM prep_t' }])
  })

  it('keeps 3,000 mixed-role requests apart (10 at a time; no setting leaks between requests)', async () => {
    const { target, url, database } = ctx()
    const pool = target === 'postgres' ? createPgDatabase({ url: url!, poolMax: 10 }) : database
    try {
      const { failures } = await mixedRequests(pool, 3000, 10)
      expect(failures).toBe(600)
    } finally {
      if (target === 'postgres') await pool.close()
    }
  }, 120_000)
})

/** A proxy in front of PostgreSQL that counts the backend's ReadyForQuery messages (one per Sync or simple query). */
async function readyCountingProxy(target: URL): Promise<{ url: string; ready: () => number; close: () => Promise<void> }> {
  let ready = 0
  const sockets = new Set<net.Socket>()
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname)
    sockets.add(client).add(upstream)
    let pending = Buffer.alloc(0)
    upstream.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk])
      while (pending.length >= 5 && pending.length >= 1 + pending.readInt32BE(1)) {
        if (pending[0] === 0x5a) ready++
        pending = pending.subarray(1 + pending.readInt32BE(1))
      }
      client.write(chunk)
    })
    client.on('data', (chunk: Buffer) => upstream.write(chunk))
    const end = () => {
      client.destroy()
      upstream.destroy()
    }
    client.on('error', end).on('close', end)
    upstream.on('error', end).on('close', end)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = new URL(target)
  url.host = `127.0.0.1:${(server.address() as net.AddressInfo).port}`
  return {
    url: url.toString(),
    ready: () => ready,
    close: async () => {
      sockets.forEach((socket) => socket.destroy())
      await new Promise((resolve) => server.close(resolve))
    },
  }
}

describe.runIf(process.env.TEST_DATABASE_URL)('pipelined transactions on a server connection', () => {
  let server: TestDatabase & { dispose: () => Promise<void> }
  beforeAll(async () => {
    server = await openTestDatabase('postgres')
  })
  afterAll(() => server?.dispose())

  it('discards a connection broken mid-pipeline and serves the next request on a new one', async () => {
    const database = createPgDatabase({ url: server.url!, poolMax: 1 })
    try {
      const before = (await database.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid
      // The backend ends while BEGIN … COMMIT is on the wire: the statements after it never answer.
      const error = await withSession(database, { settings: { 'request.method': 'GET' } }, (tx) => tx.query('SELECT pg_terminate_backend(pg_backend_pid())', [], { commit: true })).catch((e: unknown) => e)
      expect(isConnectionError(error), String(error)).toBe(true)
      const after = await withSession(database, { role: 'anon' }, async (tx) => (await tx.query<{ pid: number; role: string }>('SELECT pg_backend_pid() AS pid, current_user AS role', [], { commit: true })).rows[0]!)
      expect(after.role).toBe('anon')
      expect(after.pid).not.toBe(before)
    } finally {
      await database.close()
    }
  })

  it('runs a one-statement request as one implicit transaction (one Sync, no BEGIN/COMMIT), read only and with its settings', async () => {
    const proxy = await readyCountingProxy(new URL(server.url!))
    const database = createPgDatabase({ url: proxy.url, poolMax: 1 })
    try {
      await database.query('SELECT 1')
      const before = proxy.ready()
      const seen = await withSession(database, { role: 'anon', readOnly: true, settings: { 'request.method': 'GET' } }, async (tx) => {
        const { rows } = await tx.query(`SELECT current_user AS role, current_setting('request.method') AS method, current_setting('transaction_read_only') AS ro`, [], { commit: true })
        return rows[0]
      })
      expect(seen).toEqual({ role: 'anon', method: 'GET', ro: 'on' })
      expect(proxy.ready() - before).toBe(1)
      await expect(withSession(database, { role: 'service_role', readOnly: true }, (tx) => tx.query('CREATE TABLE pipe_ro (x int)', [], { commit: true }))).rejects.toMatchObject({ code: '25006' })
      const after = await database.query<Seen>(SEEN_SQL)
      expect(after.rows[0]!.method ?? '').toBe('')
    } finally {
      await database.close()
      await proxy.close()
    }
  })

  it('keeps a connection usable after a kept-prepared statement fails to parse in the middle of a chain', async () => {
    const database = createPgDatabase({ url: server.url!, poolMax: 1 })
    try {
      const session = { role: 'anon', settings: { 'request.method': 'POST' } }
      // The settings statement is parsed and kept; the one after it fails to parse, twice.
      for (let i = 0; i < 2; i++) await expect(withSession(database, session, (tx) => tx.query('SELEC 1', [], { commit: true }))).rejects.toMatchObject({ code: '42601' })
      const ok = await withSession(database, session, async (tx) => (await tx.query<{ method: string }>(`SELECT current_setting('request.method') AS method`, [], { commit: true })).rows)
      expect(ok).toEqual([{ method: 'POST' }])
    } finally {
      await database.close()
    }
  })

  describe('behind PgBouncer in transaction mode', () => {
    const bouncerBin = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer'].find((p) => fs.existsSync(p))
    let bouncer: ChildProcess | undefined
    let dir: string
    let url: string

    beforeAll(async () => {
      if (!bouncerBin) return
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgbouncer-'))
      fs.chmodSync(dir, 0o777)
      const port = await freePort()
      const target = new URL(server.url!)
      fs.writeFileSync(path.join(dir, 'users.txt'), '"postgres" ""\n')
      fs.writeFileSync(
        path.join(dir, 'pgbouncer.ini'),
        [
          '[databases]',
          `* = host=${target.hostname} port=${target.port || 5432}`,
          '[pgbouncer]',
          'listen_addr = 127.0.0.1',
          `listen_port = ${port}`,
          `unix_socket_dir = ${dir}`,
          'auth_type = trust',
          `auth_file = ${path.join(dir, 'users.txt')}`,
          'pool_mode = transaction',
          // Fewer server connections than clients: requests of different users share them.
          'default_pool_size = 2',
          'ignore_startup_parameters = extra_float_digits,application_name',
          '',
        ].join('\n'),
      )
      const asUser = process.getuid?.() === 0 ? ['-u', 'postgres'] : []
      bouncer = spawn(bouncerBin, [...asUser, path.join(dir, 'pgbouncer.ini')], { stdio: 'ignore' })
      url = `postgres://postgres@127.0.0.1:${port}${target.pathname}`
      for (let i = 0; i < 50; i++) {
        try {
          execFileSync('pg_isready', ['-h', '127.0.0.1', '-p', String(port), '-q'])
          return
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 100))
        }
      }
      throw new Error('pgbouncer did not start')
    })
    afterAll(() => {
      bouncer?.kill()
      if (dir) fs.rmSync(dir, { recursive: true, force: true })
    })

    it.runIf(bouncerBin)('runs pipelined requests without leaking settings between clients that share server connections', async () => {
      const database = createPgDatabase({ url, poolMax: 10, preparedStatements: false })
      try {
        const { failures } = await mixedRequests(database, 1000, 10)
        expect(failures).toBe(200)
        const { rows } = await database.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_prepared_statements')
        expect(rows[0]!.n).toBe(0)
      } finally {
        await database.close()
      }
    }, 120_000)
  })
})
