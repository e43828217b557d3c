/**
 * Issue 18 figures: Postgres-change latency, commit → client. One resolution server (child
 * process) on PostgreSQL; N subscribers (default 100) to INSERTs on a table under RLS, half of
 * them signed in as the rows' owner and half as another user whose policy hides every row; rows
 * are inserted at a fixed rate (default 200/s), each carrying its insert time. Reports p50/p99
 * over the deliveries, how many the hidden half wrongly received (must be 0), and the server's RSS.
 *
 *   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres node --import tsx bench/realtime-changes.ts
 *   # BENCH_SUBSCRIBERS=100 BENCH_RATE=200 BENCH_SECONDS=10 BENCH_DB_PREFIX=resolution_bench
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import * as jose from 'jose'
import pg from 'pg'
import WebSocket from 'ws'
import { loadConfig } from '../src/config/config.ts'
import { createPgDatabase } from '../src/db/pg-driver.ts'
import { startServer } from '../src/runtime/node-server.ts'
import { bootstrap } from '../src/schema/bootstrap.ts'
import { createServices } from '../src/services.ts'
import { createServerDatabase } from '../test/support/databases.ts'

const SECRET = 'bench-secret-with-at-least-32-characters!!'
const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? 100)
const RATE = Number(process.env.BENCH_RATE ?? 200)
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10)
/** Changes inserted in the first seconds (connections opening, JIT) are not measured. */
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 2)
const ADMIN = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
/** The scratch database's name prefix (on a shared server, each user keeps to their own). */
const DB_PREFIX = process.env.BENCH_DB_PREFIX ?? 'resolution_bench'
const SELF = fileURLToPath(import.meta.url)
const OWNER = '5e0f8a52-0000-4000-8000-000000000001'
const OTHER = '5e0f8a52-0000-4000-8000-000000000002'

const SCHEMA = `
CREATE TABLE public.bench_changes (id bigserial PRIMARY KEY, owner uuid NOT NULL, sent_at double precision NOT NULL, body text);
ALTER TABLE public.bench_changes ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON public.bench_changes FOR SELECT TO authenticated USING (owner = auth.uid());
GRANT SELECT ON public.bench_changes TO authenticated;
ALTER PUBLICATION supabase_realtime ADD TABLE public.bench_changes;`

async function serve(databaseUrl: string): Promise<void> {
  const config = loadConfig({ JWT_SECRET: SECRET, LOG_LEVEL: 'warn', EMBEDDED_DB_PORT: 'off', DATABASE_URL: databaseUrl, RESOLUTION_DATA_DIR: mkdtempSync(path.join(os.tmpdir(), 'resolution-bench-rt-')) })
  const services = await createServices(config)
  const server = await startServer(services, { port: 0, init: true, hostname: '127.0.0.1' })
  await server.ready
  process.stdout.write(`PORT ${server.port}\n`)
}

const sign = (claims: Record<string, unknown>) => {
  const now = Math.floor(Date.now() / 1000)
  return new jose.SignJWT({ iat: now, exp: now + 3600, ...claims }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(SECRET))
}

function subscribe(url: string, token: string, onChange: (record: { sent_at: number }) => void): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url)
    ws.on('error', reject)
    ws.on('open', () => ws.send(JSON.stringify(['1', '1', 'realtime:changes', 'phx_join', { access_token: token, config: { postgres_changes: [{ event: 'INSERT', schema: 'public', table: 'bench_changes' }] } }])))
    ws.on('message', (data) => {
      const [, ref, , event, payload] = JSON.parse(String(data)) as [unknown, unknown, string, string, { status?: string; data?: { record: { sent_at: number } } }]
      if (event === 'phx_reply' && ref === '1') {
        if (payload.status === 'ok') resolve(ws)
        else reject(new Error(JSON.stringify(payload)))
      } else if (event === 'postgres_changes') onChange(payload.data!.record)
    })
  })
}

const percentile = (sorted: number[], p: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]! * 100) / 100

async function main(): Promise<void> {
  const database = await createServerDatabase(ADMIN, DB_PREFIX)
  const setup = createPgDatabase({ url: database.url, poolMax: 1 })
  await bootstrap(setup)
  await setup.exec(SCHEMA)
  await setup.close()
  const child = spawn(process.execPath, ['--import', 'tsx', SELF, 'serve', database.url], { stdio: ['ignore', 'pipe', 'inherit'] })
  const port = await new Promise<number>((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (chunk: Buffer) => {
      const match = /PORT (\d+)/.exec((out += chunk.toString()))
      if (match) resolve(Number(match[1]))
    })
    child.on('exit', (code) => reject(new Error(`server exited with ${code}`)))
  })
  const writer = new pg.Client({ connectionString: database.url })
  try {
    await writer.connect()
    const anon = await sign({ role: 'anon', iss: 'supabase' })
    const url = `ws://127.0.0.1:${port}/realtime/v1/websocket?vsn=2.0.0&apikey=${anon}`
    const latencies: number[] = []
    let leaked = 0
    let measureFrom = Infinity
    const sockets: WebSocket[] = []
    for (let i = 0; i < SUBSCRIBERS; i++) {
      const owner = i % 2 === 0
      const token = await sign({ role: 'authenticated', aud: 'authenticated', sub: owner ? OWNER : OTHER })
      sockets.push(
        await subscribe(url, token, (record) => {
          if (!owner) leaked++
          else if (record.sent_at >= measureFrom) latencies.push(performance.timeOrigin + performance.now() - record.sent_at)
        }),
      )
    }
    const started = Date.now()
    measureFrom = performance.timeOrigin + performance.now() + WARMUP_SECONDS * 1000
    let sent = 0
    while (Date.now() - started < (WARMUP_SECONDS + SECONDS) * 1000) {
      const due = Math.floor(((Date.now() - started) / 1000) * RATE)
      for (; sent < due; sent++) await writer.query('INSERT INTO public.bench_changes (owner, sent_at) VALUES ($1, $2)', [OWNER, performance.timeOrigin + performance.now()])
      await new Promise((resolve) => setTimeout(resolve, 2))
    }
    await new Promise((resolve) => setTimeout(resolve, 2000))
    latencies.sort((a, b) => a - b)
    const rss = Math.round(Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]) / 1024)
    console.log(JSON.stringify({ subscribers: SUBSCRIBERS, rlsHidden: Math.floor(SUBSCRIBERS / 2), changesPerSecond: RATE, seconds: SECONDS, warmupSeconds: WARMUP_SECONDS, inserted: sent, measuredDeliveries: latencies.length, leakedToHidden: leaked, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), serverRssMiB: rss, loadAverage: os.loadavg()[0] }, null, 2))
    for (const socket of sockets) socket.terminate()
  } finally {
    await writer.end().catch(() => {})
    child.kill('SIGTERM')
    await new Promise((resolve) => child.on('exit', resolve))
    await database.drop()
  }
}

if (process.argv[2] === 'serve') void serve(process.argv[3]!)
else void main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
