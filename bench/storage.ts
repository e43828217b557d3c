/**
 * Storage benchmark, side by side in one run: upload and download throughput of 1 MiB and
 * 100 MiB objects through `/storage/v1` against copying the same bytes with the backend directly,
 * at 1 and 8 concurrent requests; then the server's peak RSS over idle while a 1 GiB object
 * streams through, up and then down (each backend).
 *
 * What each side does, per object (the bytes are held in memory by the client in both cases):
 * - upload, direct:   file — `fs.writeFile` of the buffer to a new file under the backend's folder;
 *                     S3 — `@aws-sdk/lib-storage` `Upload` of the buffer (the backend's part size
 *                     and parallelism) to the same S3 server.
 *   upload, service:  `fetch` POST of the buffer to `/storage/v1/object/bench/<name>` (x-upsert).
 * - download, direct: file — a read stream of the stored file, consumed; S3 — GetObject, body consumed.
 *   download, service: `fetch` GET of the object, body consumed.
 * - the HTTP floor (a third column): the same `fetch` calls against a bare `node:http` server
 *   streaming bodies to and from files (no auth, database or hashing): what any HTTP hop costs here.
 * All sides run `concurrency` requests at a time over the same number of objects, rounds
 * alternate direct/service. The server is a child process (`resolution serve`) on the embedded
 * database, or on PostgreSQL with BENCH_DATABASE_URL (a scratch database made there and dropped);
 * the S3 backend runs against moto_server started here (skipped when it is not installed).
 *
 *   node --import tsx bench/storage.ts [--quick]   # --quick: fewer objects and rounds, 256 MiB instead of 1 GiB
 *   BENCH_BACKENDS=file,s3 BENCH_CONCURRENCY=1,8 BENCH_ROUNDS=3 BENCH_SIZES_MIB=1,100 BENCH_RSS=1
 *   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres …
 *   BENCH_BASELINE_DIR=/tmp/base …                 # a fourth side: the service from another checkout (its own server and database), alternating with this one
 *   BENCH_PROF=/tmp/prof …                          # the server child writes V8 CPU profiles (one per thread) to /tmp/prof/storage-<backend>/
 *
 * Under each figure, per side: the CPU (user + system, /proc) every process spent per MiB moved —
 * the bench's own client, the server, the floor, moto — and the S3 requests per object, by kind,
 * from moto's request log (BENCH_CPU=0 leaves them out). A phase ends once moto is quiet, so work
 * a side leaves running after its responses (a removal) counts as its own.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createReadStream, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'
import type { Readable } from 'node:stream'
import { CreateBucketCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import * as jose from 'jose'
import { createServerDatabase } from '../test/support/databases.ts'
import { freePort } from '../test/support/ports.ts'

const quick = process.argv.includes('--quick')
const MiB = 1024 * 1024
const SECRET = 'bench-secret-with-at-least-32-characters-long'
const S3_BUCKET = 'bench-objects'
const credentials = { accessKeyId: 'bench', secretAccessKey: 'bench' }
const hasMoto = spawnSync('sh', ['-c', 'command -v moto_server'], { encoding: 'utf8' }).status === 0
const BACKENDS = (process.env.BENCH_BACKENDS ?? (hasMoto ? 'file,s3' : 'file')).split(',') as Array<'file' | 's3'>
const CONCURRENCIES = (process.env.BENCH_CONCURRENCY ?? '1,8').split(',').map(Number)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? (quick ? 1 : 3))
const CPU = process.env.BENCH_CPU !== '0'
const BASELINE = process.env.BENCH_BASELINE_DIR
const SIZES = (process.env.BENCH_SIZES_MIB ?? '1,100').split(',').map((size) => Number(size) * MiB)
const work = mkdtempSync(path.join(os.tmpdir(), 'storage-bench-'))

const key = await new jose.SignJWT({ role: 'service_role' }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime('2h').sign(new TextEncoder().encode(SECRET))
const auth = { apikey: key, authorization: `Bearer ${key}` }

interface Server {
  base: string
  pid: number
  stop(): Promise<void>
}

async function waitFor(url: string, what: string): Promise<void> {
  for (let i = 0; ; i++) {
    if (await fetch(url).then((r) => r.ok, () => false)) return
    if (i > 600) throw new Error(`${what} did not start`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    child.once('exit', () => resolve())
    child.kill('SIGTERM')
  })
}

interface Moto {
  endpoint: string
  pid: number
  /** S3 requests moto has answered so far, by kind (`PUT`, `POST ?delete`, `GET`, …), read from its request log. */
  requests: Map<string, number>
  stop(): Promise<void>
}

