/**
 * Issue 13 figure: the first `npm start` on a fresh clone (a fresh data dir) to `GET /health` 200,
 * and where that time goes. Each run spawns `resolution serve` on a new data dir and polls
 * /health every 10 ms; the bootstrap's own log line gives its steps. Also timed alone: Node + tsx
 * + the CLI (`--help`), and creating a fresh PGlite data dir (its initdb) in this process.
 *
 *   node --import tsx bench/startup-phases.ts          (RUNS=5 by default)
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { freePort } from '../test/support/ports.ts'

const BIN = path.resolve(process.env.RESOLUTION_BIN ?? 'bin/resolution.mjs')
const RUNS = Number(process.env.RUNS ?? 5)
const TICK = 100 // USER_HZ: clock ticks per second on Linux


function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return Math.round(((Number(fields[11]) + Number(fields[12])) * 1000) / TICK)
}

interface Run {
  listeningMs: number
  healthOkMs: number
  readyLineMs: number
  cpuMs: number
  bootstrapMs: number
  steps: Record<string, number>
}

async function once(): Promise<Run> {
  const port = await freePort()
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'resolution-phases-'))
  const t0 = performance.now()
  const child = spawn(process.execPath, [BIN, 'serve'], { env: { ...process.env, PORT: String(port), LOG_LEVEL: 'info', RESOLUTION_DATA_DIR: dataDir }, stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  let readyLineMs = 0
  child.stdout.on('data', (chunk) => {
    out += chunk
    if (!readyLineMs && out.includes('resolution ready')) readyLineMs = performance.now() - t0
  })
  let listeningMs = 0
  let healthOkMs = 0
  while (!healthOkMs) {
    const status = await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.status, () => 0)
    if (status && !listeningMs) listeningMs = performance.now() - t0
    if (status === 200) healthOkMs = performance.now() - t0
    else await new Promise((resolve) => setTimeout(resolve, 10))
  }
  const cpu = cpuMs(child.pid!)
  while (!readyLineMs) await new Promise((resolve) => setTimeout(resolve, 10))
  const log = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>)
  const boot = log.find((l) => l.msg === 'database bootstrapped') as { durationMs: number; steps: Array<{ name: string; durationMs: number }> } | undefined
  child.kill('SIGTERM')
  await new Promise((resolve) => child.on('exit', resolve))
  return {
    listeningMs: Math.round(listeningMs),
    healthOkMs: Math.round(healthOkMs),
    readyLineMs: Math.round(readyLineMs),
    cpuMs: cpu,
    bootstrapMs: Math.round(boot?.durationMs ?? 0),
    steps: Object.fromEntries((boot?.steps ?? []).map((s) => [s.name, Math.round(s.durationMs)])),
  }
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now()
  await fn()
  return Math.round(performance.now() - t0)
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

async function main() {
  const cli: number[] = []
  const initdb: number[] = []
  const runs: Run[] = []
  for (let i = 0; i < RUNS; i++) {
    cli.push(await timed(() => new Promise((resolve) => spawn(process.execPath, [BIN, '--help'], { stdio: 'ignore' }).on('exit', resolve))))
    initdb.push(await timed(async () => {
      const db = await PGlite.create({ dataDir: mkdtempSync(path.join(os.tmpdir(), 'resolution-initdb-')) })
      await db.close()
    }))
    runs.push(await once())
  }
  const steps = Object.keys(runs[0]!.steps)
  console.log(`load average: ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}, ${os.cpus().length} cores, ${RUNS} runs (median)`)
  console.table([
    { phase: 'node + tsx + CLI import (resolution --help)', ms: median(cli) },
    { phase: 'fresh PGlite data dir (initdb + open), in-process', ms: median(initdb) },
    { phase: 'spawn → HTTP listening (config, dev keys, PGlite open)', ms: median(runs.map((r) => r.listeningMs)) },
    { phase: 'bootstrap (all steps, one transaction)', ms: median(runs.map((r) => r.bootstrapMs)) },
    ...steps.map((name) => ({ phase: `  step: ${name}`, ms: median(runs.map((r) => r.steps[name] ?? 0)) })),
    { phase: 'spawn → /health 200 (first npm start)', ms: median(runs.map((r) => r.healthOkMs)) },
    { phase: 'spawn → ready line', ms: median(runs.map((r) => r.readyLineMs)) },
    { phase: 'CPU time of serve at /health 200', ms: median(runs.map((r) => r.cpuMs)) },
  ])
  console.log('each run (spawn → /health 200, ms):', runs.map((r) => r.healthOkMs).join(' '))
}

await main()
