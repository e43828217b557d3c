/**
 * Resumable (tus) uploads at /storage/v1/upload/resumable, driven by tus-js-client as Supabase's
 * docs configure it, on both databases and both backends (the file system; S3 on moto_server,
 * skipped when it is not installed): multi-chunk uploads, resume after an abort, RLS at creation
 * and on every PATCH, conflicts and upsert, limits, forged tokens, hostile names, HEAD after the end.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { CreateBucketCommand, CreateMultipartUploadCommand, ListMultipartUploadsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3'
import { Upload } from '@tus/server'
import * as jose from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createBackend } from '../../src/storage/backend/index.ts'
import { fileTusStore } from '../../src/storage/tus/file-store.ts'
import { s3TusStore } from '../../src/storage/tus/s3-store.ts'
import { describeEachDatabase } from '../support/databases.ts'
import { ALICE, BOB, POLICIES, type StorageHarness } from './support.ts'
import { describeOnMoto, MiB, randomFile, startTusStorage, storedLocations, tusFailure, tusUpload, type TusOptions } from './tus-support.ts'

let motoEndpoint = ''

function suite(kind: 'file' | 's3') {
  describeEachDatabase(`resumable uploads (${kind})`, (ctx) => {
    let h: StorageHarness
    const tokens: Record<string, string> = {}
    beforeAll(async () => {
      h = await startTusStorage(ctx(), kind, motoEndpoint)
      await ctx().database.exec(POLICIES)
      const now = Math.floor(Date.now() / 1000)
      for (const [who, sub] of [['alice', ALICE], ['bob', BOB]]) {
        tokens[who] = await h.app.services.jwt.sign({ sub, role: 'authenticated', aud: 'authenticated', iat: now, exp: now + 3600 })
      }
      tokens.anon = h.app.anonKey
      tokens.service = h.app.serviceRoleKey
      expect((await h.service.storage.createBucket('private')).error).toBeNull()
      expect((await h.service.storage.createBucket('small', { public: false, fileSizeLimit: 1000, allowedMimeTypes: ['image/*'] })).error).toBeNull()
    }, 60_000)
    afterAll(async () => {
      await h?.app.close()
    })

    const options = (who: string, bucket: string, name: string, more: Partial<TusOptions> = {}): TusOptions => ({
      endpoint: `${h.app.url}/storage/v1/upload/resumable`,
      token: tokens[who]!,
      apikey: h.app.anonKey,
      bucket,
      name,
      ...more,
    })

    const stored = () => storedLocations(h)

    async function download(bucket: string, name: string): Promise<Buffer> {
      const response = await h.fetch(`/object/${bucket}/${name.split('/').map(encodeURIComponent).join('/')}`)
      expect(response.status).toBe(200)
      return Buffer.from(await response.arrayBuffer())
    }

    async function row(bucket: string, name: string) {
      const result = await ctx().database.query<{ owner_id: string; version: string; metadata: Record<string, unknown>; user_metadata: unknown }>(
        'SELECT owner_id, version, metadata, user_metadata FROM storage.objects WHERE bucket_id = $1 AND name = $2',
        [bucket, name],
      )
      return result.rows[0]
    }

    it('a multi-chunk upload: bytes, row (owner from the JWT, type, cache, metadata), only the versioned key left', async () => {
      const bytes = randomFile(13 * MiB + 123)
      const patches: Array<string | undefined> = []
      const before = await stored()
      const outcome = await tusUpload(bytes, options('alice', 'private', `${ALICE}/big.bin`, { metadata: { purpose: 'test' }, onPatch: (offset) => patches.push(offset) }))
      expect(outcome.status).toBe('done')
      // Data during creation took the first 6 MiB; two PATCHes the rest.
      expect(patches).toEqual([String(6 * MiB), String(12 * MiB)])
      expect((await download('private', `${ALICE}/big.bin`)).equals(bytes)).toBe(true)
      const object = await row('private', `${ALICE}/big.bin`)
      expect(object).toMatchObject({ owner_id: ALICE, user_metadata: { purpose: 'test' } })
      expect(object!.metadata).toMatchObject({ size: bytes.length, mimetype: 'application/octet-stream', cacheControl: 'max-age=3600' })
      const backend = createBackend(h.app.services.config.storage)
      expect(await stored()).toEqual([...before, backend.locate(`private/${ALICE}/big.bin/${object!.version}`)].sort())
      // The upload URL is spent: HEAD after completion finds nothing.
      const head = await fetch(outcome.url!, { method: 'HEAD', headers: { 'tus-resumable': '1.0.0', authorization: `Bearer ${tokens.alice}`, apikey: h.app.anonKey } })
      expect(head.status).toBe(404)
    }, 120_000)

    it('resumes an interrupted upload from its offset with a new client', async () => {
      const bytes = randomFile(13 * MiB)
      const first = await tusUpload(bytes, options('alice', 'private', `${ALICE}/resumed.bin`, { stopAfterChunk: (accepted) => accepted >= 6 * MiB }))
      expect(first.status).toBe('stopped')
      const head = await fetch(first.url!, { method: 'HEAD', headers: { 'tus-resumable': '1.0.0', authorization: `Bearer ${tokens.alice}`, apikey: h.app.anonKey } })
      expect(head.status).toBe(200)
      const offset = Number(head.headers.get('upload-offset'))
      expect(offset).toBeGreaterThanOrEqual(6 * MiB)
      expect(head.headers.get('upload-length')).toBe(String(bytes.length))
      expect(await row('private', `${ALICE}/resumed.bin`)).toBeUndefined()
      const patches: Array<string | undefined> = []
      const second = await tusUpload(bytes, options('alice', 'private', `${ALICE}/resumed.bin`, { uploadUrl: first.url!, onPatch: (o) => patches.push(o) }))
      expect(second.status).toBe('done')
      expect(patches[0]).toBe(String(offset))
      expect((await download('private', `${ALICE}/resumed.bin`)).equals(bytes)).toBe(true)
    }, 120_000)

    it('a PATCH killed mid-way: HEAD tells what was kept, a new client resumes from there', async () => {
      const bytes = randomFile(9 * MiB)
      const started = await tusUpload(bytes, options('alice', 'private', `${ALICE}/killed.bin`, { stopAfterChunk: () => true }))
      const head = async () => {
        const response = await fetch(started.url!, { method: 'HEAD', headers: { 'tus-resumable': '1.0.0', authorization: `Bearer ${tokens.alice}`, apikey: h.app.anonKey } })
        expect(response.status).toBe(200)
        return Number(response.headers.get('upload-offset'))
      }
      expect(await head()).toBe(6 * MiB)
      // Send 2 of the remaining 3 MiB, then drop the connection.
      await new Promise<void>((resolve) => {
        const url = new URL(started.url!)
        const req = http.request({ host: url.hostname, port: url.port, path: url.pathname, method: 'PATCH', headers: { 'tus-resumable': '1.0.0', 'content-type': 'application/offset+octet-stream', 'upload-offset': String(6 * MiB), 'content-length': String(3 * MiB), authorization: `Bearer ${tokens.alice}`, apikey: h.app.anonKey } })
        req.on('error', () => resolve())
        req.write(bytes.subarray(6 * MiB, 8 * MiB), () => setTimeout(() => req.destroy(), 300))
        req.on('close', () => resolve())
      })
      await new Promise((resolve) => setTimeout(resolve, 500))
      const kept = await head()
      expect(kept).toBeGreaterThanOrEqual(6 * MiB)
      expect(kept).toBeLessThanOrEqual(8 * MiB)
      expect(await row('private', `${ALICE}/killed.bin`)).toBeUndefined()
      const patches: Array<string | undefined> = []
      expect((await tusUpload(bytes, options('alice', 'private', `${ALICE}/killed.bin`, { uploadUrl: started.url!, onPatch: (o) => patches.push(o) }))).status).toBe('done')
      expect(patches[0]).toBe(String(kept))
      expect((await download('private', `${ALICE}/killed.bin`)).equals(bytes)).toBe(true)
    }, 60_000)

    it('RLS refuses anon and another user at creation: no bytes, no row', async () => {
      const before = await stored()
      for (const who of ['anon', 'bob']) {
        const failure = await tusFailure(tusUpload(randomFile(1000), options(who, 'private', `${ALICE}/not-yours-${who}.bin`)))
        expect(failure).toEqual({ status: 403, body: 'new row violates row-level security policy' })
      }
      expect(await stored()).toEqual(before)
      const rows = await ctx().database.query("SELECT 1 FROM storage.objects WHERE name LIKE '%not-yours%'")
      expect(rows.rowCount).toBe(0)
    })

    it('409 on an existing object without upsert; x-upsert overwrites it', async () => {
      const name = `${ALICE}/twice.txt`
      await tusUpload(Buffer.from('first'), options('alice', 'private', name, { contentType: 'text/plain' }))
      expect(await tusFailure(tusUpload(Buffer.from('second'), options('alice', 'private', name)))).toEqual({ status: 409, body: 'The resource already exists' })
      const firstVersion = (await row('private', name))!.version
      await tusUpload(Buffer.from('second'), options('alice', 'private', name, { upsert: true, contentType: 'text/plain' }))
      expect((await download('private', name)).toString()).toBe('second')
      const backend = createBackend(h.app.services.config.storage)
      await h.app.services.background.idle() // the replaced version goes after the response
      expect(await backend.stat(`private/${name}/${firstVersion}`)).toBeUndefined()
      // Bob's UPDATE policy does not cover Alice's folder: refused before a byte is stored.
      expect((await tusFailure(tusUpload(Buffer.from('third'), options('bob', 'private', name, { upsert: true })))).status).toBe(403)
    })

    it('the bucket limits: 413 over file_size_limit, 415 for a refused type, 404 for no bucket', async () => {
      const before = await stored()
      expect(await tusFailure(tusUpload(randomFile(5000), options('service', 'small', 'big.png', { contentType: 'image/png' })))).toEqual({ status: 413, body: 'Maximum size exceeded\n' })
      expect(await tusFailure(tusUpload(randomFile(10), options('service', 'small', 'a.txt', { contentType: 'text/plain' })))).toEqual({ status: 415, body: 'mime type text/plain is not supported' })
      expect(await tusFailure(tusUpload(randomFile(10), options('service', 'nope', 'a.txt')))).toEqual({ status: 404, body: 'Bucket not found' })
      await tusUpload(randomFile(1000), options('service', 'small', 'ok.png', { contentType: 'image/png' }))
      expect((await stored()).length).toBe(before.length + 1)
    })

    it('every PATCH is authorized: a forged token, another user and a made-up id are refused', async () => {
      const bytes = randomFile(7 * MiB)
      const started = await tusUpload(bytes, options('alice', 'private', `${ALICE}/guarded.bin`, { stopAfterChunk: () => true }))
      const patch = (token: string, url = started.url!) =>
        fetch(url, {
          method: 'PATCH',
          headers: { 'tus-resumable': '1.0.0', 'content-type': 'application/offset+octet-stream', 'upload-offset': String(6 * MiB), authorization: `Bearer ${token}`, apikey: h.app.anonKey },
          body: new Uint8Array(bytes.subarray(6 * MiB)),
        })
      const forged = await new jose.SignJWT({ sub: ALICE, role: 'authenticated' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(new TextEncoder().encode('not-the-secret-not-the-secret-not-the-secret'))
      const refused = await patch(forged)
      expect(refused.status).toBe(400)
      expect(await refused.json()).toMatchObject({ statusCode: '400', error: 'InvalidJWT' })
      const bob = await patch(tokens.bob!)
      expect(bob.status).toBe(403)
      expect(await bob.text()).toBe('new row violates row-level security policy')
      const madeUp = await patch(tokens.alice!, started.url!.replace(/[^/]+$/, Buffer.from(`private/${ALICE}/x/00000000-0000-0000-0000-000000000000`).toString('base64url')))
      expect(madeUp.status).toBe(404)
      const garbage = await patch(tokens.alice!, started.url!.replace(/[^/]+$/, 'bm90LWFuLWlk'))
      expect(garbage.status).toBe(400)
      // The owner can still finish it.
      const done = await patch(tokens.alice!)
      expect(done.status).toBe(204)
      expect((await download('private', `${ALICE}/guarded.bin`)).equals(bytes)).toBe(true)
    }, 60_000)

    it('hostile names stay inside the backend; bad ones are refused with 400', async () => {
      const names = [`${ALICE}/../../../../etc/passwd`, `${ALICE}/.tus/x`, `${ALICE}/ünï cödé.txt`, `${ALICE}/${'long/'.repeat(150)}end`]
      const backend = createBackend(h.app.services.config.storage)
      for (const name of names) {
        const bytes = randomFile(100)
        expect((await tusUpload(bytes, options('alice', 'private', name))).status).toBe('done')
        // Read through the backend: a URL cannot carry `..` segments (fetch resolves them).
        const stream = await backend.read(`private/${name}/${(await row('private', name))!.version}`)
        expect(Buffer.concat(await stream!.toArray()).equals(bytes)).toBe(true)
      }
      if (kind === 'file') for (const location of await stored()) expect(location.startsWith(h.storageDir + '/')).toBe(true)
      for (const name of [`${ALICE}/nul\u0000x`, `${ALICE}/${'x'.repeat(1100)}`]) {
        expect((await tusFailure(tusUpload(randomFile(10), options('alice', 'private', name)))).status).toBe(400)
      }
      expect((await tusFailure(tusUpload(randomFile(10), options('alice', '', 'x')))).status).toBe(400)
    })

    it('DELETE ends an unfinished upload for a caller who may write there; OPTIONS advertises tus', async () => {
      const before = await stored()
      const started = await tusUpload(randomFile(7 * MiB), options('alice', 'private', `${ALICE}/dropped.bin`, { stopAfterChunk: () => true }))
      const call = (method: string, token?: string) =>
        fetch(started.url!, { method, headers: { 'tus-resumable': '1.0.0', ...(token ? { authorization: `Bearer ${token}`, apikey: h.app.anonKey } : {}) } })
      expect((await call('DELETE', tokens.bob)).status).toBe(403)
      expect((await call('HEAD', tokens.alice)).status).toBe(200)
      expect((await call('DELETE', tokens.alice)).status).toBe(204)
      expect((await call('HEAD', tokens.alice)).status).toBe(404)
      expect(await stored()).toEqual(before)
      const preflight = await call('OPTIONS')
      expect(preflight.status).toBe(204)
      expect(preflight.headers.get('tus-extension')).toContain('creation')
      expect(preflight.headers.get('tus-version')).toBe('1.0.0')
    })

    it('browsers may send tus headers and read its answers (CORS)', async () => {
      const preflight = await fetch(`${h.app.url}/storage/v1/upload/resumable`, {
        method: 'OPTIONS',
        headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,apikey,tus-resumable,upload-length,upload-metadata,x-upsert' },
      })
      const allowed = (preflight.headers.get('access-control-allow-headers') ?? '').split(',')
      for (const header of ['tus-resumable', 'upload-length', 'upload-metadata', 'upload-offset', 'x-upsert']) expect(allowed).toContain(header)
      const created = await fetch(`${h.app.url}/storage/v1/upload/resumable`, {
        method: 'POST',
        headers: { origin: 'https://app.example', 'tus-resumable': '1.0.0', 'upload-length': '3', 'upload-metadata': `bucketName ${Buffer.from('private').toString('base64')},objectName ${Buffer.from(`${ALICE}/cors.txt`).toString('base64')}`, authorization: `Bearer ${tokens.alice}`, apikey: h.app.anonKey },
      })
      expect(created.status).toBe(201)
      const exposed = (created.headers.get('access-control-expose-headers') ?? '').split(',')
      for (const header of ['location', 'upload-offset', 'upload-length', 'tus-resumable']) expect(exposed).toContain(header)
    })

    it('an empty file', async () => {
      expect((await tusUpload(Buffer.alloc(0), options('alice', 'private', `${ALICE}/empty`))).status).toBe('done')
      expect((await download('private', `${ALICE}/empty`)).length).toBe(0)
    })
  })
}

suite('file')

describe('file store expiry', () => {
  it('removes an unfinished upload past its expiry (data and state), keeps a fresh one', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'tus-expiry-'))
    try {
      const id = (n: number) => `b/name-${n}/00000000-0000-0000-0000-00000000000${n}`
      const live = await fileTusStore(root, 3600_000)
      await live.datastore.create(new Upload({ id: id(1), size: 10, offset: 0, metadata: {} }))
      await live.datastore.write(Readable.from([Buffer.from('abc')]), id(1), 0)
      expect(await live.datastore.deleteExpired()).toBe(0)
      expect((await live.datastore.getUpload(id(1))).offset).toBe(3)
      const expired = await fileTusStore(root, 1)
      await new Promise((resolve) => setTimeout(resolve, 10))
      expect(await expired.datastore.deleteExpired()).toBe(1)
      expect(readdirSync(path.join(root, '.tus'))).toEqual([])
    } finally {
      rmSync(root, { recursive: true, force: true })
    }
  })
})

describeOnMoto((endpoint) => (motoEndpoint = endpoint), () => {
  suite('s3')

  it('expiry: an upload past its hour is aborted and its state removed; one in flight is kept', async () => {
    const bucket = `tus-expiry-${Date.now()}`
    const s3 = new S3Client({ region: 'us-east-1', endpoint: motoEndpoint, forcePathStyle: true })
    await s3.send(new CreateBucketCommand({ Bucket: bucket }))
    const settings = { bucket, region: 'us-east-1', endpoint: motoEndpoint, forcePathStyle: true }
    const live = s3TusStore(settings, 3600_000)
    const id = (n: number) => `b/name-${n}/00000000-0000-0000-0000-00000000000${n}`
    await live.datastore.create(new Upload({ id: id(1), size: 10, offset: 0, metadata: {} }))
    await live.datastore.create(new Upload({ id: id(2), size: 10, offset: 0, metadata: {} }))
    await live.datastore.write(Readable.from([Buffer.from('abc')]), id(2), 0)
    // moto reports every multipart upload as initiated in 2010: judged by that, both would go.
    expect(await live.datastore.deleteExpired()).toBe(0)
    expect((await live.datastore.getUpload(id(2))).offset).toBe(3)
    // An upload being created (multipart started, `.info` not yet written) is never taken for an expired one.
    await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'b/half/00000000-0000-0000-0000-000000000009' }))
    const expired = s3TusStore(settings, 1)
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(await expired.datastore.deleteExpired()).toBe(2)
    await expect(live.datastore.getUpload(id(2))).rejects.toMatchObject({ status_code: 404 })
    const multipart = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }))
    expect((multipart.Uploads ?? []).map((upload) => upload.Key)).toEqual(['b/half/00000000-0000-0000-0000-000000000009'])
    expect((await s3.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []).toEqual([])
  })
})