async function startMoto(): Promise<Moto> {
  const port = await freePort()
  const endpoint = `http://127.0.0.1:${port}`
  const child = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] })
  const requests = new Map<string, number>()
  // werkzeug logs one line per request: `… "PUT /bucket/key?uploadId=… HTTP/1.1" 200 -`.
  createInterface({ input: child.stderr! }).on('line', (line) => {
    const match = /"([A-Z]+) [^ ?]*(?:\?([A-Za-z-]+))?[^ ]* HTTP/.exec(line)
    if (!match) return
    const kind = match[2] ? `${match[1]} ?${match[2]}` : match[1]!
    requests.set(kind, (requests.get(kind) ?? 0) + 1)
  })
  await waitFor(endpoint, 'moto_server')
  await s3Client(endpoint).send(new CreateBucketCommand({ Bucket: S3_BUCKET }))
  return { endpoint, pid: child.pid!, requests, stop: () => stopChild(child) }
}

function s3Client(endpoint: string): S3Client {
  return new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials })
}

async function startServer(backend: 'file' | 's3', s3Endpoint: string | undefined, databaseUrl: string | undefined, label: string, cwd = process.cwd()): Promise<Server> {
  const port = await freePort()
  const dir = path.join(work, `server-${label}`)
  const prof = process.env.BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${path.join(process.env.BENCH_PROF, `storage-${label}`)}`] : []
  const child = spawn(process.execPath, [...prof, '--import', 'tsx', 'bin/resolution.mjs', 'serve'], {
    cwd,
    env: {
      ...process.env,
      PORT: String(port),
      JWT_SECRET: SECRET,
      RESOLUTION_DATA_DIR: path.join(dir, 'data'),
      ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
      STORAGE_DIR: path.join(dir, 'objects'),
      STORAGE_FILE_SIZE_LIMIT: String(2048 * MiB),
      ...(backend === 's3'
        ? { STORAGE_BACKEND: 's3', STORAGE_S3_BUCKET: S3_BUCKET, STORAGE_S3_ENDPOINT: s3Endpoint!, AWS_ACCESS_KEY_ID: credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey }
        : {}),
      EMBEDDED_DB_PORT: 'off',
      LOG_LEVEL: 'error',
    },
    stdio: 'ignore',
  })
  const base = `http://127.0.0.1:${port}/storage/v1`
  await waitFor(`http://127.0.0.1:${port}/health`, 'the server')
  const created = await fetch(`${base}/bucket`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'bench' }) })
  if (!created.ok) throw new Error(`bucket: ${await created.text()}`)
  return { base, pid: child.pid!, stop: () => stopChild(child) }
}

/**
 * The HTTP floor: a bare `node:http` server (a child process, as the service is) that streams a
 * POST's body to a file and a file to a GET's response — no auth, no database, no hashing. The
 * gap between it and the direct copy is what any HTTP hop costs on this machine (the client's
 * `fetch` included); the gap between it and the service is the service's own work.
 */
const FLOOR_SERVER = `
const http = require('node:http'), fs = require('node:fs'), path = require('node:path'), { pipeline } = require('node:stream')
const dir = process.argv[1]
http.createServer((req, res) => {
  const file = path.join(dir, path.basename(req.url))
  if (req.method === 'POST') pipeline(req, fs.createWriteStream(file), (error) => res.end(error ? 'error' : '{}'))
  else pipeline(fs.createReadStream(file, { highWaterMark: 1 << 20 }), res, () => undefined)
}).listen(Number(process.env.PORT), '127.0.0.1', () => console.log('ready'))
`

async function startFloor(): Promise<Server> {
  const port = await freePort()
  const dir = path.join(work, 'floor')
  mkdirSync(dir, { recursive: true })
  const child = spawn(process.execPath, ['-e', FLOOR_SERVER, dir], { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'inherit'] })
  await new Promise((resolve) => child.stdout!.once('data', resolve))
  return { base: `http://127.0.0.1:${port}`, pid: child.pid!, stop: () => stopChild(child) }
}

