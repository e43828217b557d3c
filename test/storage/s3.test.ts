/**
 * The S3 backend against moto's S3 server (`moto_server`, started here): moto reimplements S3's
 * REST protocol from AWS's own service models — multipart uploads, ranges, CopyObject,
 * DeleteObjects, error codes — which makes it the most faithful stand-in available offline
 * (s3rver, the npm alternative, is unmaintained and skips multipart details). The backend on its
 * own, then the storage API over it through supabase-js on both databases.
 * Skipped when `moto_server` is not installed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import http from 'node:http'
import net from 'node:net'
import { Readable } from 'node:stream'
import { text } from 'node:stream/consumers'
import { CreateBucketCommand, HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createS3Backend } from '../../src/storage/backend/s3.ts'
import { s3Key } from '../../src/storage/backend/s3-keys.ts'
import type { StorageBackend } from '../../src/storage/backend/types.ts'
import { sweepOrphans } from '../../src/storage/sweep.ts'
import { describeEachDatabase } from '../support/databases.ts'
import { startStorage, type StorageHarness } from './support.ts'

const hasMoto = spawnSync('sh', ['-c', 'command -v moto_server'], { encoding: 'utf8' }).status === 0
const credentials = { accessKeyId: 'test', secretAccessKey: 'test' }
class TooLarge extends Error {}

/** A port of 56400–56499 (this suite's range) free right now. */
async function portInRange(): Promise<number> {
  for (let port = 56400 + Math.floor(Math.random() * 50); port < 56500; port++) {
    const free = await new Promise<boolean>((resolve) => {
      const server = net.createServer().once('error', () => resolve(false))
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
    })
    if (free) return port
  }
  throw new Error('no free port in 56400-56499')
}

let moto: ChildProcess | undefined
let endpoint = ''

async function startMoto(): Promise<void> {
  const port = await portInRange()
  endpoint = `http://127.0.0.1:${port}`
  moto = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' })
  for (let i = 0; i < 100; i++) {
    const up = await fetch(endpoint).then((r) => r.ok, () => false)
    if (up) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error('moto_server did not start')
}

function client(): S3Client {
  return new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials })
}

async function createS3Bucket(name: string): Promise<void> {
  await client().send(new CreateBucketCommand({ Bucket: name }))
}

async function s3Keys(bucket: string): Promise<string[]> {
  const result = await client().send(new ListObjectsV2Command({ Bucket: bucket }))
  return (result.Contents ?? []).map((object) => object.Key!).sort()
}

interface SeenRequest {
  method: string
  url: string
  sha256: string | undefined
  crc32: string | undefined
}

/**
 * A proxy in front of moto that records what goes over the wire and lets a test decide, per
 * request, when it goes on (`hold` resolves) or whether it fails (a 503 as S3's SlowDown, every attempt).
 */
