/**
 * Issue 16: how far the refresh grant is from its floor. Side by side, in alternating rounds over
 * one database, at the same concurrency and pool size:
 *
 *   service      POST /auth/v1/token?grant_type=refresh_token to resolution (a child process)
 *   bare-http    a bare `node:http` server (a child process) doing the floor's work per request:
 *                what any HTTP service on this machine pays, without resolution's framework
 *   floor        the same work without HTTP: over bare `pg`, the client rate-limit hit (the
 *                service's coalescing counter) and the rotation statement refresh.ts runs (named,
 *                autocommitted), then the access token signed and the session JSON built
 *   floor-async  the floor with `synchronous_commit=off` for its connections: how much of the
 *                wall is waiting for the WAL flush (the service never runs this way)
 *   floor-nolimit  the floor without the rate-limit hit: what the per-client counter costs
 *   service-base the service from another checkout (BENCH_BASE_TREE, e.g. /work/main): before/after
 *
 * For each: req/s, p50/p99 and the CPU per refresh of the server, the database's backends and
 * this process (the floor's "server" work runs in this process, so it counts as loadgen there).
 *
 *   node --import tsx bench/auth-refresh-floor.ts   # BENCH_SECONDS=5 BENCH_ROUNDS=3 BENCH_WARMUP_SECONDS=3 BENCH_CONCURRENCY=32 BENCH_POOL=10 BENCH_MODES=service,bare-http,floor,floor-async (and floor-nolimit)
 */
import { spawn } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { Counters, WindowLimit } from '../src/auth/rate-limit.ts'
import { ROTATE_ACTIVE, rotatedActive, type RotatedRow } from '../src/auth/refresh.ts'
import { sessionJson } from '../src/auth/tokens.ts'
import { userJson } from '../src/auth/user-json.ts'
import { loadConfig } from '../src/config/config.ts'
import type { Queryable } from '../src/db/types.ts'
import { createJwtService, issueApiKey } from '../src/jwt/service.ts'
import type { Services } from '../src/services.ts'
import { authPoster, BENCH_SECRET, cpuPerRequest, cpuSnapshot, createBenchDatabase, seedUsers, serverOnPort, startAuthServer, type CpuSplit, type ServerChild } from './lib/auth-fixture.ts'
import { load, type LoadResult } from './lib/load.ts'

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 3)
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32)
const POOL = Number(process.env.BENCH_POOL ?? 10)
const MODES = (process.env.BENCH_MODES ?? 'service,bare-http,floor,floor-async').split(',') as Mode[]
const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const SELF = fileURLToPath(import.meta.url)

type Mode = 'service' | 'service-base' | 'bare-http' | 'floor' | 'floor-async' | 'floor-nolimit'

/** One refresh, returning its HTTP status (the floor answers 200 or throws). */
type Refresher = (token: string) => Promise<{ status: number; next?: string; body?: string }>

/** Sessions opened the way createSession writes them (session, amr claim, first token), one per slot. */
async function openSessions(url: string, emails: string[], count: number): Promise<string[]> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  const { rows } = await client.query<{ token: string }>(
    `WITH u AS (
       SELECT id, row_number() OVER (ORDER BY email) AS n FROM auth.users WHERE email = ANY($1::text[])
     ), slots AS (
       SELECT gen_random_uuid() AS sid, u.id AS uid, substr(md5(random()::text || g::text), 1, 12) AS token
         FROM generate_series(1, $2::int) g JOIN u ON u.n = 1 + (g - 1) % (SELECT count(*) FROM u)
     ), s AS (
       INSERT INTO auth.sessions (id, user_id, created_at, updated_at, aal, user_agent, ip)
       SELECT sid, uid, now(), now(), 'aal1', 'bench', '127.0.0.1' FROM slots RETURNING id
     ), a AS (
       INSERT INTO auth.mfa_amr_claims (id, session_id, created_at, updated_at, authentication_method)
       SELECT gen_random_uuid(), s.id, now(), now(), 'password' FROM s
     )
     INSERT INTO auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, parent, session_id)
     SELECT '00000000-0000-0000-0000-000000000000', slots.token, slots.uid::text, false, now(), now(), NULL, slots.sid
       FROM slots JOIN s ON s.id = slots.sid RETURNING token`,
    [emails, count],
  )
  await client.end()
  return rows.map((r) => r.token)
}