function floorSide(floor: Server, size: number): Side {
  const url = (i: number) => `${floor.base}/obj-${size}-${i}`
  return {
    async put(i, bytes) {
      const response = await fetchOnce(url(i), { method: 'POST', body: bytes as unknown as BodyInit })
      await response.arrayBuffer()
    },
    async get(i) {
      const response = await fetchOnce(url(i), {})
      await consume(response.body as unknown as AsyncIterable<Uint8Array>)
    },
  }
}

/** One way of moving an object's bytes: `put` stores buffer as object i, `get` reads object i fully. */
interface Side {
  put(i: number, bytes: Buffer): Promise<void>
  get(i: number): Promise<void>
}

async function consume(stream: AsyncIterable<unknown>): Promise<void> {
  for await (const _chunk of stream) {
    // consume
  }
}

/**
 * `fetch`, once more when a kept-alive socket turned out closed before anything was answered: on
 * this loaded machine the client's idle timer can fire after the server's (EPIPE/ECONNRESET).
 */
async function fetchOnce(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init)
  } catch (error) {
    const code = ((error as { cause?: { code?: string } }).cause ?? {}).code
    if (code !== 'EPIPE' && code !== 'ECONNRESET' && code !== 'UND_ERR_SOCKET') throw error
    return fetch(url, init)
  }
}

function serviceSide(server: Server, size: number): Side {
  const url = (i: number) => `${server.base}/object/bench/obj-${size}-${i}`
  return {
    async put(i, bytes) {
      const response = await fetchOnce(url(i), { method: 'POST', headers: { ...auth, 'content-type': 'application/octet-stream', 'x-upsert': 'true' }, body: bytes as unknown as BodyInit })
      if (!response.ok) throw new Error(`upload: ${response.status} ${await response.text()}`)
      await response.arrayBuffer()
    },
    async get(i) {
      const response = await fetchOnce(url(i), { headers: auth })
      if (!response.ok) throw new Error(`download: ${response.status}`)
      await consume(response.body as unknown as AsyncIterable<Uint8Array>)
    },
  }
}

function fileSide(size: number): Side {
  const dir = path.join(work, 'direct')
  mkdirSync(dir, { recursive: true })
  const file = (i: number) => path.join(dir, `obj-${size}-${i}`)
  return {
    put: (i, bytes) => fs.writeFile(file(i), bytes),
    get: (i) => consume(createReadStream(file(i), { highWaterMark: MiB })),
  }
}

function s3Side(endpoint: string, size: number): Side {
  const client = s3Client(endpoint)
  const Key = (i: number) => `direct/obj-${size}-${i}`
  return {
    async put(i, bytes) {
      // The backend's part size and parallelism (src/storage/backend/s3.ts).
      await new Upload({ client, params: { Bucket: S3_BUCKET, Key: Key(i), Body: bytes }, partSize: 8 * MiB, queueSize: 2 }).done()
    },
    async get(i) {
      const result = await client.send(new GetObjectCommand({ Bucket: S3_BUCKET, Key: Key(i) }))
      await consume(result.Body as Readable)
    },
  }
}

/** `count` operations, `concurrency` at a time; seconds taken. */
async function timed(count: number, concurrency: number, op: (i: number) => Promise<void>): Promise<number> {
  let next = 0
  const started = process.hrtime.bigint()
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) await op(next++)
    }),
  )
  return Number(process.hrtime.bigint() - started) / 1e9
}

function rate(bytes: number, secs: number): number {
  return bytes / MiB / secs
}

/** The processes a comparison watches: the server, the floor and (S3) moto, besides the bench itself. */
interface Watched {
  server: Server
  floor: Server
  moto: Moto | undefined
  /** BENCH_BASELINE_DIR's server (another checkout), measured as a fourth side. */
  baseline?: Server
}

const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS
}

type Snapshot = { cpu: Record<'client' | 'server' | 'baseline' | 'floor' | 'moto', number>; requests: Map<string, number> }

function snapshot(watched: Watched): Snapshot {
  const self = process.cpuUsage()
  return {
    cpu: {
      client: (self.user + self.system) / 1e6,
      server: cpuSeconds(watched.server.pid),
      baseline: watched.baseline ? cpuSeconds(watched.baseline.pid) : 0,
      floor: cpuSeconds(watched.floor.pid),
      moto: watched.moto ? cpuSeconds(watched.moto.pid) : 0,
    },
    requests: new Map(watched.moto?.requests ?? []),
  }
}

