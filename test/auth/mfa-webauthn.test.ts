/**
 * WebAuthn MFA factors with a software security key: enrol through supabase-js, the `create`
 * ceremony that verifies the factor and steps the session up to aal2, later `request`
 * ceremonies, the credential stored as GoTrue stores it, and the refusals — a used challenge,
 * a broken signature, the wrong ceremony, the feature switched off.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { SupabaseClient } from '@supabase/supabase-js'
import { describeEachDatabase } from '../support/databases.ts'
import { SoftwareAuthenticator } from './authenticator.ts'
import { jwtPayload, startAuth, uniqueEmail, type AuthHarness } from './support.ts'

const RP_ID = 'localhost'
const ORIGIN = 'http://localhost:5173'
const ENV = { AUTH_MFA_WEBAUTHN_ENROLL_ENABLED: 'true', AUTH_MFA_WEBAUTHN_VERIFY_ENABLED: 'true', AUTH_WEBAUTHN_RP_ID: RP_ID, AUTH_WEBAUTHN_RP_ORIGINS: ORIGIN }

interface Challenge {
  id: string
  type: string
  expires_at: number
  webauthn: { type: 'create' | 'request'; credential_options: { publicKey: Record<string, unknown> & { challenge: string } } }
}

describeEachDatabase('auth MFA (WebAuthn)', (ctx) => {
  let h: AuthHarness
  beforeAll(async () => {
    h = await startAuth(ctx(), ENV)
  }, 60_000)
  afterAll(() => h?.close())

  const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
  async function token(client: SupabaseClient): Promise<string> {
    return (await client.auth.getSession()).data.session!.access_token
  }
  async function challenge(accessToken: string, factorId: string): Promise<Challenge> {
    const res = await h.raw(`/factors/${factorId}/challenge`, { method: 'POST', headers: bearer(accessToken), json: {} })
    expect(res.status).toBe(200)
    return (await res.json()) as Challenge
  }
  function verify(accessToken: string, factorId: string, challengeId: string, type: string, response: unknown) {
    return h.raw(`/factors/${factorId}/verify`, { method: 'POST', headers: bearer(accessToken), json: { challenge_id: challengeId, webauthn: { type, credential_response: response } } })
  }

  async function enrolledKey() {
    const email = uniqueEmail('webauthn')
    const client = h.client()
    const { data } = await client.auth.signUp({ email, password: 'secret123' })
    const enrolled = await client.auth.mfa.enroll({ factorType: 'webauthn', friendlyName: 'yubikey' } as never)
    expect(enrolled.error).toBeNull()
    expect(enrolled.data).toMatchObject({ type: 'webauthn', friendly_name: 'yubikey' })
    return { client, email, userId: data.user!.id, factorId: enrolled.data!.id, key: new SoftwareAuthenticator(RP_ID, ORIGIN) }
  }

  it('verifies a new key with a create ceremony, then signs in to aal2 with request ceremonies', async () => {
    const { client, email, userId, factorId, key } = await enrolledKey()
    const first = await challenge(await token(client), factorId)
    expect(first).toMatchObject({ type: 'webauthn', webauthn: { type: 'create' } })
    expect(first.webauthn.credential_options.publicKey).toMatchObject({ rp: { id: RP_ID }, user: { id: Buffer.from(userId).toString('base64url') } })
    const created = await verify(await token(client), factorId, first.id, 'create', key.create(first.webauthn.credential_options.publicKey as never))
    expect(created.status).toBe(200)
    const stepped = (await created.json()) as { access_token: string; refresh_token: string }
    expect(jwtPayload(stepped.access_token)).toMatchObject({ aal: 'aal2', amr: expect.arrayContaining([expect.objectContaining({ method: 'mfa/webauthn' })]) })

    const { rows } = await ctx().database.query<{ status: string; web_authn_credential: { id: string; authenticator: { signCount: number } } }>(
      'SELECT status::text AS status, web_authn_credential FROM auth.mfa_factors WHERE id = $1',
      [factorId],
    )
    expect(rows[0]!.status).toBe('verified')
    expect(Buffer.from(rows[0]!.web_authn_credential.id, 'base64').equals(key.credentialId)).toBe(true)

    const later = h.client()
    await later.auth.signInWithPassword({ email, password: 'secret123' })
    expect((await later.auth.mfa.getAuthenticatorAssuranceLevel()).data).toMatchObject({ currentLevel: 'aal1', nextLevel: 'aal2' })
    const asked = await challenge(await token(later), factorId)
    expect(asked.webauthn.type).toBe('request')
    expect(asked.webauthn.credential_options.publicKey.allowCredentials).toEqual([expect.objectContaining({ id: key.credentialId.toString('base64url') })])
    const signed = await verify(await token(later), factorId, asked.id, 'request', key.get(asked.webauthn.credential_options.publicKey as never))
    expect(signed.status).toBe(200)
    const session = (await signed.json()) as { access_token: string; refresh_token: string }
    expect(jwtPayload(session.access_token).aal).toBe('aal2')

    const replay = await verify(session.access_token, factorId, asked.id, 'request', key.get(asked.webauthn.credential_options.publicKey as never))
    expect(replay.status).toBe(422)
    expect(await replay.json()).toMatchObject({ error_code: 'mfa_challenge_expired' })

    await later.auth.setSession(session)
    const factors = await later.auth.mfa.listFactors()
    expect(factors.data!.all).toEqual([expect.objectContaining({ id: factorId, factor_type: 'webauthn', status: 'verified', friendly_name: 'yubikey' })])
  })

  it('refuses a broken signature, another origin and the wrong ceremony', async () => {
    const { client, factorId, key } = await enrolledKey()
    const access = await token(client)
    const wrongType = await challenge(access, factorId)
    const mismatched = await verify(access, factorId, wrongType.id, 'request', key.create(wrongType.webauthn.credential_options.publicKey as never))
    expect(mismatched.status).toBe(400)

    const phished = await challenge(access, factorId)
    const fromElsewhere = await verify(access, factorId, phished.id, 'create', key.create(phished.webauthn.credential_options.publicKey as never, { origin: 'https://evil.example' }))
    expect(fromElsewhere.status).toBe(400)
    expect(await fromElsewhere.json()).toMatchObject({ error_code: 'webauthn_verification_failed' })

    const good = await challenge(access, factorId)
    expect((await verify(access, factorId, good.id, 'create', key.create(good.webauthn.credential_options.publicKey as never))).status).toBe(200)
    const stepped = await challenge(access, factorId)
    const forged = await verify(access, factorId, stepped.id, 'request', key.get(stepped.webauthn.credential_options.publicKey as never, { breakSignature: true }))
    expect(forged.status).toBe(400)
    expect(await forged.json()).toMatchObject({ error_code: 'webauthn_verification_failed' })

    const missing = await h.raw(`/factors/${factorId}/verify`, { method: 'POST', headers: bearer(access), json: { challenge_id: stepped.id, webauthn: { type: 'request' } } })
    expect(missing.status).toBe(400)
    expect(await missing.json()).toMatchObject({ error_code: 'validation_failed', msg: 'credential_response required' })
  })
})

describe('auth MFA (WebAuthn) switched off', () => {
  describeEachDatabase('AUTH_MFA_WEBAUTHN_* unset', (ctx) => {
    let h: AuthHarness
    beforeAll(async () => {
      h = await startAuth(ctx())
    }, 60_000)
    afterAll(() => h?.close())

    it('refuses to enrol with 422 mfa_webauthn_enroll_not_enabled', async () => {
      const client = h.client()
      await client.auth.signUp({ email: uniqueEmail('webauthn-off'), password: 'secret123' })
      const { error } = await client.auth.mfa.enroll({ factorType: 'webauthn' } as never)
      expect(error).toMatchObject({ status: 422, code: 'mfa_webauthn_enroll_not_enabled' })
    })
  })
})
