/**
 * What the auth benches share: a scratch database with seeded users, the resolution server in a
 * child process (`bench/auth.ts serve`), and CPU accounting from /proc.
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { hashPassword } from '../../src/auth/password.ts'
import { createPgDatabase } from '../../src/db/pg-driver.ts'
import { bootstrap } from '../../src/schema/bootstrap.ts'

export const BENCH_SECRET = 'bench-secret-with-at-least-32-characters!!'
export const BENCH_PASSWORD = 'bench-password-1'
const AUTH_BENCH = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'auth.ts')

export async function createBenchDatabase(adminUrl: string, suffix: string): Promise<{ url: string; name: string; drop: () => Promise<void> }> {
  const name = `${process.env.BENCH_DB_PREFIX ?? 'resolution_bench'}_${suffix}_${process.pid}`
  const admin = new pg.Client({ connectionString: adminUrl })
  await admin.connect()
  await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
  await admin.query(`CREATE DATABASE "${name}"`)
  await admin.end()
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    name,
    async drop() {
      const c = new pg.Client({ connectionString: adminUrl })
      await c.connect()
      await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
      await c.end()
    },
  }
}

/** Bootstraps the database; users inserted straight into auth.users/identities the way the app writes them, sharing one hash. */
export async function seedUsers(url: string, count: number): Promise<string[]> {
  const database = createPgDatabase({ url, poolMax: 2 })
  await bootstrap(database)
  const hash = await hashPassword(BENCH_PASSWORD)
  const emails = Array.from({ length: count }, (_, i) => `bench-${i}@example.com`)
  await database.query(
    `WITH u AS (
       INSERT INTO auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at, raw_app_meta_data, raw_user_meta_data,
          confirmation_token, recovery_token, email_change_token_new, email_change_token_current, email_change, phone_change_token, reauthentication_token,
          is_sso_user, is_anonymous, created_at, updated_at)
       SELECT '00000000-0000-0000-0000-000000000000', gen_random_uuid(), 'authenticated', 'authenticated', e, $2, now(),
          '{"provider":"email","providers":["email"]}', jsonb_build_object('email', e, 'email_verified', true),
          '', '', '', '', '', '', '', false, false, now(), now()
       FROM unnest($1::text[]) e RETURNING id, email)
     INSERT INTO auth.identities (provider_id, user_id, identity_data, provider, created_at, updated_at)
     SELECT u.id::text, u.id, jsonb_build_object('sub', u.id::text, 'email', u.email), 'email', now(), now() FROM u`,
    [emails, hash],
  )
  await database.close()
  return emails
}

/** CPU time (user + system) a process has used, ms, from /proc (Linux). */
export function processCpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100 // utime, stime in USER_HZ (100)
  } catch {
    return 0
  }
}

export interface CpuSnapshot {
  server: number
  /** CPU so far of each backend of the database, by pid. */
  backends: Map<number, number>
  loadgen: number
}

export interface CpuSplit {
  server: number
  postgres: number
  loadgen: number
}

/** CPU used so far by the server process (if any), the database's backends and this process, ms. */
export async function cpuSnapshot(adminUrl: string, dbName: string, serverPid?: number): Promise<CpuSnapshot> {
  const admin = new pg.Client({ connectionString: adminUrl })
  await admin.connect()
  const { rows } = await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [dbName])
  await admin.end()
  const self = process.cpuUsage()
  return {
    server: serverPid ? processCpuMs(serverPid) : 0,
    backends: new Map(rows.map((r) => [r.pid, processCpuMs(r.pid)])),
    loadgen: (self.user + self.system) / 1000,
  }
}

/**
 * CPU ms per request of each part between two snapshots. Backends are compared pid by pid: a
 * pool closing an idle connection meanwhile must not subtract that connection's past CPU.
 */
export function cpuPerRequest(before: CpuSnapshot, after: CpuSnapshot, requests: number): CpuSplit {
  let postgres = 0
  for (const [pid, ms] of after.backends) postgres += ms - (before.backends.get(pid) ?? 0)
  const per = (ms: number) => Math.round((ms / Math.max(1, requests)) * 1000) / 1000
  return { server: per(after.server - before.server), postgres: per(postgres), loadgen: per(after.loadgen - before.loadgen) }
}

export interface ServerChild {
  port: number
  pid: number
  stop: () => void
}

/**
 * The resolution server over `databaseUrl` in a child; BENCH_PROF=dir writes its CPU profile there.
 * `tree`: another checkout's bench/auth.ts (and so its src/), to compare two versions side by side.
 */
export function startAuthServer(databaseUrl: string, tree?: string): Promise<ServerChild> {
  const prof = process.env.BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROF}`] : []
  const script = tree ? path.join(tree, 'bench', 'auth.ts') : AUTH_BENCH
  const child = spawn(process.execPath, [...prof, '--import', 'tsx', script, 'serve', databaseUrl], { stdio: ['ignore', 'pipe', 'inherit'], cwd: tree })
  return serverOnPort(child, 'bench server')
}

/** A server child once it prints `PORT <n>` (rejects if it exits first). */
export function serverOnPort(child: ChildProcess & { stdout: NodeJS.ReadableStream }, label: string): Promise<ServerChild> {
  return new Promise((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const match = /PORT (\d+)/.exec(out)
      if (match) resolve({ port: Number(match[1]), pid: child.pid!, stop: () => child.kill('SIGTERM') })
    })
    child.on('exit', (code) => reject(new Error(`${label} exited with ${code}`)))
  })
}

/** POSTs JSON to /auth/v1 over node:http keep-alive (lighter than fetch: less of the shared CPU goes to load generation). */
export function authPoster(port: number, apikey: string, maxSockets: number): (pathAndQuery: string, payload: unknown) => Promise<{ status: number; body: Record<string, unknown> }> {
  const headers = { apikey, 'content-type': 'application/json', 'x-supabase-api-version': '2024-01-01' }
  const agent = new http.Agent({ keepAlive: true, maxSockets })
  return (pathAndQuery, payload) =>
    new Promise((resolve, reject) => {
      const data = JSON.stringify(payload)
      const req = http.request(
        { host: '127.0.0.1', port, path: `/auth/v1${pathAndQuery}`, method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(data) } },
        (res) => {
          const chunks: Buffer[] = []
          res.on('data', (chunk: Buffer) => chunks.push(chunk))
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') }))
          res.on('error', reject)
        },
      )
      req.on('error', reject)
      req.end(data)
    })
}
