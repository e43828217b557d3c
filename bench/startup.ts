/**
 * Issue 2 figures: time from `npm start` (the `serve` command) to the ready line on a fresh and
 * on an existing data dir, RSS after start, and /health throughput on the embedded database and
 * on PostgreSQL (BENCH_DATABASE_URL, default the local server's `postgres` database).
 *
 *   node --import tsx bench/startup.ts
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { hit, load } from './lib/load.ts'

const BIN = path.resolve('bin/resolution.mjs')
const DURATION_MS = Number(process.env.BENCH_SECONDS ?? 5) * 1000

interface Started {
  url: string
  ms: number
  pid: number
  stop: () => Promise<void>
}

function start(env: Record<string, string>): Promise<Started> {
  const t0 = performance.now()
  const child = spawn(process.execPath, [BIN, 'serve'], { env: { ...process.env, PORT: '0', LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'inherit'] })
  const exited = new Promise((resolve) => child.on('exit', resolve))
  return new Promise((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (chunk) => {
      out += chunk
      const match = /ready on (\S+)/.exec(out)
      if (match) resolve({ url: match[1]!, ms: Math.round(performance.now() - t0), pid: child.pid!, stop: async () => void (child.kill('SIGTERM'), await exited) })
    })
    child.on('exit', (code) => reject(new Error(`serve exited with ${code}`)))
  })
}

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024)
}

async function main() {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'resolution-bench-'))
  const fresh = await start({ RESOLUTION_DATA_DIR: dataDir })
  const freshRss = rssMiB(fresh.pid)
  await fresh.stop()
  const existing = await start({ RESOLUTION_DATA_DIR: dataDir })
  const existingRss = rssMiB(existing.pid)
  const embedded = await load(() => hit(`${existing.url}/health`), { concurrency: 16, durationMs: DURATION_MS, warmupMs: 500 })
  await existing.stop()

  const databaseUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
  const server = await start({ DATABASE_URL: databaseUrl, RESOLUTION_DATA_DIR: dataDir })
  const serverRss = rssMiB(server.pid)
  const postgres = await load(() => hit(`${server.url}/health`), { concurrency: 16, durationMs: DURATION_MS, warmupMs: 500 })
  await server.stop()

  console.table([
    { measure: 'start → ready, fresh data dir (ms)', value: fresh.ms },
    { measure: 'start → ready, existing data dir (ms)', value: existing.ms },
    { measure: 'start → ready, PostgreSQL (ms)', value: server.ms },
    { measure: 'RSS after start, embedded fresh (MiB)', value: freshRss },
    { measure: 'RSS after start, embedded existing (MiB)', value: existingRss },
    { measure: 'RSS after start, PostgreSQL (MiB)', value: serverRss },
  ])
  console.table([
    { database: 'embedded (PGlite)', ...embedded, statuses: JSON.stringify(embedded.statuses) },
    { database: 'PostgreSQL', ...postgres, statuses: JSON.stringify(postgres.statuses) },
  ])
}

await main()
