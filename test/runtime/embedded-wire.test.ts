/**
 * Issue 13 §2 as a user meets it: `resolution serve` (what `npm start` runs) on an embedded data
 * dir also serves its database over the PostgreSQL wire protocol, and psql, the CLI's db/vault/
 * mail commands and a pg client work against it while API traffic keeps flowing, correctly.
 * Real processes throughout: the server, psql, pg_dump and the CLI are children of this test.
 */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { SignJWT } from 'jose'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawnServe, type ServeProcess } from '../reliability/support/serve-process.ts'
import { freePort } from '../support/ports.ts'

const BIN = path.resolve(import.meta.dirname, '../../bin/resolution.mjs')


/** The CLI as a user runs it: no DATABASE_URL, the data dir of the running service. */
function cli(dataDir: string, args: string[], extraEnv: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: os.tmpdir(), LOG_LEVEL: 'error', RESOLUTION_DATA_DIR: dataDir, ...extraEnv },
    encoding: 'utf8',
    timeout: 120_000,
  })
  return { code: result.status, stdout: result.stdout, stderr: result.stderr }
}

/**
 * fetch, once more when a kept-alive socket the server had already closed (minutes of CLI work
 * between requests) fails the write: that request never reached the server.
 */
async function send(url: string, init?: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init)
  } catch (error) {
    const code = ((error as Error).cause as NodeJS.ErrnoException | undefined)?.code
    if (code !== 'EPIPE' && code !== 'ECONNRESET' && code !== 'UND_ERR_SOCKET') throw error
    return fetch(url, init)
  }
}