async function s3Proxy(decide: (request: SeenRequest) => { hold?: Promise<void>; fail?: boolean } = () => ({})) {
  const seen: SeenRequest[] = []
  let open = 0
  const proxy = http.createServer((request, response) => {
    open++
    response.once('close', () => open--)
    const entry = { method: request.method!, url: request.url!, sha256: request.headers['x-amz-content-sha256'] as string | undefined, crc32: request.headers['x-amz-checksum-crc32'] as string | undefined }
    seen.push(entry)
    const { hold, fail } = decide(entry)
    void (hold ?? Promise.resolve()).then(() => {
      if (fail) {
        request.resume()
        response.writeHead(503, { 'content-type': 'application/xml' }).end('<Error><Code>SlowDown</Code><Message>held by the test</Message></Error>')
        return
      }
      const forwarded = http.request(new URL(request.url!, endpoint), { method: request.method, headers: request.headers }, (answer) => {
        response.writeHead(answer.statusCode!, answer.headers)
        answer.pipe(response)
      })
      request.pipe(forwarded)
    })
  })
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
  return {
    seen,
    /** Requests whose response has not closed yet. */
    open: () => open,
    url: `http://127.0.0.1:${(proxy.address() as net.AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => {
      proxy.closeAllConnections()
      proxy.close(() => resolve())
    }),
  }
}

const isDeleteObjects = (request: SeenRequest) => request.method === 'POST' && /[?&]delete\b/.test(request.url)

describe.runIf(hasMoto)('S3 backend (moto)', () => {
  beforeAll(startMoto, 30_000)
  afterAll(() => {
    moto?.kill()
  })

  describe('backend', () => {
    let backend: StorageBackend
    beforeAll(async () => {
      await createS3Bucket('backend')
      backend = createS3Backend({ bucket: 'backend', region: 'us-east-1', endpoint, forcePathStyle: true, credentials })
    })

    it('stages, reads whole and ranged, stats, copies and removes', async () => {
      const staged = await backend.stage('b/dir/hello.txt/v1', Readable.from([Buffer.from('hello '), Buffer.from('world')]), { maxBytes: 100, tooLarge: () => new TooLarge() })
      expect(staged.size).toBe(11)
      expect(staged.etag).toBe('5eb63bbbe01eeed093cb22bb8f5acdc3')
      await staged.commit()
      expect((await backend.stat('b/dir/hello.txt/v1'))?.size).toBe(11)
      expect(await text((await backend.read('b/dir/hello.txt/v1'))!)).toBe('hello world')
      expect(await text((await backend.read('b/dir/hello.txt/v1', { start: 6, end: 10 }))!)).toBe('world')
      await backend.copy('b/dir/hello.txt/v1', 'c/ü ber/../x?y/v2')
      expect(await text((await backend.read('c/ü ber/../x?y/v2'))!)).toBe('hello world')
      await backend.remove(['b/dir/hello.txt/v1', 'c/ü ber/../x?y/v2', 'never/was/v0'])
      expect(await backend.read('b/dir/hello.txt/v1')).toBeUndefined()
      expect(await backend.stat('b/dir/hello.txt/v1')).toBeUndefined()
      expect(await s3Keys('backend')).toEqual([])
    })

    it('a multipart-sized upload streams through (3 parts) and keeps its bytes', async () => {
      const chunk = Buffer.alloc(1024 * 1024, 7)
      const body = Readable.from((function* () {
        for (let i = 0; i < 20; i++) yield chunk
      })())
      const staged = await backend.stage('b/big/v1', body, { maxBytes: 100 * 1024 * 1024, tooLarge: () => new TooLarge() })
      expect(staged.size).toBe(20 * 1024 * 1024)
      // S3's own multipart ETag, not an MD5 of the bytes the backend would have to compute.
      expect(staged.etag).toMatch(/^[0-9a-f]{32}-3$/)
      expect((await backend.stat('b/big/v1'))?.size).toBe(20 * 1024 * 1024)
      await backend.remove(['b/big/v1'])
    })

    it('copies over the threshold go part by part (UploadPartCopy), the bytes intact; under it one CopyObject', async () => {
      const MiB = 1024 * 1024
      // moto, like S3, wants parts of at least 5 MiB but the last: 12 MiB in parts of 5 is 5 + 5 + 2.
      const parted = createS3Backend({ bucket: 'backend', region: 'us-east-1', endpoint, forcePathStyle: true, credentials, copyPartThreshold: 6 * MiB, copyPartSize: 5 * MiB })
      const bytes = randomBytes(12 * MiB)
      await (await parted.stage('b/large/v1', Readable.from([bytes]), { maxBytes: 100 * MiB, tooLarge: () => new TooLarge() })).commit()
      await parted.copy('b/large/v1', 'c/large copy/v2')
      const copied = await client().send(new HeadObjectCommand({ Bucket: 'backend', Key: 'c/large copy/v2' }))
      // A multipart object's ETag ends in -<parts>.
      expect(copied.ETag).toMatch(/-3"$/)
      expect(Buffer.concat(await (await parted.read('c/large copy/v2'))!.toArray()).equals(bytes)).toBe(true)
      expect(Buffer.concat(await (await parted.read('c/large copy/v2', { start: 5 * MiB - 2, end: 5 * MiB + 1 }))!.toArray())).toEqual(bytes.subarray(5 * MiB - 2, 5 * MiB + 2))
      await (await parted.stage('b/small/v1', Readable.from([Buffer.from('small')]), { maxBytes: 100, tooLarge: () => new TooLarge() })).commit()
      await parted.copy('b/small/v1', 'c/small/v2')
      expect((await client().send(new HeadObjectCommand({ Bucket: 'backend', Key: 'c/small/v2' }))).ETag).not.toContain('-')
      await expect(parted.copy('b/never/v1', 'c/never/v2')).rejects.toThrow()
      // A copy that fails part-way (parts under S3's 5 MiB minimum: completing is refused) is
      // aborted: no multipart upload and no object left behind.
      const tooSmall = createS3Backend({ bucket: 'backend', region: 'us-east-1', endpoint, forcePathStyle: true, credentials, copyPartThreshold: 0, copyPartSize: MiB })
      await expect(tooSmall.copy('b/large/v1', 'c/failed/v2')).rejects.toThrow()
      expect((await client().send(new ListMultipartUploadsCommand({ Bucket: 'backend' }))).Uploads ?? []).toEqual([])
      await parted.remove(['b/large/v1', 'c/large copy/v2', 'b/small/v1', 'c/small/v2'])
      expect(await s3Keys('backend')).toEqual([])
    })

    it('past the limit, or with the body cut off, nothing is left in S3', async () => {
      const big = Readable.from((function* () {
        for (let i = 0; i < 10; i++) yield Buffer.alloc(1000, 1)
      })())
      await expect(backend.stage('b/over/v1', big, { maxBytes: 4096, tooLarge: () => new TooLarge() })).rejects.toBeInstanceOf(TooLarge)
      const cut = new Readable({ read() {} })
      cut.push(Buffer.alloc(5000, 2))
      setTimeout(() => cut.destroy(new Error('client went away')), 20)
      await expect(backend.stage('b/cut/v1', cut, { maxBytes: 1e9, tooLarge: () => new TooLarge() })).rejects.toThrow('client went away')
      const discarded = await backend.stage('b/discard/v1', Readable.from([Buffer.from('x')]), { maxBytes: 10, tooLarge: () => new TooLarge() })
      await discarded.discard()
      expect(await s3Keys('backend')).toEqual([])
    })

    it('parts are sent with a CRC32 checksum but signed without hashing their bytes (UNSIGNED-PAYLOAD)', async () => {
      // What the backend puts on the wire.
      const proxy = await s3Proxy()
      const seen = proxy.seen
      try {
        const viaProxy = createS3Backend({ bucket: 'backend', region: 'us-east-1', endpoint: proxy.url, forcePathStyle: true, credentials })
        const bytes = randomBytes(1024 * 1024)
        const staged = await viaProxy.stage('b/wire/v1', Readable.from([bytes]), { maxBytes: 2 * 1024 * 1024, tooLarge: () => new TooLarge() })
        expect(staged.etag).toBe(createHash('md5').update(bytes).digest('hex'))
        const puts = seen.filter((request) => request.method === 'PUT')
        expect(puts).toHaveLength(1)
        expect(puts[0]).toMatchObject({ sha256: 'UNSIGNED-PAYLOAD', crc32: expect.stringMatching(/^[A-Za-z0-9+/]{6}==$/) })
        await viaProxy.remove(['b/wire/v1'])
      } finally {
        await proxy.close()
      }
    })

    it('keys past S3\'s 1024 bytes are hashed, and still distinct', () => {
      const long = `b/${'x'.repeat(1030)}/v1`
      expect(Buffer.byteLength(s3Key(long))).toBeLessThanOrEqual(1024)
      expect(s3Key(long)).not.toBe(s3Key(`b/${'x'.repeat(1031)}/v1`))
      expect(s3Key('b/short/v1')).toBe('b/short/v1')
    })
  })

  describeEachDatabase('storage API over S3', (ctx) => {
    let h: StorageHarness
    beforeAll(async () => {
      await createS3Bucket(`api-${ctx().target}`)
      // The backend takes credentials from the SDK's default chain, as in AWS.
      process.env.AWS_ACCESS_KEY_ID = 'test'
      process.env.AWS_SECRET_ACCESS_KEY = 'test'
      h = await startStorage(ctx(), { STORAGE_BACKEND: 's3', STORAGE_S3_BUCKET: `api-${ctx().target}`, STORAGE_S3_ENDPOINT: endpoint })
      await h.service.storage.createBucket('docs')
      await h.service.storage.createBucket('other')
    })
    afterAll(async () => {
      await h?.app.close()
    })

    it('upload, download with a range, upsert, move, copy, signed URL and remove, with S3 holding exactly the live versions', async () => {
      const files = h.service.storage.from('docs')
      expect((await files.upload('a/one.txt', Buffer.from('0123456789'), { contentType: 'text/plain' })).error).toBeNull()
      expect((await files.upload('blob.json', new Blob(['{"b":2}'], { type: 'application/json' }))).error).toBeNull()
      const ranged = await h.fetch('/object/docs/a/one.txt', { headers: { range: 'bytes=3-5' } })
      expect(ranged.status).toBe(206)
      expect(await ranged.text()).toBe('345')
      expect((await files.upload('a/one.txt', 'replaced', { upsert: true })).error).toBeNull()
      expect(await (await files.download('a/one.txt')).data?.text()).toBe('replaced')
      expect((await files.move('a/one.txt', 'moved.txt', { destinationBucket: 'other' })).error).toBeNull()
      expect((await h.service.storage.from('other').copy('moved.txt', 'copy.txt', { destinationBucket: 'docs' })).error).toBeNull()
      const signed = await files.createSignedUrl('copy.txt', 60)
      expect(await (await fetch(signed.data!.signedUrl)).text()).toBe('replaced')
      expect((await files.remove(['blob.json'])).data).toHaveLength(1)
      // The upsert's replaced version goes after its response.
      await h.app.services.background.idle()

      const rows = await ctx().database.query<{ bucket_id: string; name: string; version: string }>('SELECT bucket_id, name, version FROM storage.objects ORDER BY 1, 2')
      expect(rows.rows.map((r) => `${r.bucket_id}/${r.name}`)).toEqual(['docs/copy.txt', 'other/moved.txt'])
      expect(await s3Keys(`api-${ctx().target}`)).toEqual(rows.rows.map((r) => `${r.bucket_id}/${r.name}/${r.version}`).sort())
    })

    it('the sweep removes S3 objects no row points at, and keeps the live ones', async () => {
      const bucket = `api-${ctx().target}`
      const backend = createS3Backend({ bucket, region: 'us-east-1', endpoint, forcePathStyle: true, credentials })
      const orphan = await backend.stage('docs/lost.txt/00000000-0000-0000-0000-00000000dead', Readable.from([Buffer.from('lost')]), { maxBytes: 100, tooLarge: () => new TooLarge() })
      await orphan.commit()
      const live = (await s3Keys(bucket)).filter((key) => !key.startsWith('docs/lost.txt/'))
      // Everything is seconds old: a grace period of an hour keeps it all.
      expect((await sweepOrphans(ctx().database, backend, { olderThanMs: 3600_000 })).removed).toBe(0)
      const report = await sweepOrphans(ctx().database, backend, { olderThanMs: 0, now: Date.now() + 5000 })
      expect(report).toEqual({ stored: live.length + 1, orphans: 1, removed: 1 })
      expect(await s3Keys(bucket)).toEqual(live)
    })

    it('an oversized upload is refused (413) and leaves nothing in S3', async () => {
      await h.service.storage.createBucket('small', { public: false, fileSizeLimit: 100 })
      const before = await s3Keys(`api-${ctx().target}`)
      const big = await h.service.storage.from('small').upload('big.bin', new Blob([Buffer.alloc(5000)]))
      expect((big.error as unknown as { statusCode: string }).statusCode).toBe('413')
      expect(await s3Keys(`api-${ctx().target}`)).toEqual(before)
    })

    it('an image transformation reads its source from S3', async () => {
      const photo = await sharp({ create: { width: 300, height: 200, channels: 3, background: '#369' } }).jpeg().toBuffer()
      expect((await h.service.storage.from('docs').upload('photo.jpg', photo, { contentType: 'image/jpeg' })).error).toBeNull()
      const { data, error } = await h.service.storage.from('docs').download('photo.jpg', { transform: { width: 150, resize: 'contain' } })
      expect(error).toBeNull()
      expect(await sharp(Buffer.from(await data!.arrayBuffer())).metadata()).toMatchObject({ format: 'jpeg', width: 150, height: 100 })
    })
  })

  describeEachDatabase('S3 behind a proxy: replaced versions removed after the response, abandoned downloads', (ctx) => {
    const bucket = () => `replaced-${ctx().target}`
    let h: StorageHarness
    let proxy: Awaited<ReturnType<typeof s3Proxy>>
    /** Set by a test: DeleteObjects waits for it (`hold`) or fails (`failing`). */
    let hold: Promise<void> | undefined
    let failing = false
    beforeAll(async () => {
      await createS3Bucket(bucket())
      process.env.AWS_ACCESS_KEY_ID = 'test'
      process.env.AWS_SECRET_ACCESS_KEY = 'test'
      proxy = await s3Proxy((request) => (isDeleteObjects(request) ? { hold, fail: failing } : {}))
      h = await startStorage(ctx(), { STORAGE_BACKEND: 's3', STORAGE_S3_BUCKET: bucket(), STORAGE_S3_ENDPOINT: proxy.url })
      await h.service.storage.createBucket('docs')
    })
    afterAll(async () => {
      await h?.app.close()
      await proxy?.close()
    })

    const versionsOf = async (name: string) => (await s3Keys(bucket())).filter((key) => key.startsWith(`docs/${name}/`))
    const liveKey = async (name: string) => {
      const row = await ctx().database.query<{ version: string }>("SELECT version FROM storage.objects WHERE bucket_id = 'docs' AND name = $1", [name])
      return `docs/${name}/${row.rows[0]!.version}`
    }
    const held = () => {
      let release!: () => void
      hold = new Promise<void>((resolve) => (release = resolve))
      return () => {
        hold = undefined
        release()
      }
    }

    it('an upsert answers while the replaced version is still being removed; the removal then finishes', async () => {
      const files = h.service.storage.from('docs')
      expect((await files.upload('a.txt', 'one')).error).toBeNull()
      const release = held()
      // Without deferral this upsert would wait for the held DeleteObjects: it must answer first.
      const answered = await Promise.race([files.upload('a.txt', 'two', { upsert: true }), new Promise((resolve) => setTimeout(() => resolve('still waiting'), 10_000))])
      expect(answered).toMatchObject({ error: null })
      expect(await (await files.download('a.txt')).data?.text()).toBe('two')
      expect(await versionsOf('a.txt')).toHaveLength(2)
      expect(h.app.services.background.pending).toBe(1)
      release()
      await h.app.services.background.idle()
      expect(await versionsOf('a.txt')).toEqual([await liveKey('a.txt')])
    })

    it('concurrent upserts share DeleteObjects requests (keys queued during one removal go in the next)', async () => {
      const files = h.service.storage.from('docs')
      for (const name of ['c1', 'c2', 'c3', 'c4']) expect((await files.upload(name, 'one')).error).toBeNull()
      const release = held()
      const before = proxy.seen.filter(isDeleteObjects).length
      for (const name of ['c1', 'c2', 'c3', 'c4']) expect((await files.upload(name, 'two', { upsert: true })).error).toBeNull()
      release()
      await h.app.services.background.idle()
      // The first removal ran alone (held); the three queued meanwhile went in one request.
      expect(proxy.seen.filter(isDeleteObjects).length - before).toBe(2)
      for (const name of ['c1', 'c2', 'c3', 'c4']) expect(await versionsOf(name)).toEqual([await liveKey(name)])
    })

    it('a removal that fails leaves an orphan, which the sweep removes (the live version stays)', async () => {
      const files = h.service.storage.from('docs')
      expect((await files.upload('f.txt', 'one')).error).toBeNull()
      failing = true
      try {
        expect((await files.upload('f.txt', 'two', { upsert: true })).error).toBeNull()
        await h.app.services.background.idle()
      } finally {
        failing = false
      }
      expect(await versionsOf('f.txt')).toHaveLength(2)
      const backend = createS3Backend({ bucket: bucket(), region: 'us-east-1', endpoint, forcePathStyle: true, credentials })
      const report = await sweepOrphans(ctx().database, backend, { olderThanMs: 0, now: Date.now() + 5000 })
      expect(report.removed).toBe(1)
      expect(await versionsOf('f.txt')).toEqual([await liveKey('f.txt')])
      expect(await (await files.download('f.txt')).data?.text()).toBe('two')
    })

    it('a download the client abandons midway ends its S3 request (no socket left behind)', async () => {
      const files = h.service.storage.from('docs')
      expect((await files.upload('big.bin', new Blob([randomBytes(16 * 1024 * 1024)]))).error).toBeNull()
      await h.app.services.background.idle()
      expect(proxy.open()).toBe(0)
      const controller = new AbortController()
      const response = await h.fetch('/object/docs/big.bin', { signal: controller.signal })
      const reader = response.body!.getReader()
      expect((await reader.read()).done).toBe(false)
      expect(proxy.open()).toBe(1)
      controller.abort()
      for (let i = 0; i < 100 && proxy.open() > 0; i++) await new Promise((resolve) => setTimeout(resolve, 50))
      expect(proxy.open()).toBe(0)
      // And the next download is whole.
      const again = await h.fetch('/object/docs/big.bin')
      expect((await again.arrayBuffer()).byteLength).toBe(16 * 1024 * 1024)
    })

    it('a shutdown waits for a removal still pending', async () => {
      const files = h.service.storage.from('docs')
      expect((await files.upload('s.txt', 'one')).error).toBeNull()
      const release = held()
      expect((await files.upload('s.txt', 'two', { upsert: true })).error).toBeNull()
      const live = await liveKey('s.txt')
      setTimeout(release, 1500)
      const started = Date.now()
      await h.app.close()
      expect(Date.now() - started).toBeGreaterThanOrEqual(1400)
      expect(await versionsOf('s.txt')).toEqual([live])
    })
  })
})
