/**
 * Email flows with confirmations on, through supabase-js and the development outbox: sign-up
 * confirmation (OTP and link), recovery, OTP / magic link, email change (secure), resend,
 * reauthentication, and the PKCE variants.
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeEachDatabase } from '../support/databases.ts'
import { startAuth, uniqueEmail, type AuthHarness } from './support.ts'

describeEachDatabase('auth email flows', (ctx) => {
  let h: AuthHarness
  beforeAll(async () => {
    h = await startAuth(ctx(), { AUTH_AUTOCONFIRM: 'false', SITE_URL: 'http://app.example.com' })
  }, 60_000)
  afterAll(() => h?.close())

  it('signs up without a session, refuses the password until the OTP confirms the email', async () => {
    const email = uniqueEmail('confirm')
    const { data, error } = await h.client().auth.signUp({ email, password: 'secret123' })
    expect(error).toBeNull()
    expect(data.session).toBeNull()
    expect(data.user!.confirmation_sent_at).toBeTruthy()
    expect(data.user!.email_confirmed_at).toBeUndefined()
    const refused = await h.client().auth.signInWithPassword({ email, password: 'secret123' })
    expect(refused.error).toMatchObject({ status: 400, code: 'email_not_confirmed', message: 'Email not confirmed' })

    const mail = await h.lastMail(email)
    expect(mail).toMatchObject({ kind: 'signup', subject: 'Confirm Your Signup' })
    expect(mail.otp).toMatch(/^\d{6}$/)
    const wrong = await h.client().auth.verifyOtp({ email, token: '000000' === mail.otp ? '111111' : '000000', type: 'signup' })
    expect(wrong.error).toMatchObject({ status: 403, code: 'otp_expired', message: 'Token has expired or is invalid' })
    const verified = await h.client().auth.verifyOtp({ email, token: mail.otp!, type: 'signup' })
    expect(verified.error).toBeNull()
    expect(verified.data.session!.user.email_confirmed_at).toBeTruthy()
    expect(verified.data.user!.user_metadata.email_verified).toBe(true)
    const reuse = await h.client().auth.verifyOtp({ email, token: mail.otp!, type: 'signup' })
    expect(reuse.error).toMatchObject({ status: 403 })
    expect((await h.client().auth.signInWithPassword({ email, password: 'secret123' })).error).toBeNull()
    const tokens = await ctx().database.query('SELECT token_type FROM auth.one_time_tokens o JOIN auth.users u ON u.id = o.user_id WHERE u.email = $1', [email])
    expect(tokens.rows).toEqual([])
  })

  it('answers a repeated sign-up of a confirmed email with a fake user, not an error', async () => {
    const email = uniqueEmail('repeat')
    const admin = h.admin()
    const real = (await admin.auth.admin.createUser({ email, password: 'secret123', email_confirm: true })).data.user!
    const { data, error } = await h.client().auth.signUp({ email, password: 'other-secret' })
    expect(error).toBeNull()
    expect(data.user!.id).not.toBe(real.id)
    expect(data.session).toBeNull()
  })

  it('confirms through the email link with a 303 carrying the session in the fragment', async () => {
    const email = uniqueEmail('link')
    await h.client().auth.signUp({ email, password: 'secret123' }, )
    const mail = await h.lastMail(email)
    const link = new URL(mail.link!)
    expect(link.pathname).toBe('/auth/v1/verify')
    const res = await fetch(`${h.app.url}/auth/v1/verify${link.search}`, { redirect: 'manual' })
    expect(res.status).toBe(303)
    const location = new URL(res.headers.get('location')!)
    expect(location.origin).toBe('http://app.example.com')
    const fragment = new URLSearchParams(location.hash.slice(1))
    expect(fragment.get('type')).toBe('signup')
    expect(fragment.get('token_type')).toBe('bearer')
    const user = await h.client().auth.getUser(fragment.get('access_token')!)
    expect(user.data.user!.email).toBe(email)

    const again = await fetch(`${h.app.url}/auth/v1/verify${link.search}`, { redirect: 'manual' })
    const failed = new URLSearchParams(new URL(again.headers.get('location')!).hash.slice(1))
    expect(failed.get('error_code')).toBe('otp_expired')
    expect(failed.get('error')).toBe('access_denied')
  })

  it('never redirects to a foreign site', async () => {
    const email = uniqueEmail('redirect')
    await h.client().auth.signUp({ email, password: 'secret123', options: { emailRedirectTo: 'https://evil.example.net/steal' } })
    const mail = await h.lastMail(email)
    expect(mail.link).not.toContain('evil.example.net')
    const res = await fetch(mail.link!.replace(/^.*\/auth\/v1/, `${h.app.url}/auth/v1`).replace(/redirect_to=[^&]*/, 'redirect_to=https%3A%2F%2Fevil.example.net'), { redirect: 'manual' })
    expect(new URL(res.headers.get('location')!).origin).toBe('http://app.example.com')
  })

  it('recovers a password; unknown emails get the same empty answer', async () => {
    const email = uniqueEmail('recover')
    await h.admin().auth.admin.createUser({ email, password: 'secret123', email_confirm: true })
    expect((await h.client().auth.resetPasswordForEmail(email)).error).toBeNull()
    expect((await h.client().auth.resetPasswordForEmail(uniqueEmail('ghost'))).error).toBeNull()
    const mail = await h.lastMail(email)
    expect(mail).toMatchObject({ kind: 'recovery', subject: 'Reset Your Password' })
    const client = h.client()
    const verified = await client.auth.verifyOtp({ email, token: mail.otp!, type: 'recovery' })
    expect(verified.error).toBeNull()
    const same = await client.auth.updateUser({ password: 'secret123' })
    expect(same.error).toMatchObject({ status: 422, code: 'same_password' })
    expect((await client.auth.updateUser({ password: 'brand-new-1' })).error).toBeNull()
    expect((await h.client().auth.signInWithPassword({ email, password: 'brand-new-1' })).error).toBeNull()
    const missing = await h.raw('/recover', { method: 'POST', json: {} })
    expect(missing.status).toBe(400)
  })

  it('signs in with an email OTP, creating the user when allowed', async () => {
    const email = uniqueEmail('otp')
    const refused = await h.client().auth.signInWithOtp({ email, options: { shouldCreateUser: false } })
    expect(refused.error).toMatchObject({ status: 422, code: 'otp_disabled' })
    expect((await h.client().auth.signInWithOtp({ email, options: { data: { source: 'otp' } } })).error).toBeNull()
    const first = await h.lastMail(email)
    expect(first.kind).toBe('signup')
    const session = await h.client().auth.verifyOtp({ email, token: first.otp!, type: 'email' })
    expect(session.error).toBeNull()
    expect(session.data.user!.user_metadata.source).toBe('otp')

    expect((await h.client().auth.signInWithOtp({ email })).error).toBeNull()
    const magic = await h.lastMail(email)
    expect(magic.kind).toBe('magiclink')
    const again = await h.client().auth.verifyOtp({ email, token: magic.otp!, type: 'email' })
    expect(again.error).toBeNull()
    expect(again.data.session!.access_token).toBeTruthy()
  })

  it('changes the email after both addresses confirm (secure email change)', async () => {
    const email = uniqueEmail('old')
    const next = uniqueEmail('new')
    await h.admin().auth.admin.createUser({ email, password: 'secret123', email_confirm: true })
    const client = h.client()
    await client.auth.signInWithPassword({ email, password: 'secret123' })
    const upd = await client.auth.updateUser({ email: next })
    expect(upd.error).toBeNull()
    expect(upd.data.user!.new_email).toBe(next)
    expect(upd.data.user!.email).toBe(email)
    const toOld = await h.lastMail(email)
    const toNew = await h.lastMail(next)
    expect(toOld.kind).toBe('email_change_current')
    expect(toNew.kind).toBe('email_change_new')

    const half = await h.raw('/verify', { method: 'POST', json: { email, token: toOld.otp, type: 'email_change' } })
    expect(half.status).toBe(200)
    expect(await half.json()).toEqual({ msg: 'Confirmation link accepted. Please proceed to confirm link sent to the other email', code: '200' })
    const done = await h.client().auth.verifyOtp({ email: next, token: toNew.otp!, type: 'email_change' })
    expect(done.error).toBeNull()
    expect(done.data.user!.email).toBe(next)
    expect((await h.client().auth.signInWithPassword({ email: next, password: 'secret123' })).error).toBeNull()

    const taken = uniqueEmail('taken')
    await h.admin().auth.admin.createUser({ email: taken, password: 'secret123' })
    const clash = await client.auth.updateUser({ email: taken })
    expect(clash.error).toMatchObject({ status: 422, code: 'email_exists' })
  })

  it('resends a signup confirmation, and refuses unknown types', async () => {
    const email = uniqueEmail('resend')
    await h.client().auth.signUp({ email, password: 'secret123' })
    const first = await h.lastMail(email)
    expect((await h.client().auth.resend({ type: 'signup', email })).error).toBeNull()
    const second = await h.lastMail(email)
    expect(second.id).not.toBe(first.id)
    expect((await h.client().auth.verifyOtp({ email, token: first.otp!, type: 'signup' })).error).toMatchObject({ status: 403 })
    expect((await h.client().auth.verifyOtp({ email, token: second.otp!, type: 'signup' })).error).toBeNull()
    const bad = await h.raw('/resend', { method: 'POST', json: { email, type: 'nonsense' } })
    expect(bad.status).toBe(400)
  })

  it('reauthenticates with a nonce before a password change', async () => {
    const email = uniqueEmail('reauth')
    await h.admin().auth.admin.createUser({ email, password: 'secret123', email_confirm: true })
    const client = h.client()
    await client.auth.signInWithPassword({ email, password: 'secret123' })
    expect((await client.auth.reauthenticate()).error).toBeNull()
    const mail = await h.lastMail(email)
    expect(mail.kind).toBe('reauthentication')
    const bad = await client.auth.updateUser({ password: 'changed-1', nonce: '000000' === mail.otp ? '111111' : '000000' })
    expect(bad.error).toMatchObject({ status: 422, code: 'reauthentication_not_valid' })
    expect((await client.auth.updateUser({ password: 'changed-1', nonce: mail.otp! })).error).toBeNull()
  })

  it('expires OTPs after AUTH_OTP_EXP', async () => {
    const email = uniqueEmail('expired')
    await h.client().auth.signUp({ email, password: 'secret123' })
    const mail = await h.lastMail(email)
    await ctx().database.query(`UPDATE auth.users SET confirmation_sent_at = now() - interval '2 days' WHERE email = $1`, [email])
    const res = await h.client().auth.verifyOtp({ email, token: mail.otp!, type: 'signup' })
    expect(res.error).toMatchObject({ status: 403, code: 'otp_expired' })
  })

  it('PKCE: the link hands out a code that the client exchanges with its verifier', async () => {
    const email = uniqueEmail('pkce')
    const client = h.client({ flowType: 'pkce' })
    const { data, error } = await client.auth.signUp({ email, password: 'secret123' })
    expect(error).toBeNull()
    expect(data.session).toBeNull()
    const mail = await h.lastMail(email)
    expect(mail.link).toContain('token=pkce_')
    const res = await fetch(mail.link!.replace(/^.*\/auth\/v1/, `${h.app.url}/auth/v1`), { redirect: 'manual' })
    expect(res.status).toBe(303)
    const code = new URL(res.headers.get('location')!).searchParams.get('code')
    expect(code).toBeTruthy()
    const wrongClient = await h.client({ flowType: 'pkce' }).auth.exchangeCodeForSession(code!)
    expect(wrongClient.error).not.toBeNull()
    const exchanged = await client.auth.exchangeCodeForSession(code!)
    expect(exchanged.error).toBeNull()
    expect(exchanged.data.session!.user.email).toBe(email)
    const twice = await client.auth.exchangeCodeForSession(code!)
    expect(twice.error).not.toBeNull()
    const bogus = await h.raw('/token?grant_type=pkce', { method: 'POST', json: { auth_code: 'nope', code_verifier: 'x'.repeat(50) } })
    expect(bogus.status).toBe(404)
    expect((await bogus.json()).error_code).toBe('flow_state_not_found')
  })

  it('PKCE password recovery', async () => {
    const email = uniqueEmail('pkcerecover')
    await h.admin().auth.admin.createUser({ email, password: 'secret123', email_confirm: true })
    const client = h.client({ flowType: 'pkce' })
    expect((await client.auth.resetPasswordForEmail(email)).error).toBeNull()
    const mail = await h.lastMail(email)
    const res = await fetch(mail.link!.replace(/^.*\/auth\/v1/, `${h.app.url}/auth/v1`), { redirect: 'manual' })
    const code = new URL(res.headers.get('location')!).searchParams.get('code')!
    const exchanged = await client.auth.exchangeCodeForSession(code)
    expect(exchanged.error).toBeNull()
    expect((await client.auth.updateUser({ password: 'recovered-1' })).error).toBeNull()
  })

  it('phone codes (sms, phone_change): no SMS is ever sent, so every code is wrong; the phone format is checked first', async () => {
    for (const type of ['sms', 'phone_change'] as const) {
      const wrong = await h.client().auth.verifyOtp({ phone: '15555550100', token: '123456', type })
      expect(wrong.error).toMatchObject({ status: 403, code: 'otp_expired', message: 'Token has expired or is invalid' })
      expect(wrong.data.user).toBeNull()
      const malformed = await h.client().auth.verifyOtp({ phone: '15555550100-invalid', token: '123456', type })
      expect(malformed.error).toMatchObject({ status: 400, code: 'validation_failed', message: 'Invalid phone number format (E.164 required)' })
    }
    const noPhone = await h.raw('/verify', { method: 'POST', json: { type: 'sms', token: '123456' } })
    expect(noPhone.status).toBe(400)
  })

  it('resending a phone code: {} when none is pending, the provider error when one would need an SMS', async () => {
    for (const type of ['sms', 'phone_change'] as const) {
      const none = await h.client().auth.resend({ type, phone: '15555550111' })
      expect(none.error).toBeNull()
    }
    const malformed = await h.client().auth.resend({ type: 'sms', phone: 'not-a-phone' })
    expect(malformed.error).toMatchObject({ status: 400, message: 'Invalid phone number format (E.164 required)' })
    const created = await h.admin().auth.admin.createUser({ phone: '15555550112', password: 'secret123' })
    expect(created.error).toBeNull()
    const pending = await h.client().auth.resend({ type: 'sms', phone: '15555550112' })
    expect(pending.error).toMatchObject({ status: 400, code: 'phone_provider_disabled' })
    // Without AUTH_SMS_AUTOCONFIRM a phone sign-up would need an SMS.
    const signup = await h.client().auth.signUp({ phone: '15555550113', password: 'secret123' })
    expect(signup.error).toMatchObject({ status: 400, code: 'phone_provider_disabled' })
  })
})