function psql(port: number, ...commands: string[]) {
  const args = ['-X', '-At', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', 'postgres']
  const result = spawnSync('psql', [...args, ...commands.flatMap((c) => ['-c', c])], { encoding: 'utf8', timeout: 60_000 })
  return { code: result.status, stdout: result.stdout, stderr: result.stderr }
}

describe('serve on the embedded database, reachable while it runs', { timeout: 180_000 }, () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'resolution-wire-'))
  let server: ServeProcess
  let wirePort: number
  const api = (route: string, init: RequestInit = {}) =>
    send(`${server.url}${route}`, {
      ...init,
      headers: { apikey: server.serviceRoleKey, authorization: `Bearer ${server.serviceRoleKey}`, 'content-type': 'application/json', ...init.headers },
    })

  beforeAll(async () => {
    wirePort = await freePort()
    // Generous: on a shared 2-core machine under load a first start has taken minutes.
    server = await spawnServe({ RESOLUTION_DATA_DIR: dataDir, EMBEDDED_DB_PORT: String(wirePort) }, { readyTimeoutMs: 240_000 })
  }, 250_000)
  afterAll(() => server?.kill())

  it('prints the database URL with the ready line and records the port beside the lock', () => {
    expect(server.stdout()).toContain(`database:         postgres://postgres@127.0.0.1:${wirePort}/postgres`)
    const record = JSON.parse(fs.readFileSync(path.join(dataDir, 'resolution.wire.json'), 'utf8'))
    expect(record).toEqual({ pid: server.pid, host: '127.0.0.1', port: wirePort })
  })

  it('psql creates a table and writes to it; the REST API serves what psql wrote', async () => {
    // Made before the API's first REST request loads its schema cache: a table made later waits for a
    // reload (issue 13 §3), which is not what this suite is about.
    const made = psql(wirePort, 'CREATE TABLE public.notes (id serial PRIMARY KEY, body text NOT NULL)', 'CREATE TABLE public.ledger (id serial PRIMARY KEY, source text NOT NULL, n int NOT NULL)', "INSERT INTO public.notes (body) VALUES ('from psql')", 'SELECT count(*) FROM public.notes')
    expect(made.stderr).toMatch(/^(WARNING: {2}psql major version \d+, server major version 18\.\n.*\n)?$/)
    expect(made.code).toBe(0)
    expect(made.stdout.trim().split('\n').at(-1)).toBe('1')
    const response = await api('/rest/v1/notes?select=body')
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual([{ body: 'from psql' }])
  })

  it("a table made later with psql is served after NOTIFY pgrst, 'reload schema', as with PostgREST", async () => {
    expect((await api('/rest/v1/later')).status).toBe(404)
    expect(psql(wirePort, 'CREATE TABLE public.later (id int)', 'INSERT INTO public.later VALUES (7)', "NOTIFY pgrst, 'reload schema'").code).toBe(0)
    const deadline = Date.now() + 5000
    let response = await api('/rest/v1/later')
    while (response.status !== 200 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      response = await api('/rest/v1/later')
    }
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual([{ id: 7 }])
  })

  it('db status, db migrate, vault and db psql find the running service by themselves', () => {
    const status = cli(dataDir, ['db', 'status'])
    expect(status.stderr).toBe('')
    expect(status.code).toBe(0)
    expect(status.stdout).toContain(`postgres://postgres@127.0.0.1:${wirePort}/postgres`)
    expect(status.stdout).toMatch(/Server:\s+PostgreSQL 18/)
    expect(status.stdout).toMatch(/Bootstrap:\s+version \d+/)

    const migrations = fs.mkdtempSync(path.join(os.tmpdir(), 'resolution-wire-migrations-'))
    fs.writeFileSync(path.join(migrations, '20260101000000_tags.sql'), "CREATE TABLE public.tags (name text PRIMARY KEY);\nINSERT INTO public.tags VALUES ('migrated');\n")
    const migrated = cli(dataDir, ['db', 'migrate', '--dir', migrations])
    expect(migrated.stderr).toContain('applied 20260101000000_tags')
    expect(migrated.stdout).toContain('1 migration(s) applied')
    expect(psql(wirePort, 'SELECT name FROM public.tags').stdout.trim()).toBe('migrated')

    expect(cli(dataDir, ['vault', 'set', 'wire_secret', 's3cret']).code).toBe(0)
    const secret = cli(dataDir, ['vault', 'get', 'wire_secret'])
    expect(secret.code).toBe(0)
    expect(secret.stdout.trim()).toBe('s3cret')

    const viaCli = cli(dataDir, ['db', 'psql', '--', '-X', '-At', '-c', 'SELECT count(*) FROM public.notes'])
    expect(viaCli.code).toBe(0)
    expect(viaCli.stdout.trim()).toBe('1')
  })

  it('db dump works against the running service (the service dumps itself); a pg_dump older than 18 is refused by pg_dump itself', () => {
    const dumped = cli(dataDir, ['db', 'dump', '--schema-only', '-n', 'public'])
    expect(dumped.stderr).toBe('')
    expect(dumped.code).toBe(0)
    expect(dumped.stdout).toContain('CREATE TABLE "public"."notes"')
    expect(dumped.stdout).toContain('Dumped by pg_dump version 18')

    // The command of the origin notes, with the machine's pg_dump.
    const machine = spawnSync('pg_dump', ['-h', 'localhost', '-p', String(wirePort), '-U', 'postgres', '-d', 'postgres', '--schema-only', '--no-owner', '--no-acl'], { encoding: 'utf8', timeout: 60_000 })
    const major = Number(/(\d+)/.exec(spawnSync('pg_dump', ['--version'], { encoding: 'utf8' }).stdout)?.[1])
    if (major < 18) {
      expect(machine.status).toBe(1)
      expect(machine.stderr).toContain('aborting because of server version mismatch')
    } else {
      expect(machine.status).toBe(0)
      expect(machine.stdout).toContain('CREATE TABLE public.notes')
    }
  })

  it('mail lists the development outbox newest first, with codes and links, --to and --limit', async () => {
    for (const email of ['ann@example.com', 'bob@example.com']) {
      const sent = await send(`${server.url}/auth/v1/otp`, { method: 'POST', headers: { apikey: server.anonKey, 'content-type': 'application/json' }, body: JSON.stringify({ email }) })
      expect(sent.status).toBe(200)
    }
    const all = cli(dataDir, ['mail'])
    expect(all.code).toBe(0)
    expect(all.stdout.indexOf('to bob@example.com')).toBeLessThan(all.stdout.indexOf('to ann@example.com'))
    const ann = cli(dataDir, ['mail', '--to', 'ANN@example.com', '--json'])
    const mails = JSON.parse(ann.stdout) as Array<{ recipient: string; otp: string; link: string }>
    expect(mails).toHaveLength(1)
    expect(mails[0]!.recipient).toBe('ann@example.com')
    expect(mails[0]!.otp).toMatch(/^\d{6}$/)
    expect(mails[0]!.link).toContain('/auth/v1/verify?token=')
    const text = cli(dataDir, ['mail', '--to', 'ann@example.com'])
    expect(text.stdout).toContain(`code:    ${mails[0]!.otp}`)
    expect(text.stdout).toContain(`link:    ${mails[0]!.link}`)
    const newest = cli(dataDir, ['mail', '--limit', '1'])
    expect(newest.stdout).toContain('to bob@example.com')
    expect(newest.stdout).not.toContain('ann@example.com')
    const bad = cli(dataDir, ['mail', '--limit', 'lots'])
    expect(bad.code).toBe(1)
    expect(bad.stderr).toBe('resolution: --limit: must be a whole number from 1 to 1000, got "lots"\n')
  })

  it('REST and auth traffic stay correct while a pg client runs queries and transactions on the socket', async () => {
    const client = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${wirePort}/postgres` })
    client.on('error', () => {}) // the server's SIGTERM later ends it
    await client.connect()
    // A fixed amount of socket work (4 commits, 2 rollbacks); API traffic runs until it is done.
    let done = false
    const failures: string[] = []
    let apiWrites = 0
    let commits = 0
    let rollbacks = 0
    let signups = 0

    const socketWork = (async () => {
      for (let i = 0; i < 6; i++) {
        await client.query('BEGIN')
        const source = i % 3 === 2 ? 'rolled-back' : 'wire'
        for (let k = 0; k < 3; k++) await client.query('INSERT INTO public.ledger (source, n) VALUES ($1, $2)', [source, i])
        const inside = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM public.ledger WHERE source = $1 AND n = $2', [source, i])
        if (inside.rows[0]!.n !== 3) failures.push(`socket transaction saw ${inside.rows[0]!.n} of its own 3 rows`)
        await new Promise((resolve) => setTimeout(resolve, 20)) // a transaction that spans time
        await client.query(source === 'wire' ? 'COMMIT' : 'ROLLBACK')
        if (source === 'wire') commits++
        else rollbacks++
        await client.query('SELECT now()')
      }
    })().finally(() => (done = true))
    const apiWriter = async (worker: number) => {
      for (let i = 0; !done; i++) {
        const response = await api('/rest/v1/ledger', { method: 'POST', headers: { prefer: 'return=representation' }, body: JSON.stringify({ source: 'api', n: worker * 10_000 + i }) })
        const body = (await response.json()) as Array<{ n: number }>
        if (response.status !== 201 || body[0]?.n !== worker * 10_000 + i) failures.push(`POST ${response.status}`)
        else apiWrites++
      }
    }
    const apiReader = async () => {
      while (!done) {
        const response = await api('/rest/v1/ledger?select=source,n&source=neq.api')
        const rows = (await response.json()) as Array<{ source: string; n: number }>
        if (response.status !== 200) failures.push(`GET ${response.status}`)
        else if (rows.some((r) => r.source === 'rolled-back')) failures.push('REST saw rows of a transaction that was rolled back')
        else {
          // Never part of a transaction: socket rows come in whole groups of 3.
          const groups = new Map<number, number>()
          for (const r of rows) groups.set(r.n, (groups.get(r.n) ?? 0) + 1)
          if ([...groups.values()].some((count) => count !== 3)) failures.push('REST saw part of a socket transaction')
        }
      }
    }
    const auth = async (worker: number) => {
      for (let i = 0; !done; i++) {
        const email = `user-${worker}-${i}@example.com`
        const response = await send(`${server.url}/auth/v1/signup`, { method: 'POST', headers: { apikey: server.anonKey, 'content-type': 'application/json' }, body: JSON.stringify({ email, password: 'correct horse battery' }) })
        const body = (await response.json()) as { access_token?: string; user?: { email?: string } }
        if (response.status !== 200 || body.user?.email !== email) failures.push(`signup ${response.status}`)
        else {
          const me = await send(`${server.url}/auth/v1/user`, { headers: { apikey: server.anonKey, authorization: `Bearer ${body.access_token}` } })
          if (me.status !== 200 || ((await me.json()) as { email?: string }).email !== email) failures.push(`user ${me.status}`)
          else signups++
        }
      }
    }
    try {
      await Promise.all([socketWork, apiWriter(1), apiWriter(2), apiWriter(3), apiReader(), apiReader(), auth(1), auth(2)])
    } catch (error) {
      await client.end().catch(() => {})
      throw error
    }

    expect(failures).toEqual([])
    expect([commits, rollbacks]).toEqual([4, 2])
    expect(apiWrites).toBeGreaterThan(0)
    expect(signups).toBeGreaterThan(0)
    const counts = await client.query<{ source: string; n: number }>('SELECT source, count(*)::int AS n FROM public.ledger GROUP BY source ORDER BY source')
    expect(counts.rows).toEqual([
      { source: 'api', n: apiWrites },
      { source: 'wire', n: commits * 3 },
    ])
    const users = await client.query<{ n: number }>("SELECT count(*)::int AS n FROM auth.users WHERE email LIKE 'user-%@example.com'")
    expect(users.rows[0]!.n).toBe(signups)
    await client.end()
  })

  it('after SIGTERM the port and its record are gone; the CLI opens the data dir itself (status), and db psql says nothing is running', async () => {
    server.child.kill('SIGTERM')
    expect((await server.exit).code).toBe(0)
    expect(fs.existsSync(path.join(dataDir, 'resolution.wire.json'))).toBe(false)
    await expect(new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${wirePort}/postgres` }).connect()).rejects.toMatchObject({ code: 'ECONNREFUSED' })

    const status = cli(dataDir, ['db', 'status'])
    expect(status.code).toBe(0)
    expect(status.stdout).toContain('embedded PGlite')

    const nothing = cli(dataDir, ['db', 'psql'])
    expect(nothing.code).toBe(1)
    expect(nothing.stderr).toBe(`resolution: nothing to connect to: DATABASE_URL is not set and no \`resolution serve\` (npm start) is running on the embedded database in ${dataDir}\n`)
    const noPsql = cli(dataDir, ['db', 'psql', '--database-url', 'postgres://postgres@127.0.0.1:1/postgres'], { PSQL: '/nonexistent/psql' })
    expect(noPsql.code).toBe(1)
    expect(noPsql.stderr).toBe('resolution: psql not found (/nonexistent/psql): install the PostgreSQL client tools (e.g. apt-get install postgresql-client) or set PSQL to its path\n')
  })
})

