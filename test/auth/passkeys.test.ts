/**
 * Passkeys through supabase-js (`auth.passkey`, `auth.admin.passkey`) with a software
 * authenticator: registration, discoverable sign-in to a working session, list / rename /
 * delete, the admin API, and the refusals — replayed, foreign and unknown challenges, another
 * origin, a broken signature, an unregistered key, someone else's user handle, aal2 under MFA,
 * the feature switched off.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SupabaseClient } from '@supabase/supabase-js'
import { describeEachDatabase } from '../support/databases.ts'
import { SoftwareAuthenticator } from './authenticator.ts'
import { jwtPayload, startAuth, uniqueEmail, type AuthHarness } from './support.ts'

const RP_ID = 'localhost'
const ORIGIN = 'http://localhost:5173'
const PASSKEY_ENV = { AUTH_PASSKEY_ENABLED: 'true', AUTH_WEBAUTHN_RP_ID: RP_ID, AUTH_WEBAUTHN_RP_ORIGINS: ORIGIN, AUTH_WEBAUTHN_RP_DISPLAY_NAME: 'tests' }

describeEachDatabase('auth passkeys', (ctx) => {
  let h: AuthHarness
  beforeAll(async () => {
    h = await startAuth(ctx(), PASSKEY_ENV)
  }, 60_000)
  afterAll(() => h?.close())

  async function signedUp(): Promise<{ client: SupabaseClient; userId: string; email: string }> {
    const email = uniqueEmail('passkey')
    const client = h.client({ passkey: true })
    const { data, error } = await client.auth.signUp({ email, password: 'secret123' })
    expect(error).toBeNull()
    return { client, userId: data.user!.id, email }
  }

  async function registered(client: SupabaseClient, key = new SoftwareAuthenticator(RP_ID, ORIGIN)) {
    const { data: options, error } = await client.auth.passkey.startRegistration()
    expect(error).toBeNull()
    const { data, error: verifyError } = await client.auth.passkey.verifyRegistration({ challengeId: options!.challenge_id, credential: key.create(options!.options) as never })
    expect(verifyError).toBeNull()
    return { key, passkey: data! }
  }

  async function signInWith(key: SoftwareAuthenticator, lie: Parameters<SoftwareAuthenticator['get']>[1] = {}) {
    const client = h.client({ passkey: true })
    const { data: options, error } = await client.auth.passkey.startAuthentication()
    expect(error).toBeNull()
    expect(options!.options.allowCredentials ?? []).toHaveLength(0)
    const assertion = key.get(options!.options, lie)
    const result = await client.auth.passkey.verifyAuthentication({ challengeId: options!.challenge_id, credential: assertion as never })
    return { client, options: options!, assertion, ...result }
  }

  it('registers a passkey and signs in with it to a working session', async () => {
    const { client, userId, email } = await signedUp()
    const { data: options } = await client.auth.passkey.startRegistration()
    expect(options!.options).toMatchObject({ rp: { id: RP_ID, name: 'tests' }, user: { id: Buffer.from(userId).toString('base64url'), name: email }, attestation: 'none' })
    expect(options!.options.authenticatorSelection).toMatchObject({ residentKey: 'required', userVerification: 'preferred' })
    expect(options!.options.pubKeyCredParams).toEqual(expect.arrayContaining([{ alg: -7, type: 'public-key' }]))
    expect(options!.expires_at).toBeGreaterThan(Date.now() / 1000 + 250)

    const { key, passkey } = await registered(client)
    expect(passkey.id).toMatch(/^[0-9a-f-]{36}$/)
    const stored = await ctx().database.query<{ credential_id: Uint8Array; user_id: string }>('SELECT credential_id, user_id FROM auth.webauthn_credentials WHERE id = $1', [passkey.id])
    expect(Buffer.from(stored.rows[0]!.credential_id).equals(key.credentialId)).toBe(true)
    expect(stored.rows[0]!.user_id).toBe(userId)

    const signIn = await signInWith(key)
    expect(signIn.error).toBeNull()
    expect(signIn.data!.user!.id).toBe(userId)
    const claims = jwtPayload(signIn.data!.session!.access_token)
    expect(claims).toMatchObject({ sub: userId, aal: 'aal1', amr: [expect.objectContaining({ method: 'passkey' })] })
    const { data: me, error: meError } = await signIn.client.auth.getUser()
    expect(meError).toBeNull()
    expect(me.user!.id).toBe(userId)

    const { data: listed } = await client.auth.passkey.list()
    expect(listed).toEqual([{ id: passkey.id, created_at: expect.any(String), last_used_at: expect.any(String) }])
  })

  it('uses each challenge once and only for its own user and ceremony', async () => {
    const { client } = await signedUp()
    const { key } = await registered(client)
    const first = await signInWith(key)
    expect(first.error).toBeNull()
    const replay = await first.client.auth.passkey.verifyAuthentication({ challengeId: first.options.challenge_id, credential: first.assertion as never })
    expect(replay.error).toMatchObject({ status: 400, code: 'webauthn_challenge_not_found' })

    // A registration challenge of one user is useless to another, and as a sign-in challenge.
    const { data: theirs } = await client.auth.passkey.startRegistration()
    const other = await signedUp()
    const stolen = await other.client.auth.passkey.verifyRegistration({ challengeId: theirs!.challenge_id, credential: new SoftwareAuthenticator(RP_ID, ORIGIN).create(theirs!.options) as never })
    expect(stolen.error).toMatchObject({ status: 400, code: 'webauthn_challenge_not_found' })
    const { data: again } = await client.auth.passkey.startRegistration()
    const crossed = await h.client({ passkey: true }).auth.passkey.verifyAuthentication({ challengeId: again!.challenge_id, credential: key.get(again!.options as never) as never })
    expect(crossed.error).toMatchObject({ code: 'webauthn_challenge_not_found' })

    const unknown = await client.auth.passkey.verifyRegistration({ challengeId: '00000000-0000-0000-0000-000000000000', credential: key.create(again!.options) as never })
    expect(unknown.error).toMatchObject({ code: 'webauthn_challenge_not_found' })
    const malformed = await h.raw('/passkeys/authentication/verify', { method: 'POST', json: { challenge_id: "x' OR 1=1 --", credential: {} } })
    expect(malformed.status).toBe(400)
    expect(await malformed.json()).toMatchObject({ error_code: 'validation_failed', msg: 'challenge_id must be a valid UUID' })
  })

  it('refuses another origin, a broken signature, an unregistered key and a foreign user handle', async () => {
    const { client, userId } = await signedUp()
    const { key } = await registered(client)
    for (const lie of [{ origin: 'https://evil.example' }, { breakSignature: true }]) {
      const attempt = await signInWith(key, lie)
      expect(attempt.error).toMatchObject({ status: 400, code: 'webauthn_verification_failed' })
    }
    const stranger = new SoftwareAuthenticator(RP_ID, ORIGIN)
    stranger.create({ challenge: 'x', rp: { id: RP_ID }, user: { id: Buffer.from(userId).toString('base64url') } })
    expect((await signInWith(stranger)).error).toMatchObject({ code: 'webauthn_verification_failed' })
    const other = await signedUp()
    expect((await signInWith(key, { userHandle: Buffer.from(other.userId).toString('base64url') })).error).toMatchObject({ code: 'webauthn_verification_failed' })

    // A registration from another origin stores nothing.
    const { data: options } = await client.auth.passkey.startRegistration()
    const phished = await client.auth.passkey.verifyRegistration({ challengeId: options!.challenge_id, credential: new SoftwareAuthenticator(RP_ID, ORIGIN).create(options!.options, { origin: 'https://evil.example' }) as never })
    expect(phished.error).toMatchObject({ code: 'webauthn_verification_failed' })
    expect((await client.auth.passkey.list()).data).toHaveLength(1)
    expect((await signInWith(key)).error).toBeNull()
  })

  it('renames and deletes, its own passkeys only; a deleted passkey signs no one in', async () => {
    const { client } = await signedUp()
    const { key, passkey } = await registered(client)
    const renamed = await client.auth.passkey.update({ passkeyId: passkey.id, friendlyName: 'laptop' })
    expect(renamed.data).toMatchObject({ id: passkey.id, friendly_name: 'laptop' })
    const empty = await client.auth.passkey.update({ passkeyId: passkey.id, friendlyName: '' })
    expect(empty.error).toMatchObject({ status: 400, code: 'validation_failed' })

    const other = await signedUp()
    expect((await other.client.auth.passkey.update({ passkeyId: passkey.id, friendlyName: 'mine' })).error).toMatchObject({ status: 404 })
    expect((await other.client.auth.passkey.delete({ passkeyId: passkey.id })).error).toMatchObject({ status: 404 })

    expect((await client.auth.passkey.delete({ passkeyId: passkey.id })).error).toBeNull()
    expect((await client.auth.passkey.list()).data).toEqual([])
    expect((await signInWith(key)).error).toMatchObject({ code: 'webauthn_verification_failed' })
  })

  it('lets an admin list and delete a user’s passkeys', async () => {
    const { client, userId } = await signedUp()
    const first = await registered(client)
    const second = await registered(client)
    const admin = h.admin({ passkey: true }).auth.admin
    const { data: listed } = await admin.passkey.listPasskeys({ userId })
    expect(listed!.map((p) => p.id).sort()).toEqual([first.passkey.id, second.passkey.id].sort())
    expect((await admin.passkey.deletePasskey({ userId, passkeyId: second.passkey.id })).error).toBeNull()
    expect((await admin.passkey.listPasskeys({ userId })).data!.map((p) => p.id)).toEqual([first.passkey.id])
    const missing = await admin.passkey.listPasskeys({ userId: '00000000-0000-0000-0000-000000000000' })
    expect(missing.error).toMatchObject({ status: 404, code: 'user_not_found' })
    const notAdmin = await h.raw(`/admin/users/${userId}/passkeys`, { headers: { authorization: `Bearer ${(await client.auth.getSession()).data.session!.access_token}` } })
    expect(notAdmin.status).toBe(403)
  })

  it('needs an aal2 session to manage passkeys once MFA is on', async () => {
    const { client, userId } = await signedUp()
    await ctx().database.query(
      "INSERT INTO auth.mfa_factors (id, user_id, friendly_name, factor_type, status, created_at, updated_at, secret) VALUES (gen_random_uuid(), $1, 'app', 'totp', 'verified', now(), now(), 'JBSWY3DPEHPK3PXP')",
      [userId],
    )
    const { error } = await client.auth.passkey.startRegistration()
    expect(error).toMatchObject({ status: 403, code: 'insufficient_aal' })
  })
})

describe('auth passkeys switched off', () => {
  describeEachDatabase('AUTH_PASSKEY_ENABLED unset', (ctx) => {
    let h: AuthHarness
    beforeAll(async () => {
      h = await startAuth(ctx())
    }, 60_000)
    afterAll(() => h?.close())

    it('answers every passkey route with 404 passkey_disabled, before asking for a session', async () => {
      const client = h.client({ passkey: true })
      expect((await client.auth.passkey.startAuthentication()).error).toMatchObject({ status: 404, code: 'passkey_disabled' })
      const raw = await h.raw('/passkeys/registration/options', { method: 'POST' })
      expect(raw.status).toBe(404)
      expect(await raw.json()).toMatchObject({ error_code: 'passkey_disabled', msg: 'Passkeys are disabled' })
    })
  })
})
