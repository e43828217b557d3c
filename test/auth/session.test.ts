/**
 * The session life cycle through the real supabase-js client: sign-up (autoconfirm), password
 * sign-in, claims, getUser, refresh rotation, sign-out scopes, and the rows left behind.
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import bcrypt from 'bcryptjs'
import { describeEachDatabase } from '../support/databases.ts'
import { jwtPayload, startAuth, uniqueEmail, type AuthHarness } from './support.ts'

describeEachDatabase('auth sessions', (ctx) => {
  let h: AuthHarness
  beforeAll(async () => {
    h = await startAuth(ctx())
  }, 60_000)
  afterAll(() => h?.close())

  it('signs up with autoconfirm and returns a session whose JWT carries Supabase claims', async () => {
    const email = uniqueEmail('Signup')
    const client = h.client()
    const { data, error } = await client.auth.signUp({ email, password: 'correct horse', options: { data: { full_name: 'Ada' } } })
    expect(error).toBeNull()
    expect(data.session).not.toBeNull()
    expect(data.user!.email).toBe(email.toLowerCase())
    expect(data.user!.user_metadata).toMatchObject({ full_name: 'Ada', email: email.toLowerCase(), email_verified: true })
    expect(data.user!.app_metadata).toEqual({ provider: 'email', providers: ['email'] })
    expect(data.user!.identities).toHaveLength(1)
    expect(data.user!.identities![0]).toMatchObject({ provider: 'email', id: data.user!.id, user_id: data.user!.id })
    const claims = jwtPayload(data.session!.access_token)
    expect(Object.keys(claims)).toEqual(['iss', 'sub', 'aud', 'exp', 'iat', 'email', 'phone', 'app_metadata', 'user_metadata', 'role', 'aal', 'amr', 'session_id', 'is_anonymous'])
    expect(claims).toMatchObject({ sub: data.user!.id, aud: 'authenticated', role: 'authenticated', aal: 'aal1', email: email.toLowerCase(), phone: '', is_anonymous: false })
    expect(claims.exp as number).toBe((claims.iat as number) + 3600)
    expect((claims.amr as Array<{ method: string }>)[0]!.method).toBe('password')
    expect(data.session!.expires_in).toBe(3600)
    expect(data.session!.refresh_token).toMatch(/^[a-z2-7]{12}$/)
  })

  it('writes rows the way Supabase Auth does', async () => {
    const email = uniqueEmail('rows')
    const { data } = await h.client().auth.signUp({ email, password: 'correct horse' })
    const db = ctx().database
    const { rows } = await db.query<Record<string, unknown>>(
      `SELECT instance_id, encrypted_password, confirmation_token, recovery_token, email_change_token_new, email_change_token_current,
              phone_change_token, reauthentication_token, email_change, raw_app_meta_data, email_confirmed_at IS NOT NULL AS confirmed,
              confirmed_at IS NOT NULL AS generated_confirmed, is_anonymous, aud, role
         FROM auth.users WHERE id = $1`,
      [data.user!.id],
    )
    const row = rows[0]!
    expect(row.instance_id).toBe('00000000-0000-0000-0000-000000000000')
    expect(row.encrypted_password).toMatch(/^\$2a\$10\$.{53}$/)
    expect(await bcrypt.compare('correct horse', row.encrypted_password as string)).toBe(true)
    for (const column of ['confirmation_token', 'recovery_token', 'email_change_token_new', 'email_change_token_current', 'phone_change_token', 'reauthentication_token', 'email_change']) {
      expect(row[column], column).toBe('')
    }
    expect(row).toMatchObject({ confirmed: true, generated_confirmed: true, is_anonymous: false, aud: 'authenticated', role: 'authenticated' })
    const rt = await db.query<Record<string, unknown>>('SELECT instance_id, user_id, parent, revoked, session_id FROM auth.refresh_tokens WHERE user_id = $1', [data.user!.id])
    expect(rt.rows).toEqual([{ instance_id: '00000000-0000-0000-0000-000000000000', user_id: data.user!.id, parent: null, revoked: false, session_id: data.session && jwtPayload(data.session.access_token).session_id }])
    const amr = await db.query('SELECT authentication_method FROM auth.mfa_amr_claims WHERE session_id = $1', [rt.rows[0]!.session_id])
    expect(amr.rows).toEqual([{ authentication_method: 'password' }])
    const audit = await db.query<{ action: string }>(`SELECT payload->>'action' AS action FROM auth.audit_log_entries WHERE payload->>'actor_id' = $1 ORDER BY created_at`, [data.user!.id])
    expect(audit.rows.map((r) => r.action)).toEqual(expect.arrayContaining(['user_signedup', 'login']))
  })

  it('signs in with a password, refuses wrong ones, and reports a weak password', async () => {
    const email = uniqueEmail('signin')
    await h.client().auth.signUp({ email, password: 'correct horse' })
    const client = h.client()
    const ok = await client.auth.signInWithPassword({ email: email.toUpperCase(), password: 'correct horse' })
    expect(ok.error).toBeNull()
    expect(ok.data.user!.email).toBe(email)
    expect(ok.data.user!.last_sign_in_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/)

    const wrong = await h.client().auth.signInWithPassword({ email, password: 'wrong horse' })
    expect(wrong.error).toMatchObject({ status: 400, code: 'invalid_credentials', message: 'Invalid login credentials' })
    const unknown = await h.client().auth.signInWithPassword({ email: uniqueEmail('nobody'), password: 'whatever1' })
    expect(unknown.error).toMatchObject({ status: 400, code: 'invalid_credentials' })
  })

  it('signs in a user seeded the way Supabase seed files do it (pgcrypto crypt/gen_salt bf)', async () => {
    const email = uniqueEmail('seeded')
    const id = '7a1c5a3e-0000-4000-8000-' + Date.now().toString(16).padStart(12, '0').slice(-12)
    await ctx().database.query(
      `INSERT INTO auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at, raw_app_meta_data, raw_user_meta_data,
          created_at, updated_at, confirmation_token, email_change, email_change_token_new, recovery_token)
       VALUES ('00000000-0000-0000-0000-000000000000', $1, 'authenticated', 'authenticated', $2, extensions.crypt('seeded-pass', extensions.gen_salt('bf')),
          now(), '{"provider":"email","providers":["email"]}', '{}', now(), now(), '', '', '', '')`,
      [id, email],
    )
    const { data, error } = await h.client().auth.signInWithPassword({ email, password: 'seeded-pass' })
    expect(error).toBeNull()
    expect(data.user!.id).toBe(id)
    expect(data.user!.identities).toEqual([])
  })

  it('refuses a second sign-up of the same email under autoconfirm', async () => {
    const email = uniqueEmail('twice')
    await h.client().auth.signUp({ email, password: 'correct horse' })
    const again = await h.client().auth.signUp({ email, password: 'other horse' })
    expect(again.error).toMatchObject({ status: 422, code: 'user_already_exists', message: 'User already registered' })
  })

  it('validates sign-up input with the Supabase codes', async () => {
    const short = await h.client().auth.signUp({ email: uniqueEmail(), password: '123' })
    expect(short.error).toMatchObject({ status: 422, code: 'weak_password', message: 'Password should be at least 6 characters.' })
    expect((short.error as unknown as { reasons: string[] }).reasons).toEqual(['length'])
    const bad = await h.client().auth.signUp({ email: 'not-an-email', password: 'correct horse' })
    expect(bad.error).toMatchObject({ status: 400, code: 'validation_failed', message: 'Unable to validate email address: invalid format' })
    const long = await h.client().auth.signUp({ email: uniqueEmail(), password: 'x'.repeat(73) })
    expect(long.error).toMatchObject({ status: 400, message: 'Password cannot be longer than 72 characters' })
  })

  it('getUser returns the user for a valid token and refuses a garbage one', async () => {
    const client = h.client()
    const email = uniqueEmail('getuser')
    await client.auth.signUp({ email, password: 'correct horse' })
    const { data, error } = await client.auth.getUser()
    expect(error).toBeNull()
    expect(data.user!.email).toBe(email)
    const bad = await h.client().auth.getUser('not.a.jwt')
    expect(bad.error).toMatchObject({ status: 403, code: 'bad_jwt' })
  })

  it('rotates refresh tokens: a new token for the same session, the old one revoked', async () => {
    const client = h.client()
    const { data } = await client.auth.signUp({ email: uniqueEmail('refresh'), password: 'correct horse' })
    const first = data.session!
    const { data: refreshed, error } = await client.auth.refreshSession()
    expect(error).toBeNull()
    expect(refreshed.session!.refresh_token).not.toBe(first.refresh_token)
    expect(jwtPayload(refreshed.session!.access_token).session_id).toBe(jwtPayload(first.access_token).session_id)
    const { rows } = await ctx().database.query<{ token: string; parent: string | null; revoked: boolean }>(
      'SELECT token, parent, revoked FROM auth.refresh_tokens WHERE user_id = $1 ORDER BY id',
      [data.user!.id],
    )
    expect(rows).toEqual([
      { token: first.refresh_token, parent: null, revoked: true },
      { token: refreshed.session!.refresh_token, parent: first.refresh_token, revoked: false },
    ])
  })

  it('gives the active token back when the previous one is presented again (lost response)', async () => {
    const { data } = await h.client().auth.signUp({ email: uniqueEmail('lost'), password: 'correct horse' })
    const t0 = data.session!.refresh_token
    const r1 = await (await h.raw('/token?grant_type=refresh_token', { method: 'POST', json: { refresh_token: t0 } })).json()
    const r2 = await (await h.raw('/token?grant_type=refresh_token', { method: 'POST', json: { refresh_token: t0 } })).json()
    expect(r2.refresh_token).toBe(r1.refresh_token)
    const count = await ctx().database.query<{ n: number }>('SELECT count(*)::int AS n FROM auth.refresh_tokens WHERE user_id = $1', [data.user!.id])
    expect(count.rows[0]!.n).toBe(2)
  })

  it('concurrent refreshes of one token never fork the session', async () => {
    const { data } = await h.client().auth.signUp({ email: uniqueEmail('race'), password: 'correct horse' })
    const t0 = data.session!.refresh_token
    const responses = await Promise.all(Array.from({ length: 8 }, () => h.raw('/token?grant_type=refresh_token', { method: 'POST', json: { refresh_token: t0 } })))
    const bodies = await Promise.all(responses.map((r) => r.json()))
    expect(responses.map((r) => r.status)).toEqual(Array(8).fill(200))
    expect(new Set(bodies.map((b) => b.refresh_token)).size).toBe(1)
    const active = await ctx().database.query<{ n: number }>('SELECT count(*)::int AS n FROM auth.refresh_tokens WHERE user_id = $1 AND revoked = false', [data.user!.id])
    expect(active.rows[0]!.n).toBe(1)
  })

  it('signs out locally, globally and others, and the tokens stop working', async () => {
    const email = uniqueEmail('logout')
    await h.client().auth.signUp({ email, password: 'correct horse' })
    const a = h.client()
    const b = h.client()
    const c = h.client()
    for (const client of [a, b, c]) expect((await client.auth.signInWithPassword({ email, password: 'correct horse' })).error).toBeNull()
    const bToken = (await b.auth.getSession()).data.session!.access_token
    const bRefresh = (await b.auth.getSession()).data.session!.refresh_token

    expect((await b.auth.signOut({ scope: 'local' })).error).toBeNull()
    const gone = await h.raw('/user', { headers: { authorization: `Bearer ${bToken}`, 'x-supabase-api-version': '2024-01-01' } })
    expect(gone.status).toBe(403)
    expect(await gone.json()).toEqual({ code: 'session_not_found', message: 'Session from session_id claim in JWT does not exist' })
    const refresh = await h.raw('/token?grant_type=refresh_token', { method: 'POST', json: { refresh_token: bRefresh } })
    expect(refresh.status).toBe(400)
    expect((await a.auth.getUser()).error).toBeNull()

    expect((await a.auth.signOut({ scope: 'others' })).error).toBeNull()
    expect((await a.auth.getUser()).error).toBeNull()
    // session_not_found: the client turns it into AuthSessionMissingError and drops its session.
    expect((await c.auth.getUser()).error?.name).toBe('AuthSessionMissingError')

    expect((await a.auth.signOut()).error).toBeNull()
    const sessions = await ctx().database.query<{ n: number }>(`SELECT count(*)::int AS n FROM auth.sessions s JOIN auth.users u ON u.id = s.user_id WHERE u.email = $1`, [email])
    expect(sessions.rows[0]!.n).toBe(0)
    const bad = await h.raw('/logout?scope=everything', { method: 'POST', headers: { authorization: `Bearer ${bToken}` } })
    expect(bad.status).toBe(403) // the session is gone before the scope is looked at
  })

  it('renders both error shapes, chosen by X-Supabase-Api-Version', async () => {
    const legacy = await h.raw('/token?grant_type=password', { method: 'POST', json: { email: 'nobody@example.com', password: 'whatever' } })
    expect(legacy.status).toBe(400)
    expect(legacy.headers.get('x-sb-error-code')).toBe('invalid_credentials')
    expect(await legacy.json()).toEqual({ code: 400, error_code: 'invalid_credentials', msg: 'Invalid login credentials' })
    const modern = await h.raw('/token?grant_type=password', {
      method: 'POST',
      headers: { 'x-supabase-api-version': '2024-01-01' },
      json: { email: 'nobody@example.com', password: 'whatever' },
    })
    expect(modern.headers.get('x-supabase-api-version')).toBe('2024-01-01')
    expect(await modern.json()).toEqual({ code: 'invalid_credentials', message: 'Invalid login credentials' })
  })

  it('serves settings, health and an empty JWKS for HS256', async () => {
    const settings = await (await h.raw('/settings')).json()
    expect(settings).toMatchObject({ disable_signup: false, mailer_autoconfirm: true, external: { email: true, anonymous_users: true, google: false } })
    const health = await h.raw('/health', { headers: { apikey: '' } })
    expect(await health.json()).toMatchObject({ name: 'GoTrue' })
    const jwks = await fetch(`${h.app.url}/auth/v1/.well-known/jwks.json`)
    expect(jwks.headers.get('cache-control')).toBe('public, max-age=600')
    expect(await jwks.json()).toEqual({ keys: [] })
    const oidc = await (await fetch(`${h.app.url}/auth/v1/.well-known/openid-configuration`)).json()
    expect(oidc).toMatchObject({ issuer: h.app.services.config.auth.jwtIssuer, jwks_uri: `${h.app.services.config.auth.jwtIssuer}/.well-known/jwks.json` })
  })

  it('lets browsers read the error code: CORS exposes X-Supabase-Api-Version, X-Total-Count and Link', async () => {
    const preflight = await fetch(`${h.app.url}/auth/v1/token?grant_type=password`, {
      method: 'OPTIONS',
      headers: { origin: 'http://localhost:3000', 'access-control-request-method': 'POST', 'access-control-request-headers': 'apikey,authorization,content-type,x-client-info,x-supabase-api-version' },
    })
    expect(preflight.status).toBeLessThan(300)
    const allowed = (preflight.headers.get('access-control-allow-headers') ?? '').toLowerCase()
    for (const name of ['apikey', 'authorization', 'content-type', 'x-client-info', 'x-supabase-api-version']) expect(allowed).toContain(name)
    const res = await h.raw('/token?grant_type=password', { method: 'POST', headers: { origin: 'http://localhost:3000', 'x-supabase-api-version': '2024-01-01' }, json: {} })
    const exposed = (res.headers.get('access-control-expose-headers') ?? '').toLowerCase()
    for (const name of ['x-supabase-api-version', 'x-total-count', 'link']) expect(exposed).toContain(name)
  })

  it('answers features it does not offer the way GoTrue does with them off', async () => {
    const client = h.client()
    await client.auth.signUp({ email: uniqueEmail('features'), password: 'secret123' })
    const link = await client.auth.linkIdentity({ provider: 'github', options: { skipBrowserRedirect: true } })
    expect(link.error).toMatchObject({ status: 404, code: 'manual_linking_disabled', message: 'Manual linking is disabled' })
    const sso = await client.auth.signInWithSSO({ domain: 'example.com' })
    expect(sso.error).toMatchObject({ status: 404, code: 'saml_provider_disabled', message: 'SAML 2.0 is disabled' })
    const mfa = await client.auth.mfa.enroll({ factorType: 'phone', phone: '+15555550100' })
    expect(mfa.error).toMatchObject({ status: 422, code: 'mfa_phone_enroll_not_enabled' })
    const idToken = await client.auth.signInWithIdToken({ provider: 'google', token: 'header.payload.signature' })
    expect(idToken.error).toMatchObject({ status: 400, code: 'provider_disabled', message: 'Provider (issuer "https://accounts.google.com") is not enabled' })
    const web3 = await h.raw('/token?grant_type=web3', { method: 'POST', json: {} })
    expect(await web3.json()).toMatchObject({ error_code: 'web3_provider_disabled', msg: 'Web3 provider is disabled' })
  })

  it('requires a valid apikey', async () => {
    const none = await fetch(`${h.app.url}/auth/v1/settings`)
    expect(none.status).toBe(401)
    expect((await none.json()).error_code).toBe('no_api_key')
    const bad = await h.raw('/settings', { headers: { apikey: 'nope' } })
    expect(bad.status).toBe(401)
  })
})