describe('--help', () => {
  it('db psql and mail explain themselves', () => {
    const psqlHelp = cli(os.tmpdir(), ['db', 'psql', '--help'])
    expect(psqlHelp.code).toBe(0)
    expect(psqlHelp.stdout).toContain('Usage: resolution db psql')
    const mailHelp = cli(os.tmpdir(), ['mail', '--help'])
    expect(mailHelp.code).toBe(0)
    expect(mailHelp.stdout).toMatch(/--to <email>[\s\S]*--limit <n>/)
  })
})

describe.skipIf(!process.env.TEST_DATABASE_URL)('production', () => {
  it('NODE_ENV=production never opens the wire port, even when EMBEDDED_DB_PORT is set', async () => {
    const secret = 'production-secret-with-at-least-32-characters'
    const key = (role: string) => new SignJWT({ role, iss: 'supabase' }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setIssuedAt().setExpirationTime('1h').sign(new TextEncoder().encode(secret))
    const port = await freePort()
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'resolution-wire-prod-'))
    const server = await spawnServe({
      NODE_ENV: 'production', DATABASE_URL: process.env.TEST_DATABASE_URL!, JWT_SECRET: secret, ANON_KEY: await key('anon'), SERVICE_ROLE_KEY: await key('service_role'),
      EMBEDDED_DB_PORT: String(port), RESOLUTION_DATA_DIR: dataDir, AUTH_AUTOCONFIRM: 'true',
    }, { args: ['--no-init'], readyTimeoutMs: 120_000 })
    try {
      expect((await fetch(`${server.url}/health`)).status).toBeLessThan(600)
      const refused = await new Promise<string>((resolve) => {
        const socket = net.connect(port, '127.0.0.1', () => (socket.destroy(), resolve('connected')))
        socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'))
      })
      expect(refused).toBe('ECONNREFUSED')
      expect(server.stdout()).not.toContain('database:         postgres://')
      expect(fs.existsSync(path.join(dataDir, 'resolution.wire.json'))).toBe(false)
    } finally {
      await server.kill()
    }
  })
})