/** The service over HTTP. */
async function serviceRefresher(port: number): Promise<Refresher> {
  const jwt = await createJwtService(loadConfig({ JWT_SECRET: BENCH_SECRET }))
  const post = authPoster(port, await issueApiKey(jwt, 'anon'), CONCURRENCY + 1)
  return async (token) => {
    const res = await post('/token?grant_type=refresh_token', { refresh_token: token })
    return { status: res.status, next: typeof res.body.refresh_token === 'string' ? res.body.refresh_token : undefined }
  }
}

/** The refresh's SQL and token work over bare pg: no HTTP, no framework, no Database layer. */
async function floorRefresher(url: string, options: { asyncCommit?: boolean; limited?: boolean; keep?: (body: string) => string }): Promise<{ refresh: Refresher; pool: pg.Pool }> {
  const { asyncCommit = false, limited = true, keep } = options
  const pool = new pg.Pool({ connectionString: url, max: POOL, idleTimeoutMillis: 0, options: asyncCommit ? '-c synchronous_commit=off' : undefined })
  const bare = { query: (text: string, values?: readonly unknown[], options?: { name?: string }) => pool.query({ text, values: values as unknown[], name: options?.name }) }
  const counters = new Counters(async () => bare as unknown as Queryable)
  const limit = new WindowLimit('token', 1_000_000, 300, counters)
  const config = loadConfig({ JWT_SECRET: BENCH_SECRET })
  const services = { config, jwt: await createJwtService(config) } as unknown as Services
  const refresh: Refresher = async (token) => {
    if (limited) await limit.take('127.0.0.1')
    const input = { token, reuseIntervalSeconds: 10, ip: '127.0.0.1', userAgent: 'bench' }
    const { rows } = await pool.query<RotatedRow>({ name: ROTATE_ACTIVE.name, text: ROTATE_ACTIVE.sql, values: ROTATE_ACTIVE.params(input) })
    const refreshed = rotatedActive(rows[0])
    if (!refreshed) throw new Error('floor: the token did not rotate')
    const body = JSON.stringify(
      await sessionJson(services, {
        user: refreshed.user,
        userJson: userJson(refreshed.user, refreshed.identities),
        sessionId: refreshed.sessionId,
        aal: refreshed.aal,
        amr: refreshed.amr,
        refreshToken: refreshed.refreshToken,
      }),
    )
    return { status: body.length > 0 ? 200 : 500, next: refreshed.refreshToken, body: keep?.(body) }
  }
  return { refresh, pool }
}

/** `bare <url>`: the floor's work behind node:http, answering POST /auth/v1/token like the service. */
async function serveBare(url: string): Promise<void> {
  const { refresh } = await floorRefresher(url, { keep: (body) => body })
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const token = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { refresh_token: string }).refresh_token
      refresh(token).then(
        (r) => res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(r.body!) }).end(r.body),
        (error: unknown) => res.writeHead(500).end(String(error)),
      )
    })
  })
  server.listen(0, '127.0.0.1', () => process.stdout.write(`PORT ${(server.address() as AddressInfo).port}\n`))
}

/** Each in-flight request takes a free session slot and returns it: no two requests refresh one session at once. */
function slotted(refresh: Refresher, tokens: string[]): () => Promise<number> {
  const free = [...tokens.keys()]
  return async () => {
    const slot = free.pop()!
    try {
      const res = await refresh(tokens[slot]!)
      if (res.status === 200 && res.next) tokens[slot] = res.next
      return res.status
    } finally {
      free.push(slot)
    }
  }
}

interface ModeResult {
  rounds: LoadResult[]
  cpu: CpuSplit[]
}

function summary(mode: Mode, r: ModeResult): string {
  const rps = r.rounds.map((x) => x.rps)
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  const cpu = (k: keyof CpuSplit) => median(r.cpu.map((c) => c[k]))
  const total = cpu('server') + cpu('postgres') + cpu('loadgen')
  // What the CPU per refresh allows on this machine's cores if nothing else ran on them.
  const capacity = Math.round((os.cpus().length * 1000) / total)
  return `${mode.padEnd(12)} req/s ${rps.join(' / ').padEnd(22)} median ${String(median(rps)).padStart(5)}   p50 ${median(r.rounds.map((x) => x.p50))} ms  p99 ${median(r.rounds.map((x) => x.p99))} ms   CPU/refresh: server ${cpu('server')} + postgres ${cpu('postgres')} + this process ${cpu('loadgen')} = ${Math.round(total * 1000) / 1000} ms (≈ ${capacity}/s on idle cores)  statuses ${JSON.stringify(r.rounds.reduce((acc, x) => ({ ...acc, ...Object.fromEntries(Object.entries(x.statuses).map(([k, v]) => [k, (acc[k] ?? 0) + v])) }), {} as Record<string, number>))}`
}