/** Waits until moto has logged no request for a while: work a side leaves behind its responses counts as its own. */
async function quiet(moto: Moto | undefined): Promise<void> {
  if (!moto) return
  const total = () => [...moto.requests.values()].reduce((sum, n) => sum + n, 0)
  for (let last = -1; last !== total(); ) {
    last = total()
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
}

interface Tally {
  secs: number
  cpu: Snapshot['cpu']
  requests: Map<string, number>
}

const emptyTally = (): Tally => ({ secs: 0, cpu: { client: 0, server: 0, baseline: 0, floor: 0, moto: 0 }, requests: new Map() })

/** Times one phase, adding its seconds, every process's CPU and moto's requests to `tally`. */
async function measured(tally: Tally, watched: Watched, phase: () => Promise<number>): Promise<void> {
  const before = snapshot(watched)
  tally.secs += await phase()
  await quiet(watched.moto)
  const after = snapshot(watched)
  for (const name of Object.keys(tally.cpu) as Array<keyof Snapshot['cpu']>) tally.cpu[name] += after.cpu[name] - before.cpu[name]
  for (const [kind, count] of after.requests) tally.requests.set(kind, (tally.requests.get(kind) ?? 0) + count - (before.requests.get(kind) ?? 0))
}

/** `client 2.1 server 3.4 moto 9.0` ms of CPU per MiB moved (processes that did nothing left out), and S3 requests per object. */
function costs(tally: Tally, mib: number, objects: number): string {
  const cpu = Object.entries(tally.cpu)
    .filter(([, secs]) => secs > 0.005)
    .map(([name, secs]) => `${name} ${((secs * 1000) / mib).toFixed(1)}`)
    .join(' ')
  const requests = [...tally.requests].filter(([, n]) => n > 0).map(([kind, n]) => `${kind} ${(n / objects).toFixed(2)}`).join(', ')
  return requests ? `${cpu}; S3/object: ${requests}` : cpu
}

async function compare(label: string, watched: Watched, direct: Side, size: number, concurrency: number): Promise<void> {
  const objects = size <= MiB ? (quick ? 24 : 64) : Math.max(concurrency, quick ? 2 : 4)
  const sides: Record<string, Side> = { direct, floor: floorSide(watched.floor, size), service: serviceSide(watched.server, size) }
  if (watched.baseline) sides.baseline = serviceSide(watched.baseline, size)
  const bytes = randomBytes(size)
  const names = Object.keys(sides)
  const up = Object.fromEntries(names.map((name) => [name, emptyTally()]))
  const down = Object.fromEntries(names.map((name) => [name, emptyTally()]))
  // Warm-up: every object exists on every side before anything is timed.
  for (const name of names) await timed(objects, concurrency, (i) => sides[name]!.put(i, bytes))
  await quiet(watched.moto)
  for (let round = 0; round < ROUNDS; round++) {
    for (const name of names) await measured(up[name]!, watched, () => timed(objects, concurrency, (i) => sides[name]!.put(i, bytes)))
    for (const name of names) await measured(down[name]!, watched, () => timed(objects, concurrency, (i) => sides[name]!.get(i)))
  }
  const moved = objects * size * ROUNDS
  const title = `${label} ${size / MiB} MiB ×${concurrency}`
  for (const [what, tallies] of [['upload', up], ['download', down]] as const) {
    const [d, f, v, b] = names.map((name) => rate(moved, tallies[name]!.secs))
    const baseline = b === undefined ? '' : `  baseline ${b.toFixed(0).padStart(5)} MiB/s (${(b / d!).toFixed(2)}× direct)`
    console.log(`${title.padEnd(16)} ${what.padEnd(8)}  direct ${d!.toFixed(0).padStart(5)}  http floor ${f!.toFixed(0).padStart(5)}  service ${v!.toFixed(0).padStart(5)} MiB/s  service/direct ${(v! / d!).toFixed(2)}×  service/floor ${(v! / f!).toFixed(2)}×${baseline}`)
    if (CPU) {
      for (const name of names) console.log(`${''.padEnd(26)}${name.padEnd(8)} CPU ms/MiB: ${costs(tallies[name]!, moved / MiB, objects * ROUNDS)}`)
    }
  }
}

function rssMiB(pid: number, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)![1]) / 1024
}

