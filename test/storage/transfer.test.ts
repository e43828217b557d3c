/**
 * `storage import` / `storage export`: the bytes follow the `storage.objects` rows a restore
 * kept. From a folder laid out as `<bucket>/<name>` and from S3 (moto_server, as s3.test.ts,
 * in both layouts: Supabase's bucket-per-bucket and a mirror under a prefix); resumable
 * (right size skipped, wrong size copied again), missing and unportable names counted, never
 * written outside the folder. Checked through supabase-js downloads.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import fs from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Readable } from 'node:stream'
import { progressLine } from '../../src/cli/commands/storage-transfer.ts'
import { createFileBackend } from '../../src/storage/backend/file.ts'
import { parseRemote, putObject } from '../../src/storage/operator.ts'
import { backendSource, backendTarget, folderSource, folderTarget, s3Source } from '../../src/storage/transfer-ends.ts'
import { transferObjects } from '../../src/storage/transfer.ts'
import { describeEachDatabase } from '../support/databases.ts'
import { runBinary, startStorage, type StorageHarness } from './support.ts'

const hasMoto = spawnSync('sh', ['-c', 'command -v moto_server'], { encoding: 'utf8' }).status === 0
const credentials = { accessKeyId: 'test', secretAccessKey: 'test' }

/** Rows as `db restore` leaves them: one from an upload, one legacy row without a version. */
async function seed(h: StorageHarness, database: { query: (sql: string, params?: unknown[]) => Promise<unknown> }): Promise<void> {
  await h.service.storage.createBucket('avatars')
  await h.service.storage.createBucket('docs')
  await h.service.storage.from('avatars').upload('u1/me.png', 'png bytes', { contentType: 'image/png' })
  await h.service.storage.from('docs').upload('deep/a/b/report.pdf', 'pdf report', { contentType: 'application/pdf' })
  await database.query(`INSERT INTO storage.objects (bucket_id, name, metadata) VALUES ('docs', 'legacy.txt', '{"size": 6, "mimetype": "text/plain"}')`)
}

async function wipe(dir: string): Promise<void> {
  for (const entry of await fs.readdir(dir)) await fs.rm(path.join(dir, entry), { recursive: true, force: true })
}

async function download(h: StorageHarness, bucket: string, name: string): Promise<string | undefined> {
  const result = await h.service.storage.from(bucket).download(name)
  return result.data ? await result.data.text() : undefined
}

describe('progress line', () => {
  it('redraws one line on a terminal and stays silent on a pipe', () => {
    const written: string[] = []
    const stream = (isTTY: boolean) => ({ isTTY, write: (text: string) => written.push(text) }) as unknown as NodeJS.WriteStream
    expect(progressLine(stream(false))).toBeUndefined()
    progressLine(stream(true))!({ total: 5, copied: 2, skipped: 1, missing: 1, failed: 0, problems: [] })
    expect(written).toEqual(['\r\x1b[K4/5  copied 2  skipped 1  missing 1  failed 0'])
  })
})

