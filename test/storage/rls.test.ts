/**
 * Row-level security decides every object operation, with policies written the Supabase way
 * (`(storage.foldername(name))[1] = auth.uid()::text`): two users and anon, through supabase-js.
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import type { SupabaseClient } from '@supabase/supabase-js'
import { describeEachDatabase } from '../support/databases.ts'
import { ALICE, BOB, POLICIES, startStorage, type StorageHarness } from './support.ts'

const statusCode = (error: unknown) => (error as { statusCode?: string } | null)?.statusCode

describeEachDatabase('storage RLS', (ctx) => {
  let h: StorageHarness
  let alice: SupabaseClient
  let bob: SupabaseClient
  beforeAll(async () => {
    await ctx().database.exec(POLICIES)
    h = await startStorage(ctx())
    await h.service.storage.createBucket('private')
    alice = await h.user(ALICE)
    bob = await h.user(BOB)
  })
  afterAll(async () => {
    await h?.app.close()
  })

  it('a user uploads into their own folder, with owner and owner_id from the token', async () => {
    const up = await alice.storage.from('private').upload(`${ALICE}/avatar.png`, Buffer.from('png'), { contentType: 'image/png' })
    expect(up.error).toBeNull()
    const row = await ctx().database.query<{ owner: string; owner_id: string }>('SELECT owner, owner_id FROM storage.objects WHERE name = $1', [`${ALICE}/avatar.png`])
    expect(row.rows[0]).toEqual({ owner: ALICE, owner_id: ALICE })
  })

  it("another user's folder refuses the upload, and nothing is kept", async () => {
    const up = await bob.storage.from('private').upload(`${ALICE}/planted.png`, Buffer.from('x'), { contentType: 'image/png' })
    expect(up.error?.message).toBe('new row violates row-level security policy')
    expect(statusCode(up.error)).toBe('403')
    const rows = await ctx().database.query('SELECT 1 FROM storage.objects WHERE name = $1', [`${ALICE}/planted.png`])
    expect(rows.rows).toHaveLength(0)
  })

  it('an upload the policy refuses is refused before its body is read', async () => {
    const controller = new AbortController()
    // A body that never ends: only an answer given before reading it can arrive.
    const endless = new ReadableStream<Uint8Array>({
      start(stream) {
        stream.enqueue(new Uint8Array(64 * 1024))
      },
    })
    const now = Math.floor(Date.now() / 1000)
    const bobToken = await h.app.services.jwt.sign({ sub: BOB, role: 'authenticated', iat: now, exp: now + 60 })
    const response = await fetch(`${h.app.url}/storage/v1/object/private/${ALICE}/huge.bin`, {
      method: 'POST',
      headers: { apikey: h.app.anonKey, authorization: `Bearer ${bobToken}`, 'content-type': 'application/octet-stream' },
      body: endless,
      duplex: 'half',
      signal: controller.signal,
    } as RequestInit)
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ statusCode: '403', message: 'new row violates row-level security policy' })
    controller.abort()
  }, 10_000)

  it('objects a user may not see are "not found" to them, for every read', async () => {
    const files = bob.storage.from('private')
    expect((await files.download(`${ALICE}/avatar.png`)).error).not.toBeNull()
    expect((await files.exists(`${ALICE}/avatar.png`)).data).toBe(false)
    const info = await files.info(`${ALICE}/avatar.png`)
    expect(info.error?.message).toBe('Object not found')
    expect(statusCode(info.error)).toBe('404')
    expect((await files.list(ALICE)).data).toEqual([])
    expect((await files.createSignedUrl(`${ALICE}/avatar.png`, 60)).error?.message).toBe('Object not found')
    expect((await alice.storage.from('private').list(ALICE)).data?.map((e) => e.name)).toEqual(['avatar.png'])
  })

  it('a user cannot remove, move or overwrite what is not theirs', async () => {
    const removed = await bob.storage.from('private').remove([`${ALICE}/avatar.png`])
    expect(removed.data).toEqual([])
    const moved = await bob.storage.from('private').move(`${ALICE}/avatar.png`, `${BOB}/stolen.png`)
    expect(moved.error?.message).toBe('Object not found')
    const overwrite = await bob.storage.from('private').upload(`${ALICE}/avatar.png`, Buffer.from('evil'), { upsert: true, contentType: 'image/png' })
    expect(overwrite.error).not.toBeNull()
    const still = await alice.storage.from('private').download(`${ALICE}/avatar.png`)
    expect(await still.data?.text()).toBe('png')
  })

  it('moving out of one\'s own folder is refused by the WITH CHECK of the update policy', async () => {
    await alice.storage.from('private').upload(`${ALICE}/keep.txt`, 'keep')
    const moved = await alice.storage.from('private').move(`${ALICE}/keep.txt`, `${BOB}/gift.txt`)
    expect(moved.error?.message).toBe('new row violates row-level security policy')
    expect(await (await alice.storage.from('private').download(`${ALICE}/keep.txt`)).data?.text()).toBe('keep')
  })

  it('anon sees nothing and writes nothing; service_role bypasses RLS', async () => {
    expect((await h.anon.storage.from('private').list(ALICE)).data).toEqual([])
    const up = await h.anon.storage.from('private').upload('anon.txt', 'x')
    expect(up.error?.message).toBe('new row violates row-level security policy')
    expect((await h.service.storage.from('private').list(ALICE)).data?.map((e) => e.name)).toEqual(['avatar.png', 'keep.txt'])
  })

  it('a forged or foreign token is refused before any SQL, and a token naming postgres is not obeyed', async () => {
    const forged = await fetch(`${h.app.url}/storage/v1/object/list/private`, {
      method: 'POST',
      headers: { apikey: h.app.anonKey, authorization: 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.c2lnbmF0dXJl', 'content-type': 'application/json' },
      body: JSON.stringify({ prefix: '' }),
    })
    expect(forged.status).toBe(400)
    expect((await forged.json()).code).toBe('InvalidJWT')
    const now = Math.floor(Date.now() / 1000)
    const superToken = await h.app.services.jwt.sign({ role: 'postgres', iat: now, exp: now + 60 })
    const asPostgres = await fetch(`${h.app.url}/storage/v1/bucket`, { headers: { apikey: h.app.anonKey, authorization: `Bearer ${superToken}` } })
    expect(asPostgres.status).toBe(403)
    expect((await asPostgres.json()).code).toBe('AccessDenied')
  })
})

describeEachDatabase('storage: roles from DB_EXTRA_ROLES', (ctx) => {
  const suffix = Math.random().toString(36).slice(2, 8)
  const READER = `storage_reader_${suffix}`
  const POWERFUL = `storage_powerful_${suffix}`
  let h: StorageHarness
  const asRole = async (role: string) => {
    const now = Math.floor(Date.now() / 1000)
    const jwt = await h.app.services.jwt.sign({ role, iat: now, exp: now + 60 })
    return fetch(`${h.app.url}/storage/v1/bucket`, { headers: { apikey: h.app.anonKey, authorization: `Bearer ${jwt}` } })
  }
  beforeAll(async () => {
    await ctx().database.exec(`
      CREATE ROLE ${READER} NOLOGIN; GRANT ${READER} TO current_user;
      GRANT USAGE ON SCHEMA storage TO ${READER}; GRANT SELECT ON storage.buckets TO ${READER};
      CREATE POLICY "extra reader" ON storage.buckets FOR SELECT TO ${READER} USING (public);
      CREATE ROLE ${POWERFUL} NOLOGIN BYPASSRLS; GRANT ${POWERFUL} TO current_user;`)
    h = await startStorage(ctx(), { DB_EXTRA_ROLES: `${READER}, ${POWERFUL}` })
    await h.service.storage.createBucket(`open-${suffix}`, { public: true })
    await h.service.storage.createBucket(`closed-${suffix}`, { public: false })
  })
  afterAll(async () => {
    await h?.app.close()
    await ctx().database.exec(`DROP POLICY "extra reader" ON storage.buckets; REVOKE ALL ON storage.buckets FROM ${READER}; REVOKE USAGE ON SCHEMA storage FROM ${READER}; DROP ROLE ${READER}; DROP ROLE ${POWERFUL};`)
  })

  it('acts as a plain role the operator named, under its policies; refuses one that bypasses RLS', async () => {
    const reader = await asRole(READER)
    expect(reader.status).toBe(200)
    const names = ((await reader.json()) as Array<{ id: string }>).map((b) => b.id)
    expect(names).toContain(`open-${suffix}`)
    expect(names).not.toContain(`closed-${suffix}`)
    const powerful = await asRole(POWERFUL)
    expect(powerful.status).toBe(403)
    expect((await powerful.json()).code).toBe('AccessDenied')
  })
})