/** Samples the server's RSS while `transfer` runs: its peak over what it was before (kernel VmHWM too). */
async function peakRss(server: Server, transfer: () => Promise<void>): Promise<{ secs: number; idle: number; peak: number }> {
  await new Promise((resolve) => setTimeout(resolve, 500))
  const idle = rssMiB(server.pid)
  // Resets the kernel's high-water mark (VmHWM), so it measures this transfer alone.
  writeFileSync(`/proc/${server.pid}/clear_refs`, '5')
  let peak = idle
  const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(server.pid))), 20)
  const secs = await timed(1, 1, transfer)
  clearInterval(sampler)
  return { secs, idle, peak: Math.max(peak, rssMiB(server.pid, 'VmHWM')) }
}

/** Peak RSS of the server over idle while one large object streams through: up, then down. */
async function bigTransfer(label: string, server: Server): Promise<void> {
  const big = (quick ? 256 : 1024) * MiB
  const chunk = randomBytes(MiB)
  const url = `${server.base}/object/bench/big.bin`
  const up = await peakRss(server, async () => {
    let sent = 0
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= big) return controller.close()
        sent += MiB
        controller.enqueue(chunk)
      },
    })
    const headers = { ...auth, 'content-type': 'application/octet-stream', 'x-upsert': 'true', 'content-length': String(big) }
    const response = await fetch(url, { method: 'POST', headers, body, duplex: 'half' } as RequestInit)
    if (!response.ok) throw new Error(`upload big.bin: ${response.status} ${await response.text()}`)
    await response.arrayBuffer()
  })
  const down = await peakRss(server, async () => {
    const response = await fetch(url, { headers: auth })
    if (!response.ok) throw new Error(`download big.bin: ${response.status}`)
    let received = 0
    for await (const part of response.body as unknown as AsyncIterable<Uint8Array>) received += part.length
    if (received !== big) throw new Error(`download big.bin: ${received} bytes of ${big}`)
  })
  for (const [what, run] of [['upload', up], ['download', down]] as const) {
    console.log(`${label} ${what} ${big / MiB} MiB via /storage/v1: ${rate(big, run.secs).toFixed(0)} MiB/s; server RSS idle ${run.idle.toFixed(0)} MiB, peak ${run.peak.toFixed(0)} MiB (+${(run.peak - run.idle).toFixed(0)} MiB; kernel VmHWM)`)
  }
}

const cleanups: Array<() => Promise<void>> = []
async function cleanUp(): Promise<void> {
  for (const cleanup of cleanups.splice(0)) await cleanup().catch((error: unknown) => console.error(`cleanup: ${(error as Error).message}`))
  rmSync(work, { recursive: true, force: true })
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void cleanUp().finally(() => process.exit(1)))
try {
  const adminUrl = process.env.BENCH_DATABASE_URL
  console.log(`database: ${adminUrl ? 'PostgreSQL' : 'embedded (PGlite)'}; rounds ${ROUNDS}; load average ${os.loadavg().map((n) => n.toFixed(2)).join(' ')}`)
  for (const backend of BACKENDS) {
    // A scratch database per server (the embedded one lives in the server's own folder).
    const database = adminUrl ? await createServerDatabase(adminUrl, 'storage_bench') : undefined
    if (database) cleanups.push(database.drop)
    const moto = backend === 's3' ? await startMoto() : undefined
    if (moto) cleanups.unshift(moto.stop)
    const server = await startServer(backend, moto?.endpoint, database?.url, backend)
    cleanups.unshift(server.stop)
    const baselineDatabase = adminUrl && BASELINE ? await createServerDatabase(adminUrl, 'storage_bench') : undefined
    if (baselineDatabase) cleanups.push(baselineDatabase.drop)
    const baseline = BASELINE ? await startServer(backend, moto?.endpoint, baselineDatabase?.url, `${backend}-baseline`, BASELINE) : undefined
    if (baseline) cleanups.unshift(baseline.stop)
    const floor = await startFloor()
    cleanups.unshift(floor.stop)
    for (const size of SIZES) {
      for (const concurrency of CONCURRENCIES) {
        const direct = backend === 's3' ? s3Side(moto!.endpoint, size) : fileSide(size)
        await compare(backend, { server, floor, moto, baseline }, direct, size, concurrency)
      }
    }
    if (process.env.BENCH_RSS !== '0') await bigTransfer(backend, server)
    await server.stop()
    await baseline?.stop()
    await floor.stop()
    await moto?.stop()
  }
  console.log(`load average after: ${os.loadavg().map((n) => n.toFixed(2)).join(' ')}`)
} finally {
  await cleanUp()
}
