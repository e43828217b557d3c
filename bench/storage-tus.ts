/**
 * Resumable (tus) upload throughput beside a plain upload of the same bytes, alternating rounds in
 * one run: a 100 MiB object through `/storage/v1/object` (one streamed POST) and through
 * `/storage/v1/upload/resumable` with tus-js-client in 6 MiB chunks (Supabase's recommendation),
 * the server a child process on the embedded database with the file backend; then the server's
 * peak RSS over idle.
 * Run: `node --import tsx bench/storage-tus.ts` (`--quick`: 2 rounds instead of 4; `BENCH_ONLY=tus|plain`: one kind).
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import * as jose from 'jose'
import * as tus from 'tus-js-client'
import { freePort } from '../test/support/ports.ts'

const quick = process.argv.includes('--quick')
const MiB = 1024 * 1024
const SIZE = 100 * MiB
const SECRET = 'bench-secret-with-at-least-32-characters-long'
const PORT = await freePort()
const base = `http://127.0.0.1:${PORT}/storage/v1`
const work = mkdtempSync(path.join(os.tmpdir(), 'storage-tus-bench-'))
const key = await new jose.SignJWT({ role: 'service_role' }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime('2h').sign(new TextEncoder().encode(SECRET))
const auth = { apikey: key, authorization: `Bearer ${key}` }

const server = spawn(process.execPath, ['--import', 'tsx', 'bin/resolution.mjs', 'serve'], {
  env: { ...process.env, PORT: String(PORT), JWT_SECRET: SECRET, RESOLUTION_DATA_DIR: path.join(work, 'data'), STORAGE_DIR: path.join(work, 'objects'), STORAGE_FILE_SIZE_LIMIT: String(1024 * MiB), EMBEDDED_DB_PORT: 'off', LOG_LEVEL: 'error' },
  stdio: 'ignore',
})

function rssMiB(field: 'VmRSS' | 'VmHWM'): number {
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${server.pid}/status`, 'utf8'))![1]) / 1024
}

async function seconds(fn: () => Promise<void>): Promise<number> {
  const started = process.hrtime.bigint()
  await fn()
  return Number(process.hrtime.bigint() - started) / 1e9
}

async function plainUpload(bytes: Buffer): Promise<void> {
  const response = await fetch(`${base}/object/bench/plain.bin`, { method: 'POST', headers: { ...auth, 'content-type': 'application/octet-stream', 'x-upsert': 'true' }, body: new Uint8Array(bytes) })
  if (!response.ok) throw new Error(`plain upload: ${response.status} ${await response.text()}`)
}

function tusUpload(bytes: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    new tus.Upload(bytes, {
      endpoint: `${base}/upload/resumable`,
      headers: { ...auth, 'x-upsert': 'true' },
      uploadDataDuringCreation: true,
      removeFingerprintOnSuccess: true,
      metadata: { bucketName: 'bench', objectName: 'tus.bin', contentType: 'application/octet-stream' },
      chunkSize: 6 * MiB,
      retryDelays: [],
      onSuccess: () => resolve(),
      onError: reject,
    }).start()
  })
}

try {
  for (let i = 0; !(await fetch(`http://127.0.0.1:${PORT}/health`).then((r) => r.ok, () => false)); i++) {
    if (i > 300) throw new Error('server did not start')
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  const created = await fetch(`${base}/bucket`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ id: 'bench', name: 'bench' }) })
  if (!created.ok) throw new Error(`bucket: ${created.status}`)
  const bytes = randomBytes(SIZE)
  const idle = rssMiB('VmRSS')
  const peakBefore = rssMiB('VmHWM') // start-up (the embedded database's bootstrap) sets a peak of its own
  const plain: number[] = []
  const resumable: number[] = []
  // BENCH_ONLY=tus|plain runs one kind, to read the server's peak RSS for it alone.
  const only = process.env.BENCH_ONLY
  for (let round = 0; round < (quick ? 2 : 4); round++) {
    if (only !== 'tus') plain.push(SIZE / MiB / (await seconds(() => plainUpload(bytes))))
    if (only !== 'plain') resumable.push(SIZE / MiB / (await seconds(() => tusUpload(bytes))))
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN
  console.log(`load average: ${os.loadavg().map((v) => v.toFixed(2)).join(' ')}`)
  console.log(`plain POST, 100 MiB        ${plain.map((v) => v.toFixed(0)).join(' / ')} MiB/s (median ${median(plain).toFixed(0)})`)
  console.log(`tus, 6 MiB chunks, 100 MiB ${resumable.map((v) => v.toFixed(0)).join(' / ')} MiB/s (median ${median(resumable).toFixed(0)}, ${(median(resumable) / median(plain)).toFixed(2)}× of plain)`)
  console.log(`server RSS: idle ${idle.toFixed(0)} MiB; peak ${peakBefore.toFixed(0)} MiB before the rounds (start-up), ${rssMiB('VmHWM').toFixed(0)} MiB after; now ${rssMiB('VmRSS').toFixed(0)} MiB`)
} finally {
  server.kill('SIGTERM')
  rmSync(work, { recursive: true, force: true })
}