describeEachDatabase('storage import and export', (ctx) => {
  let h: StorageHarness
  const exported = mkdtempSync(path.join(os.tmpdir(), 'storage-export-'))
  beforeAll(async () => {
    h = await startStorage(ctx())
    await seed(h, ctx().database)
  })
  afterAll(async () => {
    await h?.app.close()
  })

  it('exports to <bucket>/<name>, imports back into an empty backend, and resumes', async () => {
    const backend = createFileBackend(h.storageDir)
    // The legacy row's bytes only exist in the folder (as after a move from Supabase).
    await fs.mkdir(path.join(exported, 'docs'), { recursive: true })
    await fs.writeFile(path.join(exported, 'docs/legacy.txt'), 'legacy')

    const out = await transferObjects(ctx().database, backendSource(backend), folderTarget(exported))
    expect(out).toMatchObject({ total: 3, copied: 2, skipped: 1, missing: 0, failed: 0 })
    expect(await fs.readFile(path.join(exported, 'avatars/u1/me.png'), 'utf8')).toBe('png bytes')
    expect(await fs.readFile(path.join(exported, 'docs/deep/a/b/report.pdf'), 'utf8')).toBe('pdf report')

    await wipe(h.storageDir)
    expect(await download(h, 'avatars', 'u1/me.png')).toBeUndefined()
    const progress: number[] = []
    const first = await transferObjects(ctx().database, folderSource(exported), backendTarget(backend), { onProgress: (s) => progress.push(s.copied + s.skipped) })
    expect(first).toEqual({ total: 3, copied: 3, skipped: 0, missing: 0, failed: 0, problems: [] })
    expect(progress.sort()).toEqual([1, 2, 3])
    expect(await download(h, 'avatars', 'u1/me.png')).toBe('png bytes')
    expect(await download(h, 'docs', 'deep/a/b/report.pdf')).toBe('pdf report')
    expect(await download(h, 'docs', 'legacy.txt')).toBe('legacy')

    // A rerun copies nothing; a wrong-sized copy (an interrupted write) is copied again.
    expect(await transferObjects(ctx().database, folderSource(exported), backendTarget(backend))).toMatchObject({ copied: 0, skipped: 3 })
    await fs.writeFile(backend.locate(`docs/legacy.txt/`), 'leg')
    expect(await transferObjects(ctx().database, folderSource(exported), backendTarget(backend), { buckets: ['docs'] })).toMatchObject({ total: 2, copied: 1, skipped: 1 })
    expect(await download(h, 'docs', 'legacy.txt')).toBe('legacy')
  })

  it('counts missing files and unportable names, and writes nothing outside the folder', async () => {
    const backend = createFileBackend(h.storageDir)
    await h.service.storage.createBucket('odd')
    // `..` segments are legal names (as in S3); fetch would fold them out of a URL, so put it directly.
    await putObject(h.app.services, backend, parseRemote('ss:///odd/x/../../../escape.txt'), Readable.from([Buffer.from('escape')]), { contentType: 'text/plain', cacheControl: 'no-cache', upsert: false })
    await h.service.storage.from('odd').upload('absent.txt', 'only in the backend')
    const folder = mkdtempSync(path.join(os.tmpdir(), 'storage-odd-'))
    const out = await transferObjects(ctx().database, backendSource(backend), folderTarget(path.join(folder, 'inner')), { buckets: ['odd'] })
    expect(out).toMatchObject({ total: 2, copied: 1, failed: 1, problems: ['odd/x/../../../escape.txt: not a portable file path'] })
    expect(await fs.readdir(folder)).toEqual(['inner'])

    await wipe(h.storageDir)
    const back = await transferObjects(ctx().database, folderSource(path.join(folder, 'inner')), backendTarget(backend), { buckets: ['odd'] })
    expect(back).toMatchObject({ total: 2, copied: 1, missing: 0, failed: 1 })
    // A source file of another size than the row's is copied but reported.
    await fs.writeFile(path.join(folder, 'inner/odd/absent.txt'), 'short')
    await wipe(h.storageDir)
    expect(await transferObjects(ctx().database, folderSource(path.join(folder, 'inner')), backendTarget(backend), { buckets: ['odd'] })).toMatchObject({
      copied: 0,
      failed: 2,
      problems: ['odd/absent.txt: copied 5 bytes, the row says 19', 'odd/x/../../../escape.txt: not a portable file path'],
    })
    const none = await transferObjects(ctx().database, folderSource(path.join(folder, 'nothing')), backendTarget(backend), { buckets: ['docs'] })
    expect(none).toMatchObject({ total: 2, missing: 2, problems: ['docs/deep/a/b/report.pdf: not in the source', 'docs/legacy.txt: not in the source'] })
  })

  it('runs as `resolution storage export|import`', async () => {
    if (!ctx().url) return // the binary opens its own database: the server target covers it
    const folder = mkdtempSync(path.join(os.tmpdir(), 'storage-cli-export-'))
    const run = (...argv: string[]) =>
      runBinary(['storage', ...argv, '--bucket', 'avatars', '--database-url', ctx().url!], {
        env: { ...process.env, STORAGE_DIR: h.storageDir, RESOLUTION_DATA_DIR: path.join(folder, '.data'), LOG_LEVEL: 'error', JWT_SECRET: 'test-secret-with-at-least-32-characters-long' },
      })
    await transferObjects(ctx().database, folderSource(exported), backendTarget(createFileBackend(h.storageDir)))
    expect(await run('export', folder)).toMatchObject({ code: 0, stdout: 'storage export: 1 object(s): 1 copied, 0 skipped, 0 missing, 0 failed\n', stderr: '' })
    await wipe(h.storageDir)
    expect(await run('import', folder)).toMatchObject({ code: 0, stdout: 'storage import: 1 object(s): 1 copied, 0 skipped, 0 missing, 0 failed\n' })
    expect((await run('import', folder)).stdout).toBe('storage import: 1 object(s): 0 copied, 1 skipped, 0 missing, 0 failed\n')
    expect(await download(h, 'avatars', 'u1/me.png')).toBe('png bytes')
    await wipe(h.storageDir)
    const empty = await run('import', path.join(folder, 'nowhere'))
    expect(empty).toMatchObject({ code: 1, stdout: 'storage import: 1 object(s): 0 copied, 0 skipped, 1 missing, 0 failed\n' })
    expect(empty.stderr).toContain('avatars/u1/me.png: not in the source')
    expect(await run('import', folder, '--concurrency', '0')).toMatchObject({ code: 1, stderr: 'resolution: --concurrency must be a whole number from 1 to 99\n' })
  })
})

