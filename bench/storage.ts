/**
 * Storage benchmark, side by side in one run: upload and download throughput of 1 MiB and
 * 100 MiB objects through `/storage/v1` (the server a child process on the embedded database,
 * the file backend) against copying the same bytes with the file system directly; then the
 * server's peak RSS over idle while a 1 GiB upload streams through.
 * Run: `node --import tsx bench/storage.ts` (`--quick`: fewer rounds, 256 MiB instead of 1 GiB).
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import * as jose from 'jose'

const quick = process.argv.includes('--quick')
const MiB = 1024 * 1024
const SECRET = 'bench-secret-with-at-least-32-characters-long'
const PORT = 56480
const base = `http://127.0.0.1:${PORT}/storage/v1`
const work = mkdtempSync(path.join(os.tmpdir(), 'storage-bench-'))

const key = await new jose.SignJWT({ role: 'service_role' }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime('2h').sign(new TextEncoder().encode(SECRET))
const auth = { apikey: key, authorization: `Bearer ${key}` }

const server = spawn(process.execPath, ['--import', 'tsx', 'bin/resolution.mjs', 'serve'], {
  env: {
    ...process.env,
    PORT: String(PORT),
    JWT_SECRET: SECRET,
    RESOLUTION_DATA_DIR: path.join(work, 'data'),
    STORAGE_DIR: path.join(work, 'objects'),
    STORAGE_FILE_SIZE_LIMIT: String(2048 * MiB),
    EMBEDDED_DB_PORT: 'off',
    LOG_LEVEL: 'error',
  },
  stdio: 'ignore',
})

function rssMiB(pid: number, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)![1]) / 1024
}

async function seconds(fn: () => Promise<void>): Promise<number> {
  const started = process.hrtime.bigint()
  await fn()
  return Number(process.hrtime.bigint() - started) / 1e9
}

function line(label: string, bytes: number, secs: number, baseline?: number): void {
  const rate = bytes / MiB / secs
  const ratio = baseline ? `  ${(rate / baseline).toFixed(2)}× of direct` : ''
  console.log(`${label.padEnd(40)} ${rate.toFixed(0).padStart(6)} MiB/s${ratio}`)
}

async function upload(name: string, body: ReadableStream<Uint8Array> | Buffer, length?: number): Promise<void> {
  const headers: Record<string, string> = { ...auth, 'content-type': 'application/octet-stream', 'x-upsert': 'true' }
  if (length !== undefined) headers['content-length'] = String(length)
  const response = await fetch(`${base}/object/bench/${name}`, { method: 'POST', headers, body, duplex: 'half' } as RequestInit)
  if (!response.ok) throw new Error(`upload ${name}: ${response.status} ${await response.text()}`)
  await response.arrayBuffer()
}

async function download(name: string): Promise<void> {
  const response = await fetch(`${base}/object/bench/${name}`, { headers: auth })
  if (!response.ok) throw new Error(`download ${name}: ${response.status}`)
  for await (const _chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    // consume
  }
}

try {
  for (let i = 0; ; i++) {
    const up = await fetch(`http://127.0.0.1:${PORT}/health`).then((r) => r.ok, () => false)
    if (up) break
    if (i > 300) throw new Error('server did not start')
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  const created = await fetch(`${base}/bucket`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'bench' }) })
  if (!created.ok) throw new Error(`bucket: ${await created.text()}`)

  for (const [size, rounds] of [[MiB, quick ? 10 : 50], [100 * MiB, quick ? 2 : 5]] as const) {
    const source = path.join(work, `source-${size}`)
    writeFileSync(source, randomBytes(size))
    const label = size === MiB ? '1 MiB' : '100 MiB'
    const direct = await seconds(async () => {
      for (let i = 0; i < rounds; i++) await pipeline(createReadStream(source), createWriteStream(path.join(work, 'copy')))
    })
    const directRead = await seconds(async () => {
      for (let i = 0; i < rounds; i++) for await (const _chunk of createReadStream(source)) { /* consume */ }
    })
    const up = await seconds(async () => {
      for (let i = 0; i < rounds; i++) await upload(`obj-${size}`, Readable.toWeb(createReadStream(source)) as ReadableStream<Uint8Array>, size)
    })
    const down = await seconds(async () => {
      for (let i = 0; i < rounds; i++) await download(`obj-${size}`)
    })
    const directRate = (size * rounds) / MiB / direct
    const directReadRate = (size * rounds) / MiB / directRead
    line(`file copy ${label} (direct, write)`, size * rounds, direct)
    line(`upload ${label} via /storage/v1`, size * rounds, up, directRate)
    line(`file read ${label} (direct)`, size * rounds, directRead)
    line(`download ${label} via /storage/v1`, size * rounds, down, directReadRate)
  }

  const big = (quick ? 256 : 1024) * MiB
  await new Promise((resolve) => setTimeout(resolve, 500))
  const idle = rssMiB(server.pid!)
  // Resets the kernel's high-water mark (VmHWM), so it measures the upload alone.
  writeFileSync(`/proc/${server.pid}/clear_refs`, '5')
  let peak = idle
  const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(server.pid!))), 20)
  let sent = 0
  const chunk = randomBytes(MiB)
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= big) return controller.close()
      sent += MiB
      controller.enqueue(chunk)
    },
  })
  const secs = await seconds(() => upload('big.bin', body, big))
  clearInterval(sampler)
  line(`upload ${big / MiB} MiB via /storage/v1`, big, secs)
  const hwm = Math.max(peak, rssMiB(server.pid!, 'VmHWM'))
  console.log(`server RSS: idle ${idle.toFixed(0)} MiB, peak during the ${big / MiB} MiB upload ${hwm.toFixed(0)} MiB (+${(hwm - idle).toFixed(0)} MiB; kernel VmHWM)`)
} finally {
  server.kill()
  rmSync(work, { recursive: true, force: true })
}
