/**
 * Issue 4 figures: password sign-in and refresh-token throughput and latency of /auth/v1 on
 * PostgreSQL, and the share of a sign-in spent in bcrypt (cost 10). The server runs in a child
 * process (`serve` mode of this script) over a fresh database; this process generates the load.
 *
 *   node --import tsx bench/auth.ts       # BENCH_SECONDS=10 BENCH_CONCURRENCY=32 BENCH_POOL=10 BENCH_SIGNIN_SECONDS=(BENCH_SECONDS)
 *   BENCH_DATABASE_URL=postgres://… node --import tsx bench/auth.ts
 *   BENCH_PROF=/tmp/prof …                # the server child writes a V8 CPU profile there
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import bcrypt from 'bcryptjs'
import { issueApiKey, createJwtService } from '../src/jwt/service.ts'
import { hashPassword } from '../src/auth/password.ts'
import { loadConfig } from '../src/config/config.ts'
import { startServer } from '../src/runtime/node-server.ts'
import { createServices } from '../src/services.ts'
import { authPoster, BENCH_PASSWORD as PASSWORD, BENCH_SECRET as SECRET, cpuPerRequest, cpuSnapshot, createBenchDatabase, seedUsers, startAuthServer, type ServerChild } from './lib/auth-fixture.ts'
import { load, type LoadResult } from './lib/load.ts'

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10)
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32)
const SIGNIN_CONCURRENCY = Number(process.env.BENCH_SIGNIN_CONCURRENCY ?? 8)
// Sign-in is bcrypt-bound and slow to measure: shorten it when only the refresh figures matter.
const SIGNIN_SECONDS = Number(process.env.BENCH_SIGNIN_SECONDS ?? SECONDS)
const POOL = Number(process.env.BENCH_POOL ?? 10)
const USERS = 200
const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const SELF = fileURLToPath(import.meta.url)

function serverEnv(databaseUrl: string): Record<string, string> {
  // Every bench client is 127.0.0.1: the per-client limits (on by default) are raised explicitly.
  const limits = { AUTH_RATE_LIMIT_OTP: '1000000', AUTH_RATE_LIMIT_TOKEN_REFRESH: process.env.BENCH_TOKEN_LIMIT ?? '1000000', DB_POOL_CLIENT_SHARE: String(POOL) }
  return { JWT_SECRET: SECRET, LOG_LEVEL: 'silent', DB_POOL_MAX: String(POOL), DATABASE_URL: databaseUrl, AUTH_AUTOCONFIRM: 'true', ...limits }
}

// ---------------------------------------------------------------- child: the resolution server
async function serve(databaseUrl: string): Promise<void> {
  const config = loadConfig({ ...serverEnv(databaseUrl), RESOLUTION_DATA_DIR: mkdtempSync(path.join(os.tmpdir(), 'resolution-bench-')) })
  const services = await createServices(config)
  const server = await startServer(services, { port: 0, init: false, hostname: '127.0.0.1' })
  await server.ready
  process.stdout.write(`PORT ${server.port}\n`)
}

// ---------------------------------------------------------------- parent: setup and load
/** CPU ms of one bcrypt compare (CPU, not wall time, so a busy machine does not inflate it). */
function bcryptCompareMs(hash: string, rounds = 30): number {
  bcrypt.compareSync(PASSWORD, hash) // warm-up
  const before = process.cpuUsage()
  for (let i = 0; i < rounds; i++) bcrypt.compareSync(PASSWORD, hash)
  const used = process.cpuUsage(before)
  return (used.user + used.system) / 1000 / rounds
}

