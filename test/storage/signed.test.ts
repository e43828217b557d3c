/**
 * Signed URLs through supabase-js: single and batch download URLs (expiring, scoped, bound to
 * their object) and signed upload URLs (`createSignedUploadUrl` + `uploadToSignedUrl`).
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeEachDatabase } from '../support/databases.ts'
import { ALICE, BOB, POLICIES, startStorage, type StorageHarness } from './support.ts'

describeEachDatabase('storage signed URLs', (ctx) => {
  let h: StorageHarness
  beforeAll(async () => {
    await ctx().database.exec(POLICIES)
    h = await startStorage(ctx())
    await h.service.storage.createBucket('private')
    await h.service.storage.from('private').upload(`${ALICE}/report.pdf`, Buffer.from('%PDF-1.7'), { contentType: 'application/pdf' })
    await h.service.storage.from('private').upload(`${ALICE}/notes.txt`, 'notes')
  })
  afterAll(async () => {
    await h?.app.close()
  })

  it('a signed URL downloads without any key, honours download= and Range', async () => {
    const alice = await h.user(ALICE)
    const { data, error } = await alice.storage.from('private').createSignedUrl(`${ALICE}/report.pdf`, 60, { download: 'r.pdf' })
    expect(error).toBeNull()
    const response = await fetch(data!.signedUrl)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('application/pdf')
    expect(response.headers.get('content-disposition')).toContain('filename="r.pdf"')
    expect(await response.text()).toBe('%PDF-1.7')
    const ranged = await fetch(data!.signedUrl, { headers: { range: 'bytes=0-3' } })
    expect(ranged.status).toBe(206)
    expect(await ranged.text()).toBe('%PDF')
  })

  it('batch signing signs what the caller can see and says which it cannot', async () => {
    const bob = await h.user(BOB)
    const forBob = await bob.storage.from('private').createSignedUrls([`${ALICE}/report.pdf`], 60)
    expect(forBob.data).toEqual([{ error: 'Either the object does not exist or you do not have access to it', path: `${ALICE}/report.pdf`, signedURL: null, signedUrl: null }])
    const alice = await h.user(ALICE)
    const forAlice = await alice.storage.from('private').createSignedUrls([`${ALICE}/report.pdf`, `${ALICE}/notes.txt`, `${ALICE}/none`], 60)
    expect(forAlice.data?.map((d) => d.error === null)).toEqual([true, true, false])
    expect(await (await fetch(forAlice.data![1]!.signedUrl!)).text()).toBe('notes')
  })

  it('a token is bound to its object, its scope and its expiry', async () => {
    // A token's exp is whole seconds after a whole-second iat (as storage-api signs it), so a
    // 1-second URL may expire at once: the binding checks use a longer one.
    const { data } = await h.service.storage.from('private').createSignedUrl(`${ALICE}/notes.txt`, 60)
    const token = new URL(data!.signedUrl).searchParams.get('token')!
    const other = await fetch(`${h.app.url}/storage/v1/object/sign/private/${ALICE}/report.pdf?token=${token}`)
    expect(other.status).toBe(400)
    expect((await other.json()).code).toBe('InvalidSignature')
    // An access token is not a signed URL.
    const access = await fetch(`${h.app.url}/storage/v1/object/sign/private/${ALICE}/notes.txt?token=${h.app.serviceRoleKey}`)
    expect((await access.json()).code).toBe('InvalidSignature')
    const none = await fetch(`${h.app.url}/storage/v1/object/sign/private/${ALICE}/notes.txt`)
    expect((await none.json()).code).toBe('MissingParameter')
    const { data: brief } = await h.service.storage.from('private').createSignedUrl(`${ALICE}/notes.txt`, 1)
    await new Promise((resolve) => setTimeout(resolve, 2100))
    const expired = await fetch(brief!.signedUrl)
    expect(expired.status).toBe(400)
    expect((await expired.json()).code).toBe('ExpiredToken')
    const badExpiry = await h.service.storage.from('private').createSignedUrl(`${ALICE}/notes.txt`, -5)
    expect(badExpiry.error).not.toBeNull()
  })

  it('a signed upload URL lets anyone holding it upload once, as the user who made it', async () => {
    const alice = await h.user(ALICE)
    const made = await alice.storage.from('private').createSignedUploadUrl(`${ALICE}/upload.txt`)
    expect(made.error).toBeNull()
    expect(made.data?.signedUrl).toContain('/object/upload/sign/private/')
    const up = await h.anon.storage.from('private').uploadToSignedUrl(`${ALICE}/upload.txt`, made.data!.token, Buffer.from('signed upload'), { contentType: 'text/plain' })
    expect(up.error).toBeNull()
    expect(up.data?.fullPath).toBe(`private/${ALICE}/upload.txt`)
    const row = await ctx().database.query<{ owner_id: string }>('SELECT owner_id FROM storage.objects WHERE name = $1', [`${ALICE}/upload.txt`])
    expect(row.rows[0]?.owner_id).toBe(ALICE)
    expect(await (await alice.storage.from('private').download(`${ALICE}/upload.txt`)).data?.text()).toBe('signed upload')
    // Without upsert the token cannot overwrite.
    const again = await h.anon.storage.from('private').uploadToSignedUrl(`${ALICE}/upload.txt`, made.data!.token, Buffer.from('again'))
    expect(again.error?.message).toBe('The resource already exists')
    // Nor upload elsewhere.
    const elsewhere = await h.anon.storage.from('private').uploadToSignedUrl(`${ALICE}/elsewhere.txt`, made.data!.token, Buffer.from('x'))
    expect((elsewhere.error as unknown as { statusCode: string }).statusCode).toBe('400')
    // A download token does not upload.
    const download = await alice.storage.from('private').createSignedUrl(`${ALICE}/upload.txt`, 60)
    const downloadToken = new URL(download.data!.signedUrl).searchParams.get('token')!
    const misuse = await h.anon.storage.from('private').uploadToSignedUrl(`${ALICE}/upload.txt`, downloadToken, Buffer.from('x'))
    expect(misuse.error?.message).toBe('Token is not scoped for upload')
  })

  it('a signed upload URL is only made for a caller whose policy admits the row', async () => {
    const bob = await h.user(BOB)
    const refused = await bob.storage.from('private').createSignedUploadUrl(`${ALICE}/sneaky.txt`)
    expect(refused.error?.message).toBe('new row violates row-level security policy')
    const upsert = await h.service.storage.from('private').createSignedUploadUrl(`${ALICE}/notes.txt`, { upsert: true })
    expect(upsert.error).toBeNull()
    const replaced = await h.anon.storage.from('private').uploadToSignedUrl(`${ALICE}/notes.txt`, upsert.data!.token, Buffer.from('new notes'), { upsert: true })
    expect(replaced.error).toBeNull()
    expect(await (await h.service.storage.from('private').download(`${ALICE}/notes.txt`)).data?.text()).toBe('new notes')
    const missingBucket = await h.service.storage.from('nope').createSignedUploadUrl('a.txt')
    expect(missingBucket.error?.message).toBe('Bucket not found')
  })
})
