/**
 * Verified-token caches must never outlive a token nor stand in for a signature (issue 12, the
 * JWT gaps): a cached genuine token does not let the same header and payload in with a forged
 * signature; a token is refused once its `exp` passes although it was cached; an expired HS256
 * token is refused by `/auth/v1/user` and as an API key too. Time moves with faked `Date`.
 */
import { createHmac } from 'node:crypto'
import { afterAll, afterEach, beforeAll, expect, it, vi } from 'vitest'
import { describeEachDatabase } from '../support/databases.ts'
import { TEST_JWT_SECRET } from '../support/app.ts'
import { startAuth, uniqueEmail, type AuthHarness } from './support.ts'

function signHs256(claims: Record<string, unknown>, secret = TEST_JWT_SECRET): string {
  const input = `${Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`
}

const withJunkSignature = (token: string) => `${token.split('.').slice(0, 2).join('.')}.${Buffer.from('not the signature at all, no').toString('base64url')}`
const nowSeconds = () => Math.floor(Date.now() / 1000)

describeEachDatabase('JWT verification and its caches', (ctx) => {
  let h: AuthHarness
  let user: { id: string; sessionId: string; accessToken: string }
  beforeAll(async () => {
    h = await startAuth(ctx(), { AUTH_AUTOCONFIRM: 'true' })
    const { data } = await h.client().auth.signUp({ email: uniqueEmail('jwt'), password: 'secret123' })
    const payload = JSON.parse(Buffer.from(data.session!.access_token.split('.')[1]!, 'base64url').toString())
    user = { id: data.user!.id, sessionId: payload.session_id, accessToken: data.session!.access_token }
  }, 60_000)
  afterAll(() => h?.close())
  afterEach(() => {
    vi.useRealTimers()
  })

  const rest = (token: string, apikey = h.app.anonKey) => fetch(`${h.app.url}/rest/v1/`, { headers: { apikey, authorization: `Bearer ${token}` } })
  const claims = (exp: number) => ({ sub: user.id, role: 'authenticated', aud: 'authenticated', session_id: user.sessionId, iat: nowSeconds(), exp })

  it('a cached genuine token does not vouch for the same header and payload with a junk signature', async () => {
    const genuine = signHs256(claims(nowSeconds() + 3600))
    expect((await rest(genuine)).status).toBe(200)
    expect((await rest(genuine)).status).toBe(200) // now surely cached
    const forged = await rest(withJunkSignature(genuine))
    expect(forged.status).toBe(401)
    expect(await forged.json()).toMatchObject({ code: 'PGRST301' })
    // The same on /auth/v1/user, and for a token the server issued itself.
    const forgedUser = await h.raw('/user', { headers: { authorization: `Bearer ${withJunkSignature(user.accessToken)}` } })
    expect(forgedUser.status).toBe(403)
    expect((await forgedUser.json()).error_code).toBe('bad_jwt')
  })

  it('a cached token is refused once its exp has passed (REST: 401 PGRST303)', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const token = signHs256(claims(nowSeconds() + 2))
    expect((await rest(token)).status).toBe(200)
    expect((await rest(token)).status).toBe(200)
    vi.setSystemTime(Date.now() + 3000)
    const expired = await rest(token)
    expect(expired.status).toBe(401)
    expect(await expired.json()).toMatchObject({ code: 'PGRST303', message: 'JWT expired' })
  })

  it('/auth/v1/user refuses an expired HS256 token (403 bad_jwt), also after accepting it', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const token = signHs256(claims(nowSeconds() + 2))
    const fresh = await h.raw('/user', { headers: { authorization: `Bearer ${token}` } })
    expect(fresh.status).toBe(200)
    expect((await fresh.json()).id).toBe(user.id)
    vi.setSystemTime(Date.now() + 3000)
    const expired = await h.raw('/user', { headers: { authorization: `Bearer ${token}`, 'x-supabase-api-version': '2024-01-01' } })
    expect(expired.status).toBe(403)
    expect(await expired.json()).toMatchObject({ code: 'bad_jwt', message: expect.stringMatching(/expired/) })
    const alreadyExpired = await h.raw('/user', { headers: { authorization: `Bearer ${signHs256(claims(nowSeconds() - 60))}` } })
    expect(alreadyExpired.status).toBe(403)
  })

  it('an API key is refused once it expires or with a forged signature, although a cache holds it', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const key = signHs256({ iss: 'supabase', role: 'anon', iat: nowSeconds(), exp: nowSeconds() + 2 })
    const settings = (apikey: string) => h.raw('/settings', { headers: { apikey } })
    expect((await settings(key)).status).toBe(200)
    expect((await settings(key)).status).toBe(200)
    const forged = await settings(withJunkSignature(key))
    expect(forged.status).toBe(401)
    vi.setSystemTime(Date.now() + 3000)
    const expired = await settings(key)
    expect(expired.status).toBe(401)
    expect(await expired.json()).toMatchObject({ error_code: 'invalid_api_key' })
    // …and on REST, where the key is the principal when no bearer is sent.
    const restExpired = await fetch(`${h.app.url}/rest/v1/`, { headers: { apikey: key } })
    expect(restExpired.status).toBe(401)
    expect(await restExpired.json()).toMatchObject({ code: 'PGRST303' })
  })
})