async function main(): Promise<void> {
  const db = await createBenchDatabase(ADMIN_URL, 'auth')
  let server: ServerChild | undefined
  try {
    const emails = await seedUsers(db.url, USERS)
    server = await startAuthServer(db.url)
    const jwt = await createJwtService(loadConfig({ JWT_SECRET: SECRET }))
    const apikey = await issueApiKey(jwt, 'anon')
    const post = authPoster(server.port, apikey, Math.max(CONCURRENCY, SIGNIN_CONCURRENCY) + 1)
    const signIn = async (email: string) => {
      const res = await post('/token?grant_type=password', { email, password: PASSWORD })
      return { status: res.status, refreshToken: res.body.refresh_token as string | undefined }
    }

    const bcryptMs = bcryptCompareMs(await hashPassword(PASSWORD))
    let n = 0
    const signInOnce = async () => (await signIn(emails[n++ % emails.length]!)).status
    const signInSerial = await load(signInOnce, { concurrency: 1, durationMs: Math.min(SIGNIN_SECONDS, 5) * 1000, warmupMs: 500 })
    await load(signInOnce, { concurrency: SIGNIN_CONCURRENCY, durationMs: 1000 }) // warm-up
    const dbName = db.name
    const signInBefore = await cpuSnapshot(ADMIN_URL, dbName, server.pid)
    const signInLoad = await load(signInOnce, { concurrency: SIGNIN_CONCURRENCY, durationMs: SIGNIN_SECONDS * 1000 })
    const signInAfter = await cpuSnapshot(ADMIN_URL, dbName, server.pid)
    // The server's CPU includes its bcrypt worker threads: bcrypt's share of a sign-in's CPU.
    const signInSplit = cpuPerRequest(signInBefore, signInAfter, signInLoad.requests)
    const signInCpuMs = signInSplit.server + signInSplit.postgres
    const signInBcryptShare = Math.round(Math.min(1, bcryptMs / signInCpuMs) * 100)

    // Each worker refreshes its own session, always with the newest token (as a client does).
    const tokens: string[] = []
    for (let i = 0; i < CONCURRENCY + 1; i++) tokens.push((await signIn(emails[i % emails.length]!)).refreshToken!)
    // Each in-flight request takes a free session slot and returns it, so no two requests ever
    // refresh one session at once (a client refreshes its own session serially).
    const free = [...tokens.keys()]
    const refreshOnce = async () => {
      const slot = free.pop()!
      try {
        const res = await post('/token?grant_type=refresh_token', { refresh_token: tokens[slot] })
        if (res.status === 200 && typeof res.body.refresh_token === 'string') tokens[slot] = res.body.refresh_token
        return res.status
      } finally {
        free.push(slot)
      }
    }
    const refreshSerial = await load(refreshOnce, { concurrency: 1, durationMs: Math.min(SECONDS, 5) * 1000, warmupMs: 500 })
    await load(refreshOnce, { concurrency: CONCURRENCY, durationMs: 1000 }) // warm-up, outside the CPU accounting
    const before = await cpuSnapshot(ADMIN_URL, dbName, server.pid)
    const refreshLoad = await load(refreshOnce, { concurrency: CONCURRENCY, durationMs: SECONDS * 1000 })
    const after = await cpuSnapshot(ADMIN_URL, dbName, server.pid)
    // CPU per refresh; the capacity of two otherwise idle cores follows from it (fsync waits are not CPU).
    const split = cpuPerRequest(before, after, refreshLoad.requests)
    const cpu = { serverMs: split.server, postgresMs: split.postgres, loadgenMs: split.loadgen }
    const cores = os.cpus().length
    const capacity = {
      serverAndPostgres: Math.round((cores * 1000) / (cpu.serverMs + cpu.postgresMs)),
      withLoadgenOnTheSameCores: Math.round((cores * 1000) / (cpu.serverMs + cpu.postgresMs + cpu.loadgenMs)),
    }

    const results = {
      machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, node: process.version },
      database: 'PostgreSQL (BENCH_DATABASE_URL or local), fresh database, pool ' + POOL,
      seconds: SECONDS,
      bcrypt: { cost: 10, compareMs: Math.round(bcryptMs * 100) / 100 },
      signIn: {
        serial: { ...signInSerial, bcryptShareOfLatencyPercent: Math.round((bcryptMs / signInSerial.p50) * 100) },
        concurrent: { concurrency: SIGNIN_CONCURRENCY, ...signInLoad, cpuMsPerRequest: Math.round(signInCpuMs * 100) / 100, bcryptShareOfCpuPercent: signInBcryptShare },
      },
      refresh: { serial: refreshSerial, concurrent: { concurrency: CONCURRENCY, ...refreshLoad }, cpuPerRequest: cpu, idleCapacityEstimate: capacity },
      loadAverageAtEnd: os.loadavg().map((l) => Math.round(l * 10) / 10),
    }
    mkdirSync(path.join(path.dirname(SELF), 'results'), { recursive: true })
    writeFileSync(path.join(path.dirname(SELF), 'results', 'auth.json'), JSON.stringify(results, null, 2) + '\n')
    const line = (name: string, r: LoadResult) => `${name.padEnd(26)} ${String(r.rps).padStart(6)} req/s   p50 ${String(r.p50).padStart(7)} ms   p99 ${String(r.p99).padStart(7)} ms   ${JSON.stringify(r.statuses)}${r.failures ? ` failures ${r.failures}` : ''}`
    process.stdout.write(
      [
        `bcrypt cost 10 compare: ${results.bcrypt.compareMs} ms CPU`,
        line('sign-in (1 client)', signInSerial) + `   bcrypt ≈ ${results.signIn.serial.bcryptShareOfLatencyPercent}% of latency`,
        line(`sign-in (${SIGNIN_CONCURRENCY} clients)`, signInLoad) + `   bcrypt ≈ ${signInBcryptShare}% of its ${results.signIn.concurrent.cpuMsPerRequest} ms CPU (server + postgres)`,
        line('refresh (1 client)', refreshSerial),
        line(`refresh (${CONCURRENCY} clients)`, refreshLoad),
        `refresh CPU per request: server ${cpu.serverMs} ms, postgres ${cpu.postgresMs} ms, load generator ${cpu.loadgenMs} ms`,
        `  → ${cores} idle cores would carry ≈ ${capacity.serverAndPostgres} refresh/s (≈ ${capacity.withLoadgenOnTheSameCores}/s with this load generator on them too)`,
        `load average at the end: ${results.loadAverageAtEnd.join(' ')} (figures scale down on a busy machine)`,
        '',
      ].join('\n'),
    )
  } finally {
    server?.stop()
    await new Promise((r) => setTimeout(r, 300))
    await db.drop()
  }
}

if (process.argv[2] === 'serve') {
  process.on('SIGTERM', () => process.exit(0)) // a clean exit, so --cpu-prof writes its profile
  await serve(process.argv[3]!)
} else {
  await main()
  // The load generator's keep-alive sockets and handles would otherwise keep this process alive.
  process.exit(0)
}
