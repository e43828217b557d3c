/**
 * MFA with TOTP through supabase-js: enroll, challenge, verify (aal2 and amr in the JWT),
 * assurance levels, unenroll, the admin factor API, and the guards on guessing and replay.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SupabaseClient } from '@supabase/supabase-js'
import { base32Decode, base32Encode, matchTotp, totpCode, timeStep } from '../../src/auth/totp.ts'
import { describeEachDatabase } from '../support/databases.ts'
import { jwtPayload, startAuth, uniqueEmail, type AuthHarness } from './support.ts'

describe('totp', () => {
  it('computes RFC 6238 codes (SHA-1 test vectors, 6 digits)', () => {
    const secret = base32Encode(Buffer.from('12345678901234567890'))
    expect(totpCode(secret, timeStep(59))).toBe('287082')
    expect(totpCode(secret, timeStep(1111111109))).toBe('081804')
    expect(totpCode(secret, timeStep(2000000000))).toBe('279037')
    expect(base32Decode(secret).toString()).toBe('12345678901234567890')
  })

  it('accepts one step of drift either side, nothing else', () => {
    const secret = base32Encode(Buffer.from('12345678901234567890'))
    const now = 1111111109
    expect(matchTotp(secret, totpCode(secret, timeStep(now) - 1), now)).toBe(timeStep(now) - 1)
    expect(matchTotp(secret, totpCode(secret, timeStep(now) + 1), now)).toBe(timeStep(now) + 1)
    expect(matchTotp(secret, totpCode(secret, timeStep(now) - 2), now)).toBeUndefined()
    expect(matchTotp(secret, '12345', now)).toBeUndefined()
    expect(matchTotp(secret, 'abcdef', now)).toBeUndefined()
  })
})

describeEachDatabase('auth MFA (TOTP)', (ctx) => {
  let h: AuthHarness
  let offsetMs = 0
  const nowSeconds = () => (Date.now() + offsetMs) / 1000
  beforeAll(async () => {
    h = await startAuth(ctx(), {}, { clock: () => Date.now() + offsetMs })
  }, 60_000)
  afterAll(() => h?.close())

  async function signedIn(): Promise<{ client: SupabaseClient; email: string; userId: string }> {
    const email = uniqueEmail('mfa')
    const client = h.client()
    const { data, error } = await client.auth.signUp({ email, password: 'secret123' })
    expect(error).toBeNull()
    return { client, email, userId: data.user!.id }
  }

  async function enrolled(client: SupabaseClient) {
    const { data, error } = await client.auth.mfa.enroll({ factorType: 'totp', friendlyName: 'phone app' })
    expect(error).toBeNull()
    return data!
  }

  it('enrolls, verifies a code to aal2 with a totp amr, and keeps aal2 across a refresh', async () => {
    const { client, email } = await signedIn()
    const factor = await enrolled(client)
    expect(factor).toMatchObject({ type: 'totp', friendly_name: 'phone app' })
    expect(factor.totp.secret).toMatch(/^[A-Z2-7]{32}$/)
    expect(factor.totp.uri).toBe(`otpauth://totp/localhost:${encodeURIComponent(email)}?algorithm=SHA1&digits=6&issuer=localhost&period=30&secret=${factor.totp.secret}`)
    expect(factor.totp.qr_code).toMatch(/^data:image\/svg\+xml;utf-8,<svg /)

    const listed = await client.auth.mfa.listFactors()
    expect(listed.data!.all).toHaveLength(1)
    expect(listed.data!.all[0]).toMatchObject({ id: factor.id, factor_type: 'totp', status: 'unverified', friendly_name: 'phone app' })
    expect(listed.data!.totp).toHaveLength(0) // only verified factors are listed by type

    const wrongCode = totpCode(factor.totp.secret, timeStep(nowSeconds()) + 5)
    const wrong = await client.auth.mfa.challengeAndVerify({ factorId: factor.id, code: wrongCode })
    expect(wrong.error).toMatchObject({ status: 422, code: 'mfa_verification_failed', message: 'Invalid TOTP code entered' })

    const challenge = await client.auth.mfa.challenge({ factorId: factor.id })
    expect(challenge.error).toBeNull()
    expect(challenge.data!.expires_at).toBeGreaterThan(Date.now() / 1000 + 250)
    const verified = await client.auth.mfa.verify({ factorId: factor.id, challengeId: challenge.data!.id, code: totpCode(factor.totp.secret, timeStep(nowSeconds())) })
    expect(verified.error).toBeNull()
    const claims = jwtPayload(verified.data!.access_token)
    expect(claims.aal).toBe('aal2')
    expect((claims.amr as Array<{ method: string }>).map((a) => a.method).sort()).toEqual(['password', 'totp'])

    const aal = await client.auth.mfa.getAuthenticatorAssuranceLevel()
    expect(aal.data).toMatchObject({ currentLevel: 'aal2', nextLevel: 'aal2' })
    expect((await client.auth.mfa.listFactors()).data!.totp[0]).toMatchObject({ id: factor.id, status: 'verified' })

    // The used challenge cannot be verified again.
    const again = await client.auth.mfa.verify({ factorId: factor.id, challengeId: challenge.data!.id, code: totpCode(factor.totp.secret, timeStep(nowSeconds())) })
    expect(again.error).toMatchObject({ status: 422, code: 'mfa_challenge_expired' })

    const refreshed = await client.auth.refreshSession()
    expect(refreshed.error).toBeNull()
    expect(jwtPayload(refreshed.data.session!.access_token).aal).toBe('aal2')
  })

  it('a new sign-in is aal1 with aal2 next; a code is never accepted twice', async () => {
    const { client, email } = await signedIn()
    const factor = await enrolled(client)
    const code = totpCode(factor.totp.secret, timeStep(nowSeconds()))
    expect((await client.auth.mfa.challengeAndVerify({ factorId: factor.id, code })).error).toBeNull()

    const second = h.client()
    expect((await second.auth.signInWithPassword({ email, password: 'secret123' })).error).toBeNull()
    const aal = await second.auth.mfa.getAuthenticatorAssuranceLevel()
    expect(aal.data).toMatchObject({ currentLevel: 'aal1', nextLevel: 'aal2' })

    // Replaying the code (or the next step's, still inside the drift window) is refused.
    const replay = await second.auth.mfa.challengeAndVerify({ factorId: factor.id, code })
    expect(replay.error).toMatchObject({ status: 422, code: 'mfa_verification_failed' })
    offsetMs += 90_000
    try {
      const fresh = await second.auth.mfa.challengeAndVerify({ factorId: factor.id, code: totpCode(factor.totp.secret, timeStep(nowSeconds())) })
      expect(fresh.error).toBeNull()
      expect(jwtPayload(fresh.data!.access_token).aal).toBe('aal2')
    } finally {
      offsetMs -= 90_000
    }
  })

  it('needs aal2 to enroll another factor or remove a verified one; unenroll empties the list', async () => {
    const { client, email } = await signedIn()
    const factor = await enrolled(client)
    expect((await client.auth.mfa.challengeAndVerify({ factorId: factor.id, code: totpCode(factor.totp.secret, timeStep(nowSeconds())) })).error).toBeNull()

    const low = h.client()
    await low.auth.signInWithPassword({ email, password: 'secret123' })
    const more = await low.auth.mfa.enroll({ factorType: 'totp' })
    expect(more.error).toMatchObject({ status: 422, code: 'insufficient_aal', message: 'AAL2 required to enroll a new factor' })
    const remove = await low.auth.mfa.unenroll({ factorId: factor.id })
    expect(remove.error).toMatchObject({ status: 422, code: 'insufficient_aal' })
    // The password alone cannot change the password or the email of an MFA account.
    const takeover = await low.auth.updateUser({ password: 'taken-over-1' })
    expect(takeover.error).toMatchObject({ status: 401, code: 'insufficient_aal' })
    expect((await low.auth.updateUser({ email: uniqueEmail('takeover') })).error).toMatchObject({ status: 401, code: 'insufficient_aal' })
    expect((await low.auth.updateUser({ data: { nick: 'ok' } })).error).toBeNull()
    expect((await client.auth.updateUser({ password: 'changed-at-aal2' })).error).toBeNull()

    const removed = await client.auth.mfa.unenroll({ factorId: factor.id })
    expect(removed.error).toBeNull()
    expect(removed.data).toEqual({ id: factor.id })
    const listed = await client.auth.mfa.listFactors()
    expect(listed.data!.all).toHaveLength(0)
    const unknown = await client.auth.mfa.unenroll({ factorId: factor.id })
    expect(unknown.error).toMatchObject({ status: 404, code: 'mfa_factor_not_found' })
  })

  it('refuses duplicate names, other types, anonymous users and requests without a session', async () => {
    const { client } = await signedIn()
    await enrolled(client)
    const dup = await client.auth.mfa.enroll({ factorType: 'totp', friendlyName: 'phone app' })
    expect(dup.error).toMatchObject({ status: 422, code: 'mfa_factor_name_conflict' })
    const unnamed = await client.auth.mfa.enroll({ factorType: 'totp' })
    expect(unnamed.error).toBeNull()
    const bad = await h.raw('/factors', { method: 'POST', headers: { authorization: `Bearer ${(await client.auth.getSession()).data.session!.access_token}` }, json: { factor_type: 'sms' } })
    expect(bad.status).toBe(400)

    const anonymous = h.client()
    expect((await anonymous.auth.signInAnonymously()).error).toBeNull()
    expect((await anonymous.auth.mfa.enroll({ factorType: 'totp' })).error).toMatchObject({ status: 403, code: 'no_authorization' })

    const nobody = h.client() // supabase-js sends the anon key as its bearer: a token with no user
    const none = await nobody.auth.mfa.enroll({ factorType: 'totp' })
    expect(none.error).toMatchObject({ status: 403, code: 'bad_jwt' })
    const raw = await h.raw('/factors', { method: 'POST', json: { factor_type: 'totp' } })
    expect(raw.status).toBe(401)
    expect((await raw.json()).msg).toBe('This endpoint requires a valid Bearer token')
  })

  it('stops guessing: wrong codes per factor are counted before comparing, a right one clears the count', async () => {
    const { client } = await signedIn()
    const factor = await enrolled(client)
    const right = () => totpCode(factor.totp.secret, timeStep(nowSeconds()))
    const wrong = () => totpCode(factor.totp.secret, timeStep(nowSeconds()) + 7)
    for (let i = 0; i < 5; i++) {
      expect((await client.auth.mfa.challengeAndVerify({ factorId: factor.id, code: wrong() })).error).toMatchObject({ code: 'mfa_verification_failed' })
    }
    const blocked = await client.auth.mfa.challengeAndVerify({ factorId: factor.id, code: right() })
    expect(blocked.error).toMatchObject({ status: 429, code: 'over_request_rate_limit' })
    offsetMs += 301_000 // the window closes; the challenge uses the database's clock, so it is fresh
    try {
      expect((await client.auth.mfa.challengeAndVerify({ factorId: factor.id, code: totpCode(factor.totp.secret, timeStep(nowSeconds())) })).error).toBeNull()
    } finally {
      offsetMs -= 301_000
    }
  })

  it('admin: lists and deletes a user\'s factors; unknown users and factors are 404', async () => {
    const { client, userId } = await signedIn()
    const factor = await enrolled(client)
    const admin = h.admin()
    const listed = await admin.auth.admin.mfa.listFactors({ userId })
    expect(listed.error).toBeNull()
    expect(listed.data!.factors.map((f) => f.id)).toEqual([factor.id])
    expect(JSON.stringify(listed.data)).not.toContain(factor.totp.secret)
    const user = await admin.auth.admin.getUserById(userId)
    expect(user.data.user!.factors).toHaveLength(1)

    const deleted = await admin.auth.admin.mfa.deleteFactor({ userId, id: factor.id })
    expect(deleted.error).toBeNull()
    expect((deleted.data as unknown as { data: { id: string } }).data.id).toBe(factor.id)
    expect((await admin.auth.admin.mfa.listFactors({ userId })).data!.factors).toHaveLength(0)
    const missing = await admin.auth.admin.mfa.deleteFactor({ userId, id: factor.id })
    expect(missing.error).toMatchObject({ status: 404 })
    const nobody = await admin.auth.admin.mfa.listFactors({ userId: '00000000-0000-4000-8000-000000000000' })
    expect(nobody.error).toMatchObject({ status: 404, code: 'user_not_found' })
    expect((await client.auth.admin.mfa.listFactors({ userId })).error).toMatchObject({ status: 403 })
  })
})
