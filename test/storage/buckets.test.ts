/** Buckets through supabase-js: create, get, list, update, empty, delete, and their refusals. */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeEachDatabase } from '../support/databases.ts'
import { ALICE, POLICIES, startStorage, type StorageHarness } from './support.ts'

describeEachDatabase('storage buckets', (ctx) => {
  let h: StorageHarness
  beforeAll(async () => {
    await ctx().database.exec(POLICIES)
    h = await startStorage(ctx())
  })
  afterAll(async () => {
    await h?.app.close()
  })

  it('creates, reads, lists, updates and deletes a bucket', async () => {
    const created = await h.service.storage.createBucket('photos', { public: true, fileSizeLimit: '1MB', allowedMimeTypes: ['image/*'] })
    expect(created.error).toBeNull()
    expect(created.data).toEqual({ name: 'photos' })

    const got = await h.service.storage.getBucket('photos')
    expect(got.error).toBeNull()
    expect(got.data).toMatchObject({ id: 'photos', name: 'photos', public: true, file_size_limit: 1_000_000, allowed_mime_types: ['image/*'] })

    const listed = await h.service.storage.listBuckets()
    expect(listed.data?.map((b) => b.id)).toContain('photos')

    const updated = await h.service.storage.updateBucket('photos', { public: false, fileSizeLimit: 2048, allowedMimeTypes: ['text/plain'] })
    expect(updated.error).toBeNull()
    expect(updated.data).toEqual({ message: 'Successfully updated' })
    expect((await h.service.storage.getBucket('photos')).data).toMatchObject({ public: false, file_size_limit: 2048, allowed_mime_types: ['text/plain'] })

    const deleted = await h.service.storage.deleteBucket('photos')
    expect(deleted.data).toEqual({ message: 'Successfully deleted' })
    expect((await h.service.storage.getBucket('photos')).error?.message).toBe('Bucket not found')
  })

  it('refuses a duplicate bucket with 409 and a missing one with "Bucket not found"', async () => {
    await h.service.storage.createBucket('dupe')
    const again = await h.service.storage.createBucket('dupe')
    expect(again.error?.message).toBe('The resource already exists')
    expect((again.error as unknown as { statusCode: string }).statusCode).toBe('409')
    const missing = await h.service.storage.getBucket('nope')
    expect(missing.error?.message).toBe('Bucket not found')
    expect((missing.error as unknown as { statusCode: string }).statusCode).toBe('404')
    expect((await h.service.storage.deleteBucket('nope')).error?.message).toBe('Bucket not found')
  })

  it('a bucket holding objects is emptied before it can be deleted', async () => {
    await h.service.storage.createBucket('full')
    await h.service.storage.from('full').upload('a.txt', 'aaa')
    await h.service.storage.from('full').upload('dir/b.txt', 'bbb')
    const refused = await h.service.storage.deleteBucket('full')
    expect(refused.error?.message).toBe('The bucket you tried to delete is not empty')
    const emptied = await h.service.storage.emptyBucket('full')
    expect(emptied.data).toEqual({ message: 'Successfully emptied' })
    expect((await h.service.storage.from('full').list()).data).toEqual([])
    expect((await h.service.storage.deleteBucket('full')).error).toBeNull()
  })

  it('RLS on storage.buckets: anon sees none and cannot create; a user reads through a policy but cannot create', async () => {
    await h.service.storage.createBucket('visible')
    expect((await h.anon.storage.listBuckets()).data).toEqual([])
    expect((await h.anon.storage.getBucket('visible')).error?.message).toBe('Bucket not found')
    const anonCreate = await h.anon.storage.createBucket('by-anon')
    expect(anonCreate.error?.message).toBe('new row violates row-level security policy')
    expect((anonCreate.error as unknown as { statusCode: string }).statusCode).toBe('403')
    const alice = await h.user(ALICE)
    expect((await alice.storage.getBucket('visible')).data?.id).toBe('visible')
    expect((await alice.storage.createBucket('by-alice')).error?.message).toBe('new row violates row-level security policy')
    // Deleting what the policy does not let you see is "not found", not a leak.
    expect((await alice.storage.deleteBucket('visible')).error?.message).toBe('Bucket not found')
  })

  it('bad bucket input gets clear errors, never a 500', async () => {
    for (const name of ['', 'a/b', 'nul\u0000', 'x'.repeat(101), '<script>']) {
      const response = await h.fetch('/bucket', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name }) })
      expect(response.status).toBe(400)
      expect(await response.json()).toMatchObject({ statusCode: '400', code: 'InvalidBucketName' })
    }
    const badLimit = await h.service.storage.createBucket('limits', { public: false, fileSizeLimit: 'ten gigs' })
    expect(badLimit.error?.message).toMatch(/Invalid file size format/)
    const badMime = await h.service.storage.createBucket('mimes', { public: false, allowedMimeTypes: ['not a mime'] })
    expect(badMime.error?.message).toMatch(/invalid mime type/)
    const badJson = await h.fetch('/bucket', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":' })
    expect(badJson.status).toBe(400)
    expect((await badJson.json()).code).toBe('InvalidRequest')
  })

  it('a browser preflight for an upload is answered without a key and allows storage-js\'s headers', async () => {
    const response = await fetch(`${h.app.url}/storage/v1/object/photos/a.png`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-upsert,x-metadata,cache-control' },
    })
    expect(response.status).toBeLessThan(300)
    const allowed = response.headers.get('access-control-allow-headers') ?? ''
    for (const header of ['x-upsert', 'x-metadata', 'cache-control']) expect(allowed).toContain(header)
    expect(response.headers.get('access-control-expose-headers')).toContain('etag')
  })

  it('wants an API key, as Supabase\'s gateway does', async () => {
    const response = await fetch(`${h.app.url}/storage/v1/bucket`)
    expect(response.status).toBe(401)
    expect((await response.json()).code).toBe('no_api_key')
  })
})