/** A port of 56600–56649 (storage2's range) free right now. */
async function freePort(): Promise<number> {
  for (let port = 56600 + Math.floor(Math.random() * 25); port < 56650; port++) {
    const free = await new Promise<boolean>((resolve) => {
      const server = net.createServer().once('error', () => resolve(false))
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
    })
    if (free) return port
  }
  throw new Error('no free port in 56600-56649')
}

describe.runIf(hasMoto)('storage import from S3 (moto)', () => {
  let moto: ChildProcess | undefined
  let endpoint = ''
  beforeAll(async () => {
    endpoint = `http://127.0.0.1:${await freePort()}`
    moto = spawn('moto_server', ['-H', '127.0.0.1', '-p', endpoint.split(':')[2]!], { stdio: 'ignore' })
    for (let i = 0; i < 100 && !(await fetch(endpoint).then((r) => r.ok, () => false)); i++) await new Promise((r) => setTimeout(r, 100))
  }, 30_000)
  afterAll(() => {
    moto?.kill()
  })

  describeEachDatabase('import', (ctx) => {
    let h: StorageHarness
    beforeAll(async () => {
      h = await startStorage(ctx())
      await seed(h, ctx().database)
      await wipe(h.storageDir)
    })
    afterAll(async () => {
      await h?.app.close()
    })

    const s3 = () => new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials })
    const put = (Bucket: string, Key: string, body: string) => s3().send(new PutObjectCommand({ Bucket, Key, Body: body }))

    it("reads Supabase's layout (one S3 bucket per storage bucket) and a mirror under a prefix", async () => {
      const tag = ctx().target
      const backend = createFileBackend(h.storageDir)
      // Supabase's layout: the S3 bucket is the storage bucket, the key is the name. Only `avatars` there.
      await s3().send(new CreateBucketCommand({ Bucket: 'avatars' })).catch(() => undefined)
      await put('avatars', 'u1/me.png', 'png bytes')
      const supabase = await s3Source({ bucket: '', prefix: '', region: 'us-east-1', endpoint, forcePathStyle: true, credentials })
      const first = await transferObjects(ctx().database, supabase, backendTarget(backend))
      expect(first).toMatchObject({ total: 3, copied: 1, missing: 2, failed: 0 })
      expect(await download(h, 'avatars', 'u1/me.png')).toBe('png bytes')

      // A mirror: one bucket, keys <prefix>/<bucket>/<name>; the import resumes with what is missing.
      await s3().send(new CreateBucketCommand({ Bucket: `mirror-${tag}` }))
      await put(`mirror-${tag}`, 'backup/2026/docs/deep/a/b/report.pdf', 'pdf report')
      await put(`mirror-${tag}`, 'backup/2026/docs/legacy.txt', 'legacy')
      const mirror = await s3Source({ bucket: `mirror-${tag}`, prefix: 'backup/2026', region: 'us-east-1', endpoint, forcePathStyle: true, credentials })
      expect(await transferObjects(ctx().database, mirror, backendTarget(backend))).toMatchObject({ total: 3, copied: 2, skipped: 1, missing: 0 })
      expect(await download(h, 'docs', 'deep/a/b/report.pdf')).toBe('pdf report')
      expect(await download(h, 'docs', 'legacy.txt')).toBe('legacy')
      supabase.close()
      mirror.close()
    })

    it('runs as `resolution storage import s3://…`', async () => {
      if (!ctx().url) return
      await wipe(h.storageDir)
      const result = await runBinary(
        ['storage', 'import', `s3://mirror-${ctx().target}/backup/2026`, '--endpoint', endpoint, '--bucket', 'docs', '--database-url', ctx().url!],
        {
          env: { ...process.env, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', NODE_NO_WARNINGS: '1', STORAGE_DIR: h.storageDir, RESOLUTION_DATA_DIR: mkdtempSync(path.join(os.tmpdir(), 'storage-s3-cli-')), LOG_LEVEL: 'error', JWT_SECRET: 'test-secret-with-at-least-32-characters-long' },
        },
      )
      expect(result.stdout).toBe('storage import: 2 object(s): 2 copied, 0 skipped, 0 missing, 0 failed\n')
      expect(result.code).toBe(0)
      expect(await download(h, 'docs', 'legacy.txt')).toBe('legacy')
    })
  })
})
