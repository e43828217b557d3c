/**
 * Anonymous users (sign-in, claims, rows, conversion), the audit log, and rate limits: per IP
 * (only with AUTH_RATE_LIMIT_HEADER, as GoTrue), per email (AUTH_SMTP_MAX_FREQUENCY) and the
 * global email budget, all answered with 429 and Supabase's codes.
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeEachDatabase } from '../support/databases.ts'
import { jwtPayload, startAuth, uniqueEmail, type AuthHarness } from './support.ts'

const V = { 'x-supabase-api-version': '2024-01-01' }

describeEachDatabase('auth anonymous users and limits', (ctx) => {
  let h: AuthHarness
  let limited: AuthHarness
  let closed: AuthHarness
  beforeAll(async () => {
    h = await startAuth(ctx())
    limited = await startAuth(ctx(), {
      AUTH_AUTOCONFIRM: 'false',
      AUTH_RATE_LIMIT_HEADER: 'X-Forwarded-For',
      AUTH_RATE_LIMIT_OTP: '3',
      AUTH_RATE_LIMIT_TOKEN_REFRESH: '2',
      AUTH_RATE_LIMIT_ANONYMOUS_USERS: '1',
      AUTH_SMTP_MAX_FREQUENCY: '60',
      AUTH_RATE_LIMIT_EMAIL_SENT: '30',
    })
    closed = await startAuth(ctx(), { AUTH_ANONYMOUS_USERS: 'false', AUTH_DISABLE_SIGNUP: 'true' })
  }, 60_000)
  afterAll(async () => {
    await h?.close()
    await limited?.close()
    await closed?.close()
  })

  it('signs in anonymously: is_anonymous claim, amr anonymous, no identity, Supabase row values', async () => {
    const client = h.client()
    const { data, error } = await client.auth.signInAnonymously({ options: { data: { theme: 'dark' } } })
    expect(error).toBeNull()
    expect(data.user).toMatchObject({ is_anonymous: true, email: '', phone: '', app_metadata: {}, user_metadata: { theme: 'dark' }, identities: [] })
    const claims = jwtPayload(data.session!.access_token)
    expect(claims).toMatchObject({ role: 'authenticated', is_anonymous: true, email: '' })
    expect((claims.amr as Array<{ method: string }>)[0]!.method).toBe('anonymous')
    const row = await ctx().database.query<Record<string, unknown>>('SELECT email, phone, encrypted_password, is_anonymous FROM auth.users WHERE id = $1', [data.user!.id])
    expect(row.rows[0]).toEqual({ email: null, phone: null, encrypted_password: '', is_anonymous: true })
    const pw = await client.auth.updateUser({ password: 'secret123' })
    expect(pw.error).toMatchObject({ status: 422 })
  })

  it('converts an anonymous user to a permanent one by adding an email (autoconfirm)', async () => {
    const client = h.client()
    const { data } = await client.auth.signInAnonymously()
    const email = uniqueEmail('convert')
    const upd = await client.auth.updateUser({ email })
    expect(upd.error).toBeNull()
    expect(upd.data.user).toMatchObject({ id: data.user!.id, email, is_anonymous: false })
    expect((await client.auth.updateUser({ password: 'secret123' })).error).toBeNull()
    const signIn = await h.client().auth.signInWithPassword({ email, password: 'secret123' })
    expect(signIn.error).toBeNull()
    expect(jwtPayload(signIn.data.session!.access_token).is_anonymous).toBe(false)
  })

  it('refuses anonymous sign-ins and sign-ups when they are off', async () => {
    const anon = await closed.client().auth.signInAnonymously()
    expect(anon.error).toMatchObject({ status: 422, code: 'signup_disabled' })
    const signup = await closed.client().auth.signUp({ email: uniqueEmail(), password: 'secret123' })
    expect(signup.error).toMatchObject({ status: 422, code: 'signup_disabled', message: 'Signups not allowed for this instance' })
    const settings = await (await closed.raw('/settings')).json()
    expect(settings).toMatchObject({ disable_signup: true, external: { anonymous_users: false } })
    const noAnon = await startAuth(ctx(), { AUTH_ANONYMOUS_USERS: 'false' })
    try {
      const refused = await noAnon.client().auth.signInAnonymously()
      expect(refused.error).toMatchObject({ status: 422, code: 'anonymous_provider_disabled', message: 'Anonymous sign-ins are disabled' })
    } finally {
      await noAnon.close()
    }
  })

  it('rejects user-only calls that try to set app_metadata', async () => {
    const client = h.client()
    await client.auth.signUp({ email: uniqueEmail('appmeta'), password: 'secret123' })
    const token = (await client.auth.getSession()).data.session!.access_token
    const res = await h.raw('/user', { method: 'PUT', headers: { ...V, authorization: `Bearer ${token}` }, json: { app_metadata: { role: 'admin' } } })
    expect(res.status).toBe(403)
    expect(await res.json()).toEqual({ code: 'not_admin', message: 'Updating app_metadata requires admin privileges' })
  })

  it('writes an audit trail the admin can read', async () => {
    const email = uniqueEmail('audit')
    const client = h.client()
    await client.auth.signUp({ email, password: 'secret123' })
    await client.auth.refreshSession()
    await client.auth.signOut()
    const res = await h.raw('/admin/audit?per_page=100', { headers: { authorization: `Bearer ${h.app.serviceRoleKey}` } })
    const entries = (await res.json()) as Array<{ payload: { action: string; actor_username: string; log_type: string } }>
    const mine = entries.filter((e) => e.payload.actor_username === email).map((e) => e.payload.action)
    expect(mine).toEqual(expect.arrayContaining(['user_signedup', 'login', 'token_revoked', 'token_refreshed', 'logout']))
  })

  it('limits OTP-type requests per IP only when the header names one', async () => {
    const ip = { 'x-forwarded-for': '203.0.113.7' }
    const statuses: number[] = []
    for (let i = 0; i < 4; i++) statuses.push((await limited.raw('/recover', { method: 'POST', headers: { ...ip, ...V }, json: { email: uniqueEmail('ipl') } })).status)
    expect(statuses).toEqual([200, 200, 200, 429])
    const res = await limited.raw('/recover', { method: 'POST', headers: { ...ip, ...V }, json: { email: uniqueEmail('ipl') } })
    expect(await res.json()).toEqual({ code: 'over_request_rate_limit', message: 'Request rate limit reached' })
    const other = await limited.raw('/recover', { method: 'POST', headers: { 'x-forwarded-for': '203.0.113.8' }, json: { email: uniqueEmail('ipl') } })
    expect(other.status).toBe(200)
  })

  it('limits token grants and anonymous sign-ups per IP', async () => {
    const ip = { 'x-forwarded-for': '198.51.100.1' }
    const grants = []
    for (let i = 0; i < 3; i++) grants.push((await limited.raw('/token?grant_type=password', { method: 'POST', headers: ip, json: { email: 'a@example.com', password: 'x' } })).status)
    expect(grants).toEqual([400, 400, 429])
    const anonIp = { 'x-forwarded-for': '198.51.100.2' }
    const anon = []
    for (let i = 0; i < 2; i++) anon.push((await limited.raw('/signup', { method: 'POST', headers: anonIp, json: {} })).status)
    expect(anon[1]).toBe(429)
  })

  it('sends at most one mail per user per AUTH_SMTP_MAX_FREQUENCY', async () => {
    const email = uniqueEmail('freq')
    const client = limited.client({ headers: { 'x-forwarded-for': '192.0.2.50' } })
    const first = await client.auth.signUp({ email, password: 'secret123' })
    expect(first.error).toBeNull()
    const again = await limited.client({ headers: { 'x-forwarded-for': '192.0.2.51' } }).auth.resend({ type: 'signup', email })
    expect(again.error).toMatchObject({ status: 429, code: 'over_email_send_rate_limit' })
    expect(again.error!.message).toMatch(/^For security purposes, you can only request this after \d+ seconds\.$/)
  })
})
