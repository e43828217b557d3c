/**
 * Issue 7 figures for the Lambda bundle: its size, the time to import it and the time to the
 * first answered request, each in a fresh Node process, against a fresh bootstrapped database on
 * the local PostgreSQL (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres).
 * Goal on this machine: import < 150 ms, first answer < 300 ms.
 *
 *   node --import tsx bench/lambda-cold.ts            (BENCH_RUNS=15 fresh processes by default)
 *
 * Not a Lambda cold start: no INIT sandbox, no network hop to the database, x86 here vs arm64 there.
 */
import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { gzipSync } from 'node:zlib'
import pg from 'pg'
import { createJwtService, issueApiKey } from '../src/jwt/service.ts'
import { loadConfig } from '../src/config/config.ts'
import { createPgDatabase } from '../src/db/pg-driver.ts'
import { bootstrap } from '../src/schema/bootstrap.ts'

const exec = promisify(execFile)
const RUNS = Number(process.env.BENCH_RUNS ?? 15)
const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const tmp = mkdtempSync(path.join(os.tmpdir(), 'resolution-lambda-bench-'))
const bundle = path.join(tmp, 'bundle', 'index.mjs')

// The child: import the bundle, answer the same event twice, report the clock (performance.now()
// counts from the process's start).
const child = path.join(tmp, 'child.mjs')
writeFileSync(
  child,
  `const beforeImport = performance.now()
const cpu0 = process.cpuUsage()
const { handler } = await import(process.argv[2])
const imported = performance.now()
const cpu1 = process.cpuUsage(cpu0)
const event = JSON.parse(process.argv[3])
const first = await handler(event, { awsRequestId: 'bench-1' })
const answered = performance.now()
const cpu2 = process.cpuUsage(cpu0)
const cpuMs = (u) => (u.user + u.system) / 1000
const second = await handler(event, { awsRequestId: 'bench-2' })
const warm = performance.now() - answered
process.stdout.write(JSON.stringify({ beforeImport, importMs: imported - beforeImport, firstInvokeMs: answered - imported, firstAnswerMs: answered, warmMs: warm, importCpuMs: cpuMs(cpu1), firstAnswerCpuMs: cpuMs(cpu2), status: [first.statusCode, second.statusCode] }))
process.exit(0)
`,
)

function stats(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b)
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
  return { median: +at(0.5).toFixed(1), p90: +at(0.9).toFixed(1), min: +sorted[0]!.toFixed(1), max: +sorted.at(-1)!.toFixed(1) }
}

async function main() {
  await exec(process.execPath, ['scripts/build-lambda.mjs', '--outdir', path.dirname(bundle)])
  const bytes = statSync(bundle).size
  const gzipped = gzipSync(readFileSync(bundle)).length

  const name = `resolution_bench_lambda_${process.pid}`
  const admin = new pg.Client({ connectionString: ADMIN_URL })
  await admin.connect()
  await admin.query(`CREATE DATABASE "${name}"`)
  const url = new URL(ADMIN_URL)
  url.pathname = `/${name}`
  try {
    const database = createPgDatabase({ url: url.toString(), poolMax: 1 })
    await bootstrap(database)
    await database.close()
    const secret = 'bench-secret-with-at-least-32-characters!'
    const jwt = await createJwtService(loadConfig({ JWT_SECRET: secret }))
    const env = {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'production',
      AUTH_AUTOCONFIRM: 'true',
      LOG_LEVEL: 'warn',
      DATABASE_URL: url.toString(),
      JWT_SECRET: secret,
      ANON_KEY: await issueApiKey(jwt, 'anon'),
      SERVICE_ROLE_KEY: await issueApiKey(jwt, 'service_role'),
    }
    const event = readFileSync('events/http-api-v2.json', 'utf8')
    const runs: Array<{ beforeImport: number; importMs: number; firstInvokeMs: number; firstAnswerMs: number; warmMs: number; importCpuMs: number; firstAnswerCpuMs: number; status: number[] }> = []
    for (let i = 0; i < RUNS; i++) {
      const { stdout } = await exec(process.execPath, [child, bundle, event], { env })
      const run = JSON.parse(stdout)
      if (run.status.some((s: number) => s !== 200)) throw new Error(`the handler answered ${run.status.join(', ')}`)
      runs.push(run)
    }
    const result = {
      node: process.version,
      cpus: os.cpus().length,
      runs: RUNS,
      bundleBytes: bytes,
      bundleGzipBytes: gzipped,
      nodeStartMs: stats(runs.map((r) => r.beforeImport)),
      importMs: stats(runs.map((r) => r.importMs)),
      firstInvokeMs: stats(runs.map((r) => r.firstInvokeMs)),
      processStartToFirstAnswerMs: stats(runs.map((r) => r.firstAnswerMs)),
      importPlusFirstAnswerMs: stats(runs.map((r) => r.importMs + r.firstInvokeMs)),
      warmInvokeMs: stats(runs.map((r) => r.warmMs)),
      // CPU time (user + system) is less disturbed by other load on the machine than the clock.
      importCpuMs: stats(runs.map((r) => r.importCpuMs)),
      importPlusFirstAnswerCpuMs: stats(runs.map((r) => r.firstAnswerCpuMs)),
      loadAverage: os.loadavg().map((l) => +l.toFixed(1)),
    }
    mkdirSync('bench/results', { recursive: true })
    writeFileSync('bench/results/lambda-cold.json', JSON.stringify(result, null, 2) + '\n')
    console.log(`bundle: ${(bytes / 1024).toFixed(1)} KiB (${(gzipped / 1024).toFixed(1)} KiB gzipped); load average ${result.loadAverage.join(' ')}`)
    console.log(`over ${RUNS} fresh processes (median / p90 / max, ms):`)
    for (const key of ['nodeStartMs', 'importMs', 'firstInvokeMs', 'importPlusFirstAnswerMs', 'processStartToFirstAnswerMs', 'warmInvokeMs', 'importCpuMs', 'importPlusFirstAnswerCpuMs'] as const) {
      const s = result[key]
      console.log(`  ${key.padEnd(30)} ${String(s.median).padStart(7)} ${String(s.p90).padStart(7)} ${String(s.max).padStart(7)}`)
    }
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
    await admin.end()
  }
}

await main()
