/**
 * Image transformation benchmark: CPU per rendered image through `/storage/v1/render/image/…`
 * against the same sharp pipeline run directly in this process on the same bytes (what the
 * service adds: auth, the row lookup, reading the source from the backend, HTTP), in alternating
 * rounds; then the server's peak RSS over idle while it renders a 49-megapixel source, one at a
 * time and `BENCH_PARALLEL` at once (memory stays bounded by the source limits, not the image).
 *
 * A third figure is the server's CPU for downloading the same source untransformed: the part of
 * the service's cost that is not the image work.
 * CPU is user + system of the server process (/proc, every thread: libvips works on libuv's) and
 * of this process for the direct side — not wall-clock, which the shared machine makes noisy.
 * The sources are smooth noise (JPEG q85), closer to photos than flat colour: 12 MP (4000×3000)
 * and 49 MP (7000×7000), and a 49 MP PNG of flat blocks (PNG has no reduced-scale decoding,
 * so it is the heavier case for memory). The server is `resolution serve` on the embedded database, file backend.
 *
 *   node --import tsx bench/storage-transform.ts
 *   BENCH_ROUNDS=3 BENCH_IMAGES=8 BENCH_PARALLEL=4 node --import tsx bench/storage-transform.ts
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import * as jose from 'jose'
import sharp from 'sharp'
import { processCpuMs } from './lib/auth-fixture.ts'
import { freePort } from '../test/support/ports.ts'

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const IMAGES = Number(process.env.BENCH_IMAGES ?? 8)
const PARALLEL = Number(process.env.BENCH_PARALLEL ?? 4)
const SECRET = 'bench-secret-with-at-least-32-characters!!'
// As the service runs it (image-render.ts): no libvips operation cache, or repeats would be free.
sharp.cache(false)
const work = mkdtempSync(path.join(os.tmpdir(), 'bench-transform-'))

/** Smooth noise: random pixels at 1/16 size, scaled up (a photo-like JPEG, not a flat one). */
async function photo(width: number, height: number): Promise<Buffer> {
  const small = { width: Math.ceil(width / 16), height: Math.ceil(height / 16), channels: 3 as const }
  return sharp(randomBytes(small.width * small.height * 3), { raw: small }).resize(width, height, { fit: 'fill' }).jpeg({ quality: 85 }).toBuffer()
}

/** Flat 64-pixel blocks as PNG: compresses under the 25 MB limit, and PNG (unlike JPEG) cannot be decoded at a reduced scale. */
async function blocks(width: number, height: number): Promise<Buffer> {
  const small = { width: Math.ceil(width / 64), height: Math.ceil(height / 64), channels: 3 as const }
  return sharp(randomBytes(small.width * small.height * 3), { raw: small }).resize(width, height, { fit: 'fill', kernel: 'nearest' }).png().toBuffer()
}

function rssMiB(pid: number, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): number {
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024
}

async function waitFor(url: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await fetch(url).then((r) => r.ok, () => false)) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`${url} did not answer`)
}

