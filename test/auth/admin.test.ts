/**
 * Admin endpoints through `supabase.auth.admin`: create, list with pagination headers, get,
 * update (password, ban, metadata), soft and hard delete; service_role only.
 */
import bcrypt from 'bcryptjs'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeEachDatabase } from '../support/databases.ts'
import { startAuth, uniqueEmail, type AuthHarness } from './support.ts'

describeEachDatabase('auth admin', (ctx) => {
  let h: AuthHarness
  beforeAll(async () => {
    h = await startAuth(ctx())
  }, 60_000)
  afterAll(() => h?.close())

  it('creates a user with identities and metadata; the password rules do not apply', async () => {
    const email = uniqueEmail('created')
    const { data, error } = await h.admin().auth.admin.createUser({ email, password: '123', email_confirm: true, user_metadata: { team: 'a' }, app_metadata: { plan: 'pro' } })
    expect(error).toBeNull()
    expect(data.user).toMatchObject({ email, role: 'authenticated', aud: 'authenticated', app_metadata: { provider: 'email', providers: ['email'], plan: 'pro' } })
    // As GoTrue: exactly the caller's object, without the identity's claims.
    expect(data.user!.user_metadata).toEqual({ team: 'a' })
    expect(data.user!.email_confirmed_at).toBeTruthy()
    expect(data.user!.identities![0]).toMatchObject({ provider: 'email', id: data.user!.id })
    const signIn = await h.client().auth.signInWithPassword({ email, password: '123' })
    expect(signIn.error).toBeNull()
    expect((signIn.data as { weakPassword?: { reasons: string[] } }).weakPassword?.reasons).toEqual(['length'])
  })

  it('accepts a bcrypt password_hash, so users from a Supabase dump keep their password', async () => {
    const email = uniqueEmail('hash')
    const hash = await bcrypt.hash('old-password', 10)
    const created = await h.raw('/admin/users', { method: 'POST', headers: { authorization: `Bearer ${h.app.serviceRoleKey}` }, json: { email, password_hash: hash, email_confirm: true } })
    expect(created.status).toBe(200)
    expect((await h.client().auth.signInWithPassword({ email, password: 'old-password' })).error).toBeNull()
    const bad = await h.raw('/admin/users', { method: 'POST', headers: { authorization: `Bearer ${h.app.serviceRoleKey}` }, json: { email: uniqueEmail(), password_hash: 'plain' } })
    expect(bad.status).toBe(400)
  })

  it('refuses duplicates, missing email/phone and bad ids with Supabase codes', async () => {
    const email = uniqueEmail('dup')
    await h.admin().auth.admin.createUser({ email, password: 'secret123' })
    const again = await h.admin().auth.admin.createUser({ email, password: 'secret123' })
    expect(again.error).toMatchObject({ status: 422, code: 'email_exists' })
    const none = await h.admin().auth.admin.createUser({ password: 'secret123' })
    expect(none.error).toMatchObject({ status: 400, message: 'Cannot create a user without either an email or phone' })
    const missing = await h.admin().auth.admin.getUserById('00000000-0000-4000-8000-000000000000')
    expect(missing.error).toMatchObject({ status: 404, code: 'user_not_found' })
    const badId = await h.raw('/admin/users/not-a-uuid', { headers: { authorization: `Bearer ${h.app.serviceRoleKey}` } })
    expect(badId.status).toBe(404)
  })

  it('is closed to anon keys and user tokens', async () => {
    const anon = await h.client().auth.admin.listUsers()
    expect(anon.error).toMatchObject({ status: 403, code: 'not_admin' })
    const client = h.client()
    const { data } = await client.auth.signUp({ email: uniqueEmail('notadmin'), password: 'secret123' })
    const asUser = await h.raw('/admin/users', { headers: { authorization: `Bearer ${data.session!.access_token}` } })
    expect(asUser.status).toBe(403)
  })

  it('lists users with X-Total-Count and a Link header the client can read', async () => {
    const admin = h.admin()
    for (let i = 0; i < 3; i++) await admin.auth.admin.createUser({ email: uniqueEmail('page'), password: 'secret123' })
    const total = (await admin.auth.admin.listUsers({ page: 1, perPage: 1000 })).data.users.length
    const first = await admin.auth.admin.listUsers({ page: 1, perPage: 2 })
    expect(first.error).toBeNull()
    expect(first.data.users).toHaveLength(2)
    expect(first.data).toMatchObject({ total, nextPage: 2, lastPage: Math.ceil(total / 2), aud: 'authenticated' })
    const raw = await h.raw('/admin/users?page=1&per_page=2', { headers: { authorization: `Bearer ${h.app.serviceRoleKey}` } })
    expect(raw.headers.get('x-total-count')).toBe(String(total))
    expect(raw.headers.get('link')).toBe(`</admin/users?page=2&per_page=2>; rel="next", </admin/users?page=${Math.ceil(total / 2)}&per_page=2>; rel="last"`)
    // newest first by default, no overlap between pages
    const second = await admin.auth.admin.listUsers({ page: 2, perPage: 2 })
    expect(second.data.users.map((u) => u.id)).not.toContain(first.data.users[0]!.id)
    const bad = await h.raw('/admin/users?page=zero', { headers: { authorization: `Bearer ${h.app.serviceRoleKey}` } })
    expect(bad.status).toBe(400)
    expect((await bad.json()).msg).toMatch(/^Bad Pagination Parameters/)
  })

  it('updates password (signing the user out), metadata and bans', async () => {
    const email = uniqueEmail('update')
    const admin = h.admin()
    const { data } = await admin.auth.admin.createUser({ email, password: 'secret123', email_confirm: true })
    const id = data.user!.id
    const client = h.client()
    await client.auth.signInWithPassword({ email, password: 'secret123' })
    const refresh = (await client.auth.getSession()).data.session!.refresh_token

    const upd = await admin.auth.admin.updateUserById(id, { password: 'new-secret-1', user_metadata: { nick: 'z' } })
    expect(upd.error).toBeNull()
    expect(upd.data.user!.user_metadata).toEqual({ nick: 'z' })
    const old = await h.raw('/token?grant_type=refresh_token', { method: 'POST', json: { refresh_token: refresh } })
    expect(old.status).toBe(400)
    expect((await h.client().auth.signInWithPassword({ email, password: 'new-secret-1' })).error).toBeNull()

    const weak = await admin.auth.admin.updateUserById(id, { password: '1' })
    expect(weak.error).toMatchObject({ status: 422, code: 'weak_password' })

    const banned = await admin.auth.admin.updateUserById(id, { ban_duration: '24h' })
    expect(banned.error).toBeNull()
    expect(Date.parse(banned.data.user!.banned_until as string)).toBeGreaterThan(Date.now() + 23 * 3600_000)
    const blocked = await h.client().auth.signInWithPassword({ email, password: 'new-secret-1' })
    expect(blocked.error).toMatchObject({ status: 400, code: 'user_banned' })
    const badBan = await admin.auth.admin.updateUserById(id, { ban_duration: 'forever' })
    expect(badBan.error).toMatchObject({ status: 400 })
    const unbanned = await admin.auth.admin.updateUserById(id, { ban_duration: 'none' })
    expect(unbanned.data.user!.banned_until).toBeUndefined()
    expect((await h.client().auth.signInWithPassword({ email, password: 'new-secret-1' })).error).toBeNull()
  })

  it('soft-deletes (obfuscated, sessions gone, row kept) and hard-deletes', async () => {
    const admin = h.admin()
    const email = uniqueEmail('soft')
    const { data } = await admin.auth.admin.createUser({ email, password: 'secret123', email_confirm: true })
    const id = data.user!.id
    const client = h.client()
    await client.auth.signInWithPassword({ email, password: 'secret123' })
    expect((await admin.auth.admin.deleteUser(id, true)).error).toBeNull()
    const kept = await admin.auth.admin.getUserById(id)
    expect(kept.data.user!.deleted_at).toBeTruthy()
    expect(kept.data.user!.email).not.toBe(email)
    expect((await client.auth.getUser()).error).not.toBeNull()
    expect((await h.client().auth.signInWithPassword({ email, password: 'secret123' })).error).toMatchObject({ code: 'invalid_credentials' })
    const row = await ctx().database.query<{ encrypted_password: string | null; meta: unknown }>('SELECT encrypted_password, raw_user_meta_data AS meta FROM auth.users WHERE id = $1', [id])
    expect(row.rows[0]).toEqual({ encrypted_password: null, meta: {} })
    expect((await admin.auth.admin.deleteUser(id, true)).error).toBeNull() // a repeat changes nothing

    const hard = (await admin.auth.admin.createUser({ email: uniqueEmail('hard'), password: 'secret123' })).data.user!.id
    expect((await admin.auth.admin.deleteUser(hard)).error).toBeNull()
    expect((await admin.auth.admin.getUserById(hard)).error).toMatchObject({ status: 404 })
  })

  it('invites a user by email; the invite link confirms and signs in', async () => {
    const email = uniqueEmail('invite')
    const { data, error } = await h.admin().auth.admin.inviteUserByEmail(email, { data: { invited: true } })
    expect(error).toBeNull()
    expect(data.user!.invited_at).toBeTruthy()
    const mail = await h.lastMail(email)
    expect(mail.kind).toBe('invite')
    const verified = await h.client().auth.verifyOtp({ email, token: mail.otp!, type: 'invite' })
    expect(verified.error).toBeNull()
    expect(verified.data.session).not.toBeNull()
    expect(verified.data.user!.email_confirmed_at).toBeTruthy()
    const again = await h.admin().auth.admin.inviteUserByEmail(email)
    expect(again.error).toMatchObject({ status: 422, code: 'email_exists' })
  })

  it('generates links without sending mail', async () => {
    const email = uniqueEmail('genlink')
    const admin = h.admin()
    await admin.auth.admin.createUser({ email, password: 'secret123', email_confirm: true })
    const { data, error } = await admin.auth.admin.generateLink({ type: 'magiclink', email })
    expect(error).toBeNull()
    expect(data.properties).toMatchObject({ verification_type: 'magiclink' })
    expect(data.properties!.action_link).toContain('/verify?token=')
    const verified = await h.client().auth.verifyOtp({ token_hash: data.properties!.hashed_token, type: 'magiclink' })
    expect(verified.error).toBeNull()
    expect(verified.data.user!.email).toBe(email)
    const signupEmail = uniqueEmail('gensignup')
    const signup = await admin.auth.admin.generateLink({ type: 'signup', email: signupEmail, password: 'secret123', options: { data: { status: 'alpha' } } })
    expect(signup.error).toBeNull()
    expect(signup.data.user!.email).toBe(signupEmail)
    expect(signup.data.user!.user_metadata).toEqual({ status: 'alpha' })
    expect((await h.client().auth.verifyOtp({ email: signupEmail, token: signup.data.properties!.email_otp, type: 'signup' })).error).toBeNull()
    const next = uniqueEmail('genchange')
    const change = await admin.auth.admin.generateLink({ type: 'email_change_new', email, newEmail: next })
    expect(change.error).toBeNull()
    expect(change.data.properties!.verification_type).toBe('email_change_new')
    await expect(h.lastMail(next)).rejects.toThrow() // generate_link sends nothing
    const unknown = await admin.auth.admin.generateLink({ type: 'recovery', email: uniqueEmail('nobody') })
    expect(unknown.error).toMatchObject({ status: 404, code: 'user_not_found' })
  })
})
