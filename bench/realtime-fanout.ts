/**
 * Issue 18 figures: broadcast fan-out. One resolution server (a child process) holds N
 * WebSocket clients (default 1,000, protocol 2.0.0, all joined to one topic); one more client
 * broadcasts at a fixed rate; every delivery's latency (send → receive) is recorded by the
 * clients, all in this process. Reports deliveries/s, p50/p99 latency and the server's RSS idle
 * with N clients and after the load. On this 2-core machine the clients share the cores with the
 * server, so the figures are a floor.
 *
 *   node --import tsx bench/realtime-fanout.ts   # BENCH_CLIENTS=1000 BENCH_RATE=20 (msg/s) BENCH_SECONDS=10
 *   BENCH_DATABASE_URL=postgres://… node --import tsx bench/realtime-fanout.ts   # PostgreSQL (bus active) instead of PGlite
 */
import { spawn } from 'node:child_process'
import { readFileSync, mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import * as jose from 'jose'
import WebSocket from 'ws'
import { loadConfig } from '../src/config/config.ts'
import { startServer } from '../src/runtime/node-server.ts'
import { createServices } from '../src/services.ts'
import { createServerDatabase } from '../test/support/databases.ts'

const SECRET = 'bench-secret-with-at-least-32-characters!!'
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 1000)
const RATE = Number(process.env.BENCH_RATE ?? 20)
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10)
const SELF = fileURLToPath(import.meta.url)

async function serve(databaseUrl: string | undefined): Promise<void> {
  const config = loadConfig({
    JWT_SECRET: SECRET,
    LOG_LEVEL: 'warn',
    EMBEDDED_DB_PORT: 'off',
    RESOLUTION_DATA_DIR: mkdtempSync(path.join(os.tmpdir(), 'resolution-bench-rt-')),
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
  })
  const services = await createServices(config)
  const server = await startServer(services, { port: 0, init: true, hostname: '127.0.0.1' })
  await server.ready
  process.stdout.write(`PORT ${server.port}\n`)
}

function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmRSS:'))!
  return Math.round(Number(/\d+/.exec(line)![0]) / 1024)
}

function connect(url: string, onBroadcast: (payload: { sentAt: number }) => void): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url)
    ws.on('error', reject)
    ws.on('open', () => ws.send(JSON.stringify(['1', '1', 'realtime:bench', 'phx_join', { config: { broadcast: { self: false } } }])))
    ws.on('message', (data) => {
      const [, ref, , event, payload] = JSON.parse(String(data)) as [unknown, unknown, string, string, { payload: { sentAt: number } } & { status?: string }]
      if (event === 'phx_reply' && ref === '1') {
        if (payload.status !== 'ok') reject(new Error(JSON.stringify(payload)))
        else resolve(ws)
      } else if (event === 'broadcast') onBroadcast(payload.payload)
    })
  })
}

function percentile(sorted: number[], p: number): number {
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]! * 100) / 100
}

async function main(): Promise<void> {
  const admin = process.env.BENCH_DATABASE_URL
  const database = admin ? await createServerDatabase(admin, 'resolution_bench') : undefined
  const child = spawn(process.execPath, ['--import', 'tsx', SELF, 'serve', database?.url ?? 'pglite'], { stdio: ['ignore', 'pipe', 'inherit'] })
  const port = await new Promise<number>((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const match = /PORT (\d+)/.exec(out)
      if (match) resolve(Number(match[1]))
    })
    child.on('exit', (code) => reject(new Error(`server exited with ${code}`)))
  })
  try {
    const now = Math.floor(Date.now() / 1000)
    const key = await new jose.SignJWT({ role: 'anon', iss: 'supabase', iat: now, exp: now + 3600 }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(SECRET))
    const url = `ws://127.0.0.1:${port}/realtime/v1/websocket?vsn=2.0.0&apikey=${key}`
    const rssBefore = rssMiB(child.pid!)
    const latencies: number[] = []
    let delivered = 0
    let measuring = false
    const sockets: WebSocket[] = []
    for (let i = 0; i < CLIENTS; i += 50) {
      const batch = await Promise.all(Array.from({ length: Math.min(50, CLIENTS - i) }, () => connect(url, (p) => {
        if (!measuring) return
        delivered++
        latencies.push(performance.timeOrigin + performance.now() - p.sentAt)
      })))
      sockets.push(...batch)
    }
    await new Promise((resolve) => setTimeout(resolve, 2000))
    const rssIdle = rssMiB(child.pid!)
    const sender = await connect(url, () => {})
    measuring = true
    const started = Date.now()
    let sent = 0
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        const due = Math.floor(((Date.now() - started) / 1000) * RATE)
        for (; sent < due; sent++) sender.send(JSON.stringify(['1', String(sent + 2), 'realtime:bench', 'broadcast', { type: 'broadcast', event: 'tick', payload: { sentAt: performance.timeOrigin + performance.now() } }]))
        if (Date.now() - started >= SECONDS * 1000) {
          clearInterval(timer)
          resolve()
        }
      }, 5)
    })
    await new Promise((resolve) => setTimeout(resolve, 1000))
    measuring = false
    const rssAfter = rssMiB(child.pid!)
    latencies.sort((a, b) => a - b)
    console.log(JSON.stringify({
      database: database ? 'postgresql' : 'pglite',
      clients: CLIENTS,
      sentPerSecond: RATE,
      seconds: SECONDS,
      expected: sent * CLIENTS,
      delivered,
      deliveredPerSecond: Math.round(delivered / SECONDS),
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      serverRssMiB: { beforeClients: rssBefore, idleWithClients: rssIdle, afterLoad: rssAfter },
      loadAverage: os.loadavg()[0],
    }, null, 2))
    for (const socket of [...sockets, sender]) socket.terminate()
  } finally {
    child.kill('SIGTERM')
    await new Promise((resolve) => child.on('exit', resolve))
    await database?.drop()
  }
}

if (process.argv[2] === 'serve') void serve(process.argv[3] === 'pglite' ? undefined : process.argv[3])
else void main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
