/**
 * Signed resumable uploads: tus-js-client at /storage/v1/upload/resumable/sign with the token of
 * a signed upload URL (supabase-js `createSignedUploadUrl`) in `x-signature` and no JWT or API
 * key, as storage-api serves them — chunks, abort and resume, owner and upsert from the token,
 * tokens for another name, another scope, forged or expired refused on creation and on every
 * later request, bucket rules, hostile names; both databases, both backends (S3 on moto_server).
 */
import * as jose from 'jose'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createBackend } from '../../src/storage/backend/index.ts'
import { signObjectToken } from '../../src/storage/signing.ts'
import { describeEachDatabase } from '../support/databases.ts'
import { ALICE, POLICIES, type StorageHarness } from './support.ts'
import { describeOnMoto, MiB, randomFile, startTusStorage, storedLocations, tusFailure, tusUpload, type TusOptions } from './tus-support.ts'

let motoEndpoint = ''

function suite(kind: 'file' | 's3') {
  describeEachDatabase(`signed resumable uploads (${kind})`, (ctx) => {
    let h: StorageHarness
    beforeAll(async () => {
      h = await startTusStorage(ctx(), kind, motoEndpoint)
      await ctx().database.exec(POLICIES)
      expect((await h.service.storage.createBucket('private')).error).toBeNull()
      expect((await h.service.storage.createBucket('small', { public: false, fileSizeLimit: 1000, allowedMimeTypes: ['image/*'] })).error).toBeNull()
    }, 60_000)
    afterAll(async () => {
      await h?.app.close()
    })

    const endpoint = () => `${h.app.url}/storage/v1/upload/resumable/sign`
    const options = (signature: string, bucket: string, name: string, more: Partial<TusOptions> = {}): TusOptions => ({ endpoint: endpoint(), signature, bucket, name, chunkSize: MiB, ...more })

    /** A signed upload URL's token, made by Alice through supabase-js (her INSERT policy admits the row). */
    async function aliceToken(name: string, upsert = false): Promise<string> {
      const alice = await h.user(ALICE)
      const made = await alice.storage.from('private').createSignedUploadUrl(name, { upsert })
      expect(made.error).toBeNull()
      return made.data!.token
    }

    async function jwtOf(sub: string): Promise<string> {
      const now = Math.floor(Date.now() / 1000)
      return h.app.services.jwt.sign({ sub, role: 'authenticated', aud: 'authenticated', iat: now, exp: now + 3600 })
    }

    /** A tus request to an upload URL with only these headers (a signed client's next step by hand). */
    const call = (url: string, method: string, headers: Record<string, string> = {}, body?: Uint8Array<ArrayBuffer>) =>
      fetch(url, { method, headers: { 'tus-resumable': '1.0.0', ...(body ? { 'content-type': 'application/offset+octet-stream' } : {}), ...headers }, body })

    async function row(name: string) {
      const result = await ctx().database.query<{ owner_id: string | null; version: string; metadata: Record<string, unknown>; user_metadata: unknown }>(
        "SELECT owner_id, version, metadata, user_metadata FROM storage.objects WHERE bucket_id = 'private' AND name = $1",
        [name],
      )
      return result.rows[0]
    }

    async function download(name: string): Promise<Buffer> {
      const { data, error } = await h.service.storage.from('private').download(name)
      expect(error).toBeNull()
      return Buffer.from(await data!.arrayBuffer())
    }

    it('createSignedUploadUrl → chunks through /sign with x-signature only, aborted and resumed by a new client: bytes, owner from the token', async () => {
      const name = `${ALICE}/signed/big.bin`
      const token = await aliceToken(name)
      const bytes = randomFile(3 * MiB + 5)
      const first = await tusUpload(bytes, options(token, 'private', name, { metadata: { via: 'signed' }, contentType: 'video/mp4', stopAfterChunk: (accepted) => accepted >= 2 * MiB }))
      expect(first.status).toBe('stopped')
      // The upload URL stays under /sign, so the client keeps sending the token there.
      expect(first.url).toMatch(new RegExp(`^${h.app.url}/storage/v1/upload/resumable/sign/[A-Za-z0-9_-]+$`))
      const head = await call(first.url!, 'HEAD', { 'x-signature': token })
      expect(head.status).toBe(200)
      const offset = Number(head.headers.get('upload-offset'))
      expect(offset).toBeGreaterThanOrEqual(2 * MiB)
      expect(offset).toBeLessThan(bytes.length)
      // Even HEAD needs the token on the signed route.
      const bare = await call(first.url!, 'HEAD')
      expect(bare.status).toBe(400)
      expect(await row(name)).toBeUndefined()

      const patches: Array<string | undefined> = []
      const second = await tusUpload(bytes, options(token, 'private', name, { uploadUrl: first.url!, onPatch: (o) => patches.push(o) }))
      expect(second.status).toBe('done')
      expect(patches[0]).toBe(String(offset))
      expect((await download(name)).equals(bytes)).toBe(true)
      const object = await row(name)
      expect(object).toMatchObject({ owner_id: ALICE, user_metadata: { via: 'signed' } })
      expect(object!.metadata).toMatchObject({ size: bytes.length, mimetype: 'video/mp4', cacheControl: 'max-age=3600' })
      // Spent: the upload's state went with its completion.
      expect((await call(first.url!, 'HEAD', { 'x-signature': token })).status).toBe(404)
    }, 60_000)

    it('refused at creation, nothing stored: another name, a download or access token, a forged, expired or missing token', async () => {
      const name = `${ALICE}/signed/guarded.bin`
      const token = await aliceToken(name)
      const before = await storedLocations(h)
      const alice = await h.user(ALICE)
      await alice.storage.from('private').upload(`${ALICE}/signed/readable.txt`, 'x')
      const download = await alice.storage.from('private').createSignedUrl(`${ALICE}/signed/readable.txt`, 60)
      const downloadToken = new URL(download.data!.signedUrl).searchParams.get('token')!
      const claims = { url: `private/${name}`, scope: 'upload', owner: ALICE, upsert: false }
      const forged = await new jose.SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(new TextEncoder().encode('not-the-secret-not-the-secret-not-the-secret'))
      const now = Math.floor(Date.now() / 1000)
      const expired = await h.app.services.jwt.sign({ ...claims, iat: now - 120, exp: now - 60 })
      const stored = await storedLocations(h)

      const attempt = (signature: string, objectName = name) => tusFailure(tusUpload(randomFile(1000), options(signature, 'private', objectName)))
      // The token for one name does not create another (not even one that normalises to it).
      expect(await attempt(token, `${ALICE}/signed/other.bin`)).toEqual({ status: 400, body: 'Invalid signature' })
      expect(await attempt(token, `${ALICE}/signed/x/../guarded.bin`)).toEqual({ status: 400, body: 'Invalid signature' })
      expect(await attempt(downloadToken)).toEqual({ status: 400, body: 'Token is not scoped for upload' })
      expect(await attempt(h.app.serviceRoleKey)).toEqual({ status: 400, body: 'Token is not scoped for upload' })
      expect((await attempt(forged)).status).toBe(400)
      expect(await attempt(expired)).toEqual({ status: 400, body: 'The provided token has expired.' })
      expect(await attempt('')).toEqual({ status: 400, body: 'Missing x-signature header' })
      // A user's JWT is no substitute on /sign.
      expect(await tusFailure(tusUpload(randomFile(10), { ...options('', 'private', name), token: await jwtOf(ALICE), apikey: h.app.anonKey }))).toEqual({ status: 400, body: 'Missing x-signature header' })
      expect(await storedLocations(h)).toEqual(stored)
      expect(stored.length).toBe(before.length + 1)
      expect(await row(name)).toBeUndefined()
    })

    it("every later request is checked too: another name's token or an expired one cannot patch, end or read an upload", async () => {
      const name = `${ALICE}/signed/patched.bin`
      const token = await aliceToken(name)
      const otherToken = await aliceToken(`${ALICE}/signed/elsewhere.bin`)
      const now = Math.floor(Date.now() / 1000)
      const expired = await h.app.services.jwt.sign({ url: `private/${name}`, scope: 'upload', owner: ALICE, upsert: false, iat: now - 120, exp: now - 60 })
      const bytes = randomFile(2 * MiB + 9)
      const started = await tusUpload(bytes, options(token, 'private', name, { stopAfterChunk: () => true }))
      const rest = new Uint8Array(bytes.subarray(MiB))
      const patch = (signature: string) => call(started.url!, 'PATCH', { 'x-signature': signature, 'upload-offset': String(MiB) }, rest)
      for (const [signature, body] of [[otherToken, 'Invalid signature'], [expired, 'The provided token has expired.'], ['', 'Missing x-signature header']] as const) {
        const refused = await patch(signature)
        expect(refused.status).toBe(400)
        expect(await refused.text()).toBe(body)
        expect((await call(started.url!, 'DELETE', { 'x-signature': signature })).status).toBe(400)
        expect((await call(started.url!, 'HEAD', { 'x-signature': signature })).status).toBe(400)
      }
      // Nor is the unsigned route a way round: there the caller's own JWT and policies decide.
      const unsigned = started.url!.replace('/resumable/sign/', '/resumable/')
      expect((await call(unsigned, 'PATCH', { 'x-signature': token, 'upload-offset': String(MiB) }, rest)).status).toBe(401)
      expect((await call(unsigned, 'PATCH', { 'x-signature': token, apikey: h.app.anonKey, 'upload-offset': String(MiB) }, rest)).status).toBe(403)
      const head = await call(started.url!, 'HEAD', { 'x-signature': token })
      expect(head.headers.get('upload-offset')).toBe(String(MiB))
      // The right token finishes it.
      const done = await patch(token)
      expect(done.status).toBe(204)
      expect((await download(name)).equals(bytes)).toBe(true)
      expect((await row(name))!.owner_id).toBe(ALICE)
    })

    it('a taken name: 409 at creation unless the token says upsert (x-upsert does not); an upsert token replaces it', async () => {
      const name = `${ALICE}/signed/taken.txt`
      const plain = await aliceToken(name)
      expect((await h.service.storage.from('private').upload(name, 'first')).error).toBeNull()
      const firstVersion = (await row(name))!.version
      const before = await storedLocations(h)
      // Refused at creation: not a byte past the first request (no PATCH follows).
      const patches: Array<string | undefined> = []
      const bytes = randomFile(MiB + 100)
      expect(await tusFailure(tusUpload(bytes, options(plain, 'private', name, { onPatch: (o) => patches.push(o) })))).toEqual({ status: 409, body: 'The resource already exists' })
      expect(await tusFailure(tusUpload(bytes, options(plain, 'private', name, { upsert: true, onPatch: (o) => patches.push(o) })))).toEqual({ status: 409, body: 'The resource already exists' })
      expect(patches).toEqual([])
      expect(await storedLocations(h)).toEqual(before)
      const upsert = await aliceToken(name, true)
      expect((await tusUpload(Buffer.from('second'), options(upsert, 'private', name, { contentType: 'text/plain' }))).status).toBe('done')
      expect((await download(name)).toString()).toBe('second')
      expect((await row(name))!.owner_id).toBe(ALICE)
      expect(await createBackend(h.app.services.config.storage).stat(`private/${name}/${firstVersion}`)).toBeUndefined()
    })

    it("the bucket's rules hold: 413 over its size limit, 415 for a refused type", async () => {
      const big = (await h.service.storage.from('small').createSignedUploadUrl('big.png')).data!.token
      const text = (await h.service.storage.from('small').createSignedUploadUrl('a.txt')).data!.token
      const before = await storedLocations(h)
      expect(await tusFailure(tusUpload(randomFile(5000), options(big, 'small', 'big.png', { contentType: 'image/png' })))).toEqual({ status: 413, body: 'Maximum size exceeded\n' })
      expect(await tusFailure(tusUpload(randomFile(10), options(text, 'small', 'a.txt', { contentType: 'text/plain' })))).toEqual({ status: 415, body: 'mime type text/plain is not supported' })
      expect(await storedLocations(h)).toEqual(before)
    })

    it('hostile names stay inside the backend; bad ones are refused with 400', async () => {
      // Signed directly: a URL cannot carry `..` segments to createSignedUploadUrl (fetch resolves them).
      const sign = (name: string) => signObjectToken(h.app.services.jwt, 'upload', `private/${name}`, 600, { owner: ALICE, upsert: false })
      const backend = createBackend(h.app.services.config.storage)
      for (const name of [`${ALICE}/../../../../etc/passwd`, `${ALICE}/.tus/x`, `${ALICE}/ünï cödé.txt`]) {
        const bytes = randomFile(100)
        expect((await tusUpload(bytes, options(await sign(name), 'private', name))).status).toBe('done')
        const stream = await backend.read(`private/${name}/${(await row(name))!.version}`)
        expect(Buffer.concat(await stream!.toArray()).equals(bytes)).toBe(true)
      }
      if (kind === 'file') for (const location of await storedLocations(h)) expect(location.startsWith(h.storageDir + '/')).toBe(true)
      // A token does not make a name legal (the S3 store keeps its state under `~tus/`).
      for (const name of [`${ALICE}/nul\u0000x`, `${ALICE}/~tus/x.info`]) {
        expect((await tusFailure(tusUpload(randomFile(10), options(await sign(name), 'private', name)))).status).toBe(400)
      }
    })

    it('browsers may send x-signature (CORS)', async () => {
      const preflight = await fetch(endpoint(), {
        method: 'OPTIONS',
        headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-signature,tus-resumable,upload-length,upload-metadata' },
      })
      expect(preflight.status).toBe(204)
      expect((preflight.headers.get('access-control-allow-headers') ?? '').split(',')).toContain('x-signature')
    })
  })
}

suite('file')

describeOnMoto((endpoint) => (motoEndpoint = endpoint), () => suite('s3'))