async function main(): Promise<void> {
  const port = await freePort()
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'bin/resolution.mjs', 'serve'], {
    env: { ...process.env, PORT: String(port), JWT_SECRET: SECRET, RESOLUTION_DATA_DIR: path.join(work, 'data'), STORAGE_DIR: path.join(work, 'objects'), EMBEDDED_DB_PORT: 'off', LOG_LEVEL: 'error' },
    stdio: 'ignore',
  })
  try {
    await waitFor(`http://127.0.0.1:${port}/health`)
    const key = await new jose.SignJWT({ role: 'service_role' }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().sign(new TextEncoder().encode(SECRET))
    const auth = { apikey: key, authorization: `Bearer ${key}` }
    const base = `http://127.0.0.1:${port}/storage/v1`
    const created = await fetch(`${base}/bucket`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'bench' }) })
    if (!created.ok) throw new Error(`bucket: ${await created.text()}`)
    const sources = { '12mp.jpg': await photo(4000, 3000), '49mp.jpg': await photo(7000, 7000), '49mp.png': await blocks(7000, 7000) }
    for (const [name, bytes] of Object.entries(sources)) {
      const up = await fetch(`${base}/object/bench/${name}`, { method: 'POST', headers: { ...auth, 'content-type': `image/${name.endsWith('.png') ? 'png' : 'jpeg'}` }, body: new Uint8Array(bytes) })
      if (!up.ok) throw new Error(`upload ${name}: ${await up.text()}`)
    }
    console.log(`sources: ${Object.entries(sources).map(([name, bytes]) => `${name} ${(bytes.length / 1e6).toFixed(1)} MB`).join(', ')}; ${os.cpus().length} cores, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`)

    const render = async (name: string, accept: string) => {
      const response = await fetch(`${base}/render/image/authenticated/bench/${name}?width=400&height=300`, { headers: { ...auth, accept } })
      if (!response.ok) throw new Error(`render ${name}: ${response.status} ${await response.text()}`)
      return Buffer.from(await response.arrayBuffer())
    }
    // The service's pipeline (image-render.ts), run here on the same bytes.
    const direct = (bytes: Buffer, format: 'jpeg' | 'webp') =>
      sharp(bytes, { limitInputPixels: 50_000_000, failOn: 'error' }).rotate().resize({ width: 400, height: 300, fit: 'cover', withoutEnlargement: true }).toFormat(format).toBuffer()

    for (const [format, accept] of [['jpeg', '*/*'], ['webp', 'image/webp,*/*']] as const) {
      await render('12mp.jpg', accept) // warm-up: sharp loaded, first request paid
      await direct(sources['12mp.jpg'], format)
      const cpu = { direct: 0, service: 0, download: 0 }
      for (let round = 0; round < ROUNDS; round++) {
        const before = process.cpuUsage()
        for (let i = 0; i < IMAGES; i++) await direct(sources['12mp.jpg'], format)
        const used = process.cpuUsage(before)
        cpu.direct += (used.user + used.system) / 1000
        const serverBefore = processCpuMs(child.pid!)
        for (let i = 0; i < IMAGES; i++) await render('12mp.jpg', accept)
        cpu.service += processCpuMs(child.pid!) - serverBefore
        // The floor: the same object downloaded untransformed (auth, lookup, read, HTTP).
        const downloadBefore = processCpuMs(child.pid!)
        for (let i = 0; i < IMAGES; i++) await (await fetch(`${base}/object/authenticated/bench/12mp.jpg`, { headers: auth })).arrayBuffer()
        cpu.download += processCpuMs(child.pid!) - downloadBefore
      }
      const n = ROUNDS * IMAGES
      console.log(`12 MP → 400×300 ${format.padEnd(4)}  CPU per image: direct sharp ${(cpu.direct / n).toFixed(0)} ms, service (server process) ${(cpu.service / n).toFixed(0)} ms, service/direct ${(cpu.service / cpu.direct).toFixed(2)}×; plain download of the source ${(cpu.download / n).toFixed(0)} ms  (${n} images per side, ${ROUNDS} alternating rounds)`)
    }

    for (const name of ['49mp.jpg', '49mp.png']) {
      for (const parallel of [1, PARALLEL]) {
        await new Promise((resolve) => setTimeout(resolve, 300))
        const idle = rssMiB(child.pid!)
        writeFileSync(`/proc/${child.pid}/clear_refs`, '5') // resets VmHWM: the peak of this step alone
        await Promise.all(Array.from({ length: parallel }, () => render(name, '*/*')))
        const peak = rssMiB(child.pid!, 'VmHWM')
        console.log(`${name} (49 MP) → 400×300, ${parallel} at once: server RSS idle ${idle.toFixed(0)} MiB, peak ${peak.toFixed(0)} MiB (+${(peak - idle).toFixed(0)} MiB; kernel VmHWM)`)
      }
    }
  } finally {
    child.kill('SIGTERM')
    rmSync(work, { recursive: true, force: true })
  }
}

await main()