async function main(): Promise<void> {
  const db = await createBenchDatabase(ADMIN_URL, 'refresh_floor')
  const cleanups: Array<() => unknown> = []
  try {
    const emails = await seedUsers(db.url, 200)
    const runners = new Map<Mode, { run: () => Promise<number>; serverPid?: number }>()
    for (const mode of MODES) {
      const tokens = await openSessions(db.url, emails, CONCURRENCY + 1)
      if (mode === 'service' || mode === 'service-base' || mode === 'bare-http') {
        const base = process.env.BENCH_BASE_TREE
        if (mode === 'service-base' && !base) throw new Error('service-base needs BENCH_BASE_TREE (a checkout with its node_modules)')
        const server = mode === 'bare-http' ? await startBare(db.url) : await startAuthServer(db.url, mode === 'service-base' ? base : undefined)
        cleanups.push(server.stop)
        runners.set(mode, { run: slotted(await serviceRefresher(server.port), tokens), serverPid: server.pid })
      } else {
        const floor = await floorRefresher(db.url, { asyncCommit: mode === 'floor-async', limited: mode !== 'floor-nolimit' })
        cleanups.push(() => floor.pool.end())
        runners.set(mode, { run: slotted(floor.refresh, tokens) })
      }
      await load(runners.get(mode)!.run, { concurrency: CONCURRENCY, durationMs: WARMUP_SECONDS * 1000 }) // warm-up: the JIT, the pools
    }
    const results = new Map<Mode, ModeResult>(MODES.map((m) => [m, { rounds: [], cpu: [] }]))
    const loadAverages: number[][] = []
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate the order too, so no mode always runs after the same neighbour.
      for (const mode of round % 2 === 0 ? MODES : [...MODES].reverse()) {
        const runner = runners.get(mode)!
        const before = await cpuSnapshot(ADMIN_URL, db.name, runner.serverPid)
        const result = await load(runner.run, { concurrency: CONCURRENCY, durationMs: SECONDS * 1000 })
        const after = await cpuSnapshot(ADMIN_URL, db.name, runner.serverPid)
        results.get(mode)!.rounds.push(result)
        results.get(mode)!.cpu.push(cpuPerRequest(before, after, result.requests))
      }
      loadAverages.push(os.loadavg().map((l) => Math.round(l * 100) / 100))
    }
    const lines = [
      `refresh at ${CONCURRENCY} clients, pool ${POOL}, ${ROUNDS} alternating rounds of ${SECONDS} s (${os.cpus().length} CPUs, ${process.version})`,
      ...MODES.map((m) => summary(m, results.get(m)!)),
      `load average after each round: ${loadAverages.map((l) => l.join(' ')).join(' | ')}`,
      '',
    ]
    process.stdout.write(lines.join('\n'))
    mkdirSync(path.join(path.dirname(SELF), 'results'), { recursive: true })
    writeFileSync(path.join(path.dirname(SELF), 'results', 'auth-refresh-floor.json'), JSON.stringify({ concurrency: CONCURRENCY, pool: POOL, seconds: SECONDS, modes: Object.fromEntries(results), loadAverages }, null, 2) + '\n')
  } finally {
    for (const cleanup of cleanups) await cleanup()
    await new Promise((r) => setTimeout(r, 300))
    await db.drop()
  }
}

function startBare(url: string): Promise<ServerChild> {
  const child = spawn(process.execPath, ['--import', 'tsx', SELF, 'bare', url], { stdio: ['ignore', 'pipe', 'inherit'] })
  return serverOnPort(child, 'bare server')
}

if (process.argv[2] === 'bare') {
  process.on('SIGTERM', () => process.exit(0))
  await serveBare(process.argv[3]!)
} else {
  await main()
  process.exit(0)
}
