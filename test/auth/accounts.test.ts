/**
 * Accounts an attacker must not take over or probe (issue 12, points 3 and 13): a repeated
 * sign-up never changes the existing account nor shows any of it, with and without autoconfirm;
 * `/recover`, `/otp` and a banned account's sign-in reveal no more than Supabase's do.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readOutbox } from '../../src/auth/mailer.ts'
import { describeEachDatabase } from '../support/databases.ts'
import { startAuth, uniqueEmail, type AuthHarness } from './support.ts'

const V = { 'x-supabase-api-version': '2024-01-01' }

describeEachDatabase('auth accounts', (ctx) => {
  let confirming: AuthHarness // confirmations on (hosted Supabase's default)
  let throttled: AuthHarness // confirmations on, one mail per minute per user
  let autoconfirm: AuthHarness
  beforeAll(async () => {
    confirming = await startAuth(ctx(), { AUTH_AUTOCONFIRM: 'false' })
    throttled = await startAuth(ctx(), { AUTH_AUTOCONFIRM: 'false', AUTH_SMTP_MAX_FREQUENCY: '60' })
    autoconfirm = await startAuth(ctx(), { AUTH_AUTOCONFIRM: 'true' })
  }, 60_000)
  afterAll(async () => {
    await confirming?.close()
    await throttled?.close()
    await autoconfirm?.close()
  })

  const row = async (email: string) =>
    (
      await ctx().database.query<{ id: string; encrypted_password: string; raw_user_meta_data: Record<string, unknown>; email_confirmed_at: string | null }>(
        'SELECT id, encrypted_password, raw_user_meta_data, email_confirmed_at FROM auth.users WHERE email = $1',
        [email],
      )
    ).rows[0]!
  const mails = async (email: string) => readOutbox(ctx().database, email, 100)

  describe('a repeated sign-up', () => {
    it('of an unconfirmed address changes nothing, shows nothing, and the owner keeps the account', async () => {
      const email = uniqueEmail('pending')
      const owner = await confirming.client().auth.signUp({ email, password: 'owner-secret', options: { data: { name: 'Owner', plan: 'gold' } } })
      expect(owner.error).toBeNull()
      const before = await row(email)

      const attacker = await confirming.client().auth.signUp({ email, password: 'attacker-secret', options: { data: { name: 'Mallory' } } })
      expect(attacker.error).toBeNull()
      expect(attacker.data.session).toBeNull()
      const fake = attacker.data.user!
      expect(fake.id).not.toBe(before.id)
      expect(fake.identities).toEqual([])
      expect(fake.user_metadata).toEqual({ name: 'Mallory' })
      expect(fake.email).toBe(email)
      expect(JSON.stringify(attacker.data)).not.toMatch(/Owner|gold/)
      expect(JSON.stringify(attacker.data)).not.toContain(before.id)

      const after = await row(email)
      expect(after.encrypted_password).toBe(before.encrypted_password)
      expect(after.raw_user_meta_data).toEqual(before.raw_user_meta_data)

      // At most a fresh confirmation mail, to the owner; confirming it signs the owner in.
      const sent = await mails(email)
      expect(sent).toHaveLength(2)
      const confirmed = await confirming.client().auth.verifyOtp({ email, token: sent[0]!.otp!, type: 'signup' })
      expect(confirmed.error).toBeNull()
      expect(confirmed.data.user!.id).toBe(before.id)
      const stolen = await confirming.client().auth.signInWithPassword({ email, password: 'attacker-secret' })
      expect(stolen.error).toMatchObject({ status: 400, code: 'invalid_credentials' })
      expect((await confirming.client().auth.signInWithPassword({ email, password: 'owner-secret' })).error).toBeNull()
    })

    it('of a confirmed address answers with an obfuscated user and changes nothing', async () => {
      const email = uniqueEmail('taken')
      const real = (await confirming.admin().auth.admin.createUser({ email, password: 'owner-secret', email_confirm: true, user_metadata: { name: 'Owner' } })).data.user!
      const before = await row(email)
      const res = await confirming.raw('/signup', { method: 'POST', headers: V, json: { email, password: 'attacker-secret', data: { x: 1 } } })
      expect(res.status).toBe(200)
      const body = await res.json()
      expect(body).toMatchObject({ email, identities: [], user_metadata: { x: 1 }, app_metadata: { provider: 'email', providers: ['email'] } })
      expect(body.id).not.toBe(real.id)
      expect(body).not.toHaveProperty('email_confirmed_at')
      expect(body).not.toHaveProperty('last_sign_in_at')
      expect(await row(email)).toEqual(before)
      expect(await mails(email)).toHaveLength(0)
    })

    it('of a pending address inside the mail frequency answers like a new address, not 429', async () => {
      const email = uniqueEmail('pending-throttled')
      expect((await throttled.client().auth.signUp({ email, password: 'owner-secret' })).error).toBeNull()
      const again = await throttled.raw('/signup', { method: 'POST', headers: V, json: { email, password: 'attacker-secret' } })
      expect(again.status).toBe(200)
      expect((await again.json()).identities).toEqual([])
      expect(await mails(email)).toHaveLength(1)
    })

    it('with autoconfirm on: 422 user_already_exists, confirmed or not, and no session for the caller', async () => {
      const confirmedEmail = uniqueEmail('ac-confirmed')
      await autoconfirm.admin().auth.admin.createUser({ email: confirmedEmail, password: 'owner-secret', email_confirm: true })
      const pendingEmail = uniqueEmail('ac-pending')
      await autoconfirm.admin().auth.admin.createUser({ email: pendingEmail, password: 'owner-secret', email_confirm: false })
      for (const email of [confirmedEmail, pendingEmail]) {
        const before = await row(email)
        const { data, error } = await autoconfirm.client().auth.signUp({ email, password: 'attacker-secret' })
        expect(error).toMatchObject({ status: 422, code: 'user_already_exists', message: 'User already registered' })
        expect(data.session).toBeNull()
        expect(await row(email)).toEqual(before)
      }
      const audit = await ctx().database.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM auth.audit_log_entries WHERE payload->>'action' = 'user_repeated_signup' AND payload->>'actor_username' IN ($1, $2)`,
        [confirmedEmail, pendingEmail],
      )
      expect(audit.rows[0]!.n).toBe(2)
    })
  })

  describe('what an address reveals', () => {
    async function bannedUser(h: AuthHarness, prefix: string): Promise<string> {
      const email = uniqueEmail(prefix)
      const { data } = await h.admin().auth.admin.createUser({ email, password: 'owner-secret', email_confirm: true })
      const banned = await h.admin().auth.admin.updateUserById(data.user!.id, { ban_duration: '24h' })
      expect(banned.error).toBeNull()
      return email
    }

    it('a banned account answers a wrong password like an unknown one; only the right password learns of the ban', async () => {
      const email = await bannedUser(autoconfirm, 'banned')
      const signIn = (address: string, password: string) =>
        autoconfirm.raw('/token?grant_type=password', { method: 'POST', headers: V, json: { email: address, password } })
      const unknown = await signIn(uniqueEmail('nobody'), 'guess-123')
      const guessed = await signIn(email, 'guess-123')
      expect(guessed.status).toBe(unknown.status)
      expect(await guessed.json()).toEqual(await unknown.json())
      const owner = await signIn(email, 'owner-secret')
      expect(owner.status).toBe(400)
      expect(await owner.json()).toEqual({ code: 'user_banned', message: 'User is banned' })
    })

    it('/recover answers {} for known, unknown, pending and banned addresses alike', async () => {
      const known = uniqueEmail('recover-known')
      await confirming.admin().auth.admin.createUser({ email: known, password: 'owner-secret', email_confirm: true })
      const pending = uniqueEmail('recover-pending')
      await confirming.admin().auth.admin.createUser({ email: pending, password: 'owner-secret' })
      const banned = await bannedUser(confirming, 'recover-banned')
      const answers = []
      for (const email of [known, uniqueEmail('recover-nobody'), pending, banned]) {
        const res = await confirming.raw('/recover', { method: 'POST', headers: V, json: { email } })
        answers.push({ status: res.status, body: await res.text() })
      }
      expect(new Set(answers.map((a) => JSON.stringify(a)))).toEqual(new Set([JSON.stringify({ status: 200, body: '{}' })]))
      const viaClient = await confirming.client().auth.resetPasswordForEmail(uniqueEmail('recover-nobody'))
      expect(viaClient).toEqual({ data: {}, error: null })
    })

    it('/otp with create_user false: Supabase\'s 422 for an unknown address; a banned one gets {} and no mail', async () => {
      const unknown = await confirming.client().auth.signInWithOtp({ email: uniqueEmail('otp-nobody'), options: { shouldCreateUser: false } })
      expect(unknown.error).toMatchObject({ status: 422, code: 'otp_disabled', message: 'Signups not allowed for otp' })
      const banned = await bannedUser(confirming, 'otp-banned')
      const res = await confirming.raw('/otp', { method: 'POST', headers: V, json: { email: banned, create_user: false } })
      expect(res.status).toBe(200)
      expect(await res.json()).toEqual({})
      expect(await mails(banned)).toHaveLength(0)
    })
  })
})
