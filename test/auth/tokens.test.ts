/**
 * Signing keys and refused tokens: ES256/RS256 from JWT_KEYS (published in the JWKS, verified
 * locally by supabase-js `getClaims`), and every token the API must refuse. Bad request bodies
 * get a 4xx with a code, never a 500.
 */
import { createHmac } from 'node:crypto'
import * as jose from 'jose'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeEachDatabase } from '../support/databases.ts'
import { jwtPayload, startAuth, uniqueEmail, type AuthHarness } from './support.ts'

const V = { 'x-supabase-api-version': '2024-01-01' }
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

async function privateJwk(alg: 'ES256' | 'RS256', kid: string): Promise<Record<string, unknown>> {
  const { privateKey } = await jose.generateKeyPair(alg, { extractable: true })
  return { ...(await jose.exportJWK(privateKey)), kid, alg, key_ops: ['sign', 'verify'] }
}

function hs256(payload: Record<string, unknown>, secret: string | Buffer): string {
  const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(payload)}`
  return `${head}.${createHmac('sha256', secret).update(head).digest('base64url')}`
}

describeEachDatabase('auth signing keys and refused tokens', (ctx) => {
  let es: AuthHarness
  let rs: AuthHarness
  let hs: AuthHarness
  let esJwk: Record<string, unknown>
  beforeAll(async () => {
    esJwk = await privateJwk('ES256', 'es-key-1')
    // JWT_SECRET '' unsets the harness default: the ES256 app accepts no HS256 tokens at all.
    es = await startAuth(ctx(), { JWT_SECRET: '', JWT_KEYS: JSON.stringify({ keys: [esJwk] }) })
    rs = await startAuth(ctx(), { JWT_KEYS: JSON.stringify([await privateJwk('RS256', 'rs-key-1')]) })
    hs = await startAuth(ctx(), { BODY_LIMIT: '65536' })
  }, 60_000)
  afterAll(async () => {
    await es?.close()
    await rs?.close()
    await hs?.close()
  })

  for (const [name, harness, alg, kid] of [
    ['ES256', () => es, 'ES256', 'es-key-1'],
    ['RS256', () => rs, 'RS256', 'rs-key-1'],
  ] as const) {
    it(`${name}: signs access tokens with the JWT_KEYS key, publishes it, and supabase-js verifies claims locally`, async () => {
      const h = harness()
      const jwks = await (await fetch(`${h.app.url}/auth/v1/.well-known/jwks.json`)).json()
      expect(jwks.keys).toHaveLength(1)
      expect(jwks.keys[0]).toMatchObject({ kid, alg, use: 'sig', key_ops: ['verify'] })
      expect(jwks.keys[0].d).toBeUndefined()
      const client = h.client()
      const { data, error } = await client.auth.signUp({ email: uniqueEmail(name), password: 'secret123' })
      expect(error).toBeNull()
      expect(jose.decodeProtectedHeader(data.session!.access_token)).toEqual({ alg, kid, typ: 'JWT' })
      const claims = await client.auth.getClaims()
      expect(claims.error).toBeNull()
      expect(claims.data!.claims.sub).toBe(data.user!.id)
      expect((await client.auth.getUser()).error).toBeNull()
      expect((await client.auth.refreshSession()).error).toBeNull()
    })
  }

  it('refuses alg none, HS256 signed with the public key, wrong keys, expiry and audience', async () => {
    const client = es.client()
    const { data } = await client.auth.signUp({ email: uniqueEmail('refuse'), password: 'secret123' })
    const good = data.session!.access_token
    const claims = jwtPayload(good)
    const user = (token: string) => es.raw('/user', { headers: { ...V, authorization: `Bearer ${token}` } })

    const none = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`
    expect((await user(none)).status).toBe(403)
    const publicPem = await jose.exportSPKI((await jose.importJWK({ ...esJwk, d: undefined, key_ops: undefined } as jose.JWK, 'ES256')) as jose.CryptoKey)
    const confused = hs256(claims, publicPem)
    const confusedRes = await user(confused)
    expect(confusedRes.status).toBe(403)
    expect((await confusedRes.json()).code).toBe('bad_jwt')
    const confusedJwk = hs256(claims, JSON.stringify({ kty: esJwk.kty, crv: esJwk.crv, x: esJwk.x, y: esJwk.y }))
    expect((await user(confusedJwk)).status).toBe(403)
    const otherKey = await new jose.SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'es-key-1' }).sign((await jose.generateKeyPair('ES256')).privateKey)
    expect((await user(otherKey)).status).toBe(403)
    const tampered = good.split('.').map((part, i) => (i === 1 ? b64({ ...claims, role: 'service_role' }) : part)).join('.')
    expect((await user(tampered)).status).toBe(403)
    const now = Math.floor(Date.now() / 1000)
    const expired = await es.app.services.jwt.sign({ ...claims, iat: now - 7200, exp: now - 3600 })
    const expiredRes = await user(expired)
    expect(expiredRes.status).toBe(403)
    expect((await expiredRes.json()).message).toMatch(/expired/)
    const wrongAud = await es.app.services.jwt.sign({ ...claims, aud: 'someone-else' })
    const audRes = await user(wrongAud)
    expect(audRes.status).toBe(400)
    expect((await audRes.json()).message).toBe("Token audience doesn't match request audience")
    expect((await user(good)).status).toBe(200)
  })

  it('refuses HS256 tokens signed with a wrong secret', async () => {
    const { data } = await hs.client().auth.signUp({ email: uniqueEmail('secret'), password: 'secret123' })
    const forged = hs256(jwtPayload(data.session!.access_token), 'not-the-secret-but-long-enough-to-pass')
    const res = await hs.raw('/user', { headers: { ...V, authorization: `Bearer ${forged}` } })
    expect(res.status).toBe(403)
    expect((await res.json()).code).toBe('bad_jwt')
    const forgedKey = hs256({ role: 'service_role', iss: 'supabase' }, 'not-the-secret-but-long-enough-to-pass')
    expect((await hs.raw('/settings', { headers: { apikey: forgedKey } })).status).toBe(401)
    expect((await hs.raw('/admin/users', { headers: { authorization: `Bearer ${forgedKey}` } })).status).toBe(403)
  })

  it('refuses tokens of signed-out sessions, banned users and deleted users', async () => {
    const admin = hs.admin()
    const mk = async (prefix: string) => {
      const email = uniqueEmail(prefix)
      const { data } = await admin.auth.admin.createUser({ email, password: 'secret123', email_confirm: true })
      const client = hs.client()
      const session = (await client.auth.signInWithPassword({ email, password: 'secret123' })).data.session!
      return { id: data.user!.id, client, token: session.access_token }
    }
    const user = (token: string) => hs.raw('/user', { headers: { ...V, authorization: `Bearer ${token}` } })

    const out = await mk('out')
    await out.client.auth.signOut()
    expect(await (await user(out.token)).json()).toMatchObject({ code: 'session_not_found' })

    const banned = await mk('banned')
    await admin.auth.admin.updateUserById(banned.id, { ban_duration: '1h' })
    const bannedRes = await user(banned.token)
    expect(bannedRes.status).toBe(403)
    expect(await bannedRes.json()).toEqual({ code: 'user_banned', message: 'User is banned' })
    expect((await hs.raw('/user', { method: 'PUT', headers: { authorization: `Bearer ${banned.token}` }, json: { data: { a: 1 } } })).status).toBe(403)

    const deleted = await mk('deleted')
    await admin.auth.admin.deleteUser(deleted.id)
    expect(await (await user(deleted.token)).json()).toEqual({ code: 'user_not_found', message: 'User from sub claim in JWT does not exist' })

    const soft = await mk('softdeleted')
    await admin.auth.admin.deleteUser(soft.id, true)
    expect((await user(soft.token)).status).toBe(403)

    const noSub = await hs.app.services.jwt.sign({ role: 'authenticated', exp: Math.floor(Date.now() / 1000) + 60 })
    expect(await (await user(noSub)).json()).toEqual({ code: 'bad_jwt', message: 'invalid claim: missing sub claim' })
    expect((await hs.raw('/user', { headers: { ...V, authorization: `Bearer ${hs.app.anonKey}` } })).status).toBe(403) // the anon key as bearer: no sub
    const bare = await hs.raw('/user', { headers: V }) // the apikey alone is no bearer (as behind Supabase's gateway)
    expect(bare.status).toBe(401)
    expect(await bare.json()).toEqual({ code: 'no_authorization', message: 'This endpoint requires a valid Bearer token' })
    expect((await fetch(`${hs.app.url}/auth/v1/user`, { headers: { apikey: hs.app.anonKey, authorization: 'Basic abc' } })).status).toBe(401)
  })

  it('answers malformed bodies, wrong types and huge bodies with 4xx and a code', async () => {
    const post = (path: string, body: string, headers: Record<string, string> = {}) =>
      hs.raw(path, { method: 'POST', headers: { ...V, 'content-type': 'application/json', ...headers }, body })
    const cases: Array<[string, string]> = [
      ['/signup', '{"email": "a@example.com", "password": '],
      ['/signup', '[1,2,3]'],
      ['/signup', '"just a string"'],
      ['/signup', '{"email": 5, "password": "secret123"}'],
      ['/signup', '{"email": "a@example.com", "password": ["x"]}'],
      ['/signup', '{"email": "a@example.com", "password": "secret123", "data": "nope"}'],
      ['/token?grant_type=password', '{"email": {"$ne": null}, "password": "x"}'],
      ['/token?grant_type=password', '{}'],
      ['/token?grant_type=pkce', '{"auth_code": 1}'],
      ['/verify', '{"type": "signup"}'],
      ['/verify', '{"type": "bogus", "token": "1", "email": "a@example.com"}'],
      ['/otp', '{"email": "not-an-email"}'],
      ['/recover', '{"email": null}'],
      ['/resend', '{}'],
      ['/signup', '{"email": "a@example.com", "password": "secret123", "code_challenge": "short", "code_challenge_method": "s256"}'],
    ]
    for (const [path, body] of cases) {
      const res = await post(path, body)
      expect(res.status, `${path} ${body}`).toBeGreaterThanOrEqual(400)
      expect(res.status, `${path} ${body}`).toBeLessThan(500)
      const json = await res.json()
      expect(typeof json.code, `${path} ${body}`).toBe('string')
    }
    const huge = await post('/signup', JSON.stringify({ email: 'big@example.com', password: 'secret123', data: { blob: 'x'.repeat(100 * 1024) } }))
    expect(huge.status).toBe(413)
    expect((await huge.json()).code).toBe('payload_too_large')
    const admin = { authorization: `Bearer ${hs.app.serviceRoleKey}` }
    const badBan = await post('/admin/users', '{"email": "ban@example.com", "ban_duration": 12}', admin)
    expect(badBan.status).toBe(400)
    const unknownRoute = await hs.raw('/nope', { headers: V })
    expect(unknownRoute.status).toBe(404)
    expect((await unknownRoute.json()).code).toBe('not_found')
  })
})
