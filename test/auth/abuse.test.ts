/**
 * Issue 12, points 1 and 2: emailed codes cannot be brute-forced (a counted number of guesses per
 * code, kept in the database), password attempts are throttled per account for a window, the
 * per-client limits are on with no configuration, and the client's address cannot be spoofed
 * through the part of X-Forwarded-For the client writes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Hono } from 'hono'
import { clientAddress, limitKey } from '../../src/http/client-address.ts'
import { loadConfig } from '../../src/config/config.ts'
import { startTestApp, type TestApp } from '../support/app.ts'
import { describeEachDatabase } from '../support/databases.ts'
import { startAuth, uniqueEmail, type AuthHarness } from './support.ts'

const V = { 'x-supabase-api-version': '2024-01-01' }

/** The i-th code that is not `right`. */
const wrong = (right: string, i: number) => String((Number(right) + i + 1) % 1_000_000).padStart(right.length, '0')

describeEachDatabase('auth abuse: guesses at emailed codes and passwords', (ctx) => {
  let h: AuthHarness
  let other: AuthHarness
  let confirming: AuthHarness
  let timed: AuthHarness
  let offsetMs = 0
  beforeAll(async () => {
    h = await startAuth(ctx())
    other = await startAuth(ctx())
    confirming = await startAuth(ctx(), { AUTH_AUTOCONFIRM: 'false' })
    timed = await startAuth(ctx(), {}, { clock: () => Date.now() + offsetMs })
  }, 60_000)
  afterAll(async () => {
    await h?.close()
    await other?.close()
    await confirming?.close()
    await timed?.close()
  })

  async function signedUp(harness: AuthHarness, prefix: string): Promise<string> {
    const email = uniqueEmail(prefix)
    const { error } = await harness.client().auth.signUp({ email, password: 'secret123' })
    expect(error).toBeNull()
    return email
  }

  it('a recovery code survives 5 wrong guesses; the 6th guess, even the right code, is refused; a new mail gives a working code', async () => {
    const email = await signedUp(h, 'guess')
    await h.client().auth.resetPasswordForEmail(email)
    const code = (await h.lastMail(email)).otp!
    for (let i = 0; i < 5; i++) {
      const res = await h.client().auth.verifyOtp({ email, token: wrong(code, i), type: 'recovery' })
      expect(res.error).toMatchObject({ status: 403, code: 'otp_expired', message: 'Token has expired or is invalid' })
    }
    const sixth = await h.client().auth.verifyOtp({ email, token: code, type: 'recovery' })
    expect(sixth.error).toMatchObject({ status: 403, code: 'otp_expired', message: 'Token has expired or is invalid' })
    // The code is void in the database, not just refused.
    const { rows } = await ctx().database.query<{ recovery_token: string }>('SELECT recovery_token FROM auth.users WHERE email = $1', [email])
    expect(rows[0]!.recovery_token).toBe('')

    await h.client().auth.resetPasswordForEmail(email)
    const fresh = (await h.lastMail(email)).otp!
    const ok = await h.client().auth.verifyOtp({ email, token: fresh, type: 'recovery' })
    expect(ok.error).toBeNull()
    expect(ok.data.session?.user.email).toBe(email)
  })

  it('fewer wrong guesses than the limit leave the right code working', async () => {
    const email = await signedUp(h, 'fewer')
    await h.client().auth.signInWithOtp({ email })
    const code = (await h.lastMail(email)).otp!
    for (let i = 0; i < 4; i++) expect((await h.client().auth.verifyOtp({ email, token: wrong(code, i), type: 'email' })).error).toMatchObject({ status: 403 })
    const ok = await h.client().auth.verifyOtp({ email, token: code, type: 'email' })
    expect(ok.error).toBeNull()
  })

  it('counts guesses across two app instances sharing one database', async () => {
    const email = await signedUp(h, 'twoapps')
    await h.client().auth.signInWithOtp({ email })
    const code = (await h.lastMail(email)).otp!
    for (let i = 0; i < 5; i++) {
      const app = i % 2 === 0 ? h : other
      expect((await app.client().auth.verifyOtp({ email, token: wrong(code, i), type: 'magiclink' })).error).toMatchObject({ status: 403 })
    }
    for (const app of [other, h]) {
      const res = await app.client().auth.verifyOtp({ email, token: code, type: 'magiclink' })
      expect(res.error).toMatchObject({ status: 403, code: 'otp_expired' })
    }
  })

  it('a burst of parallel wrong guesses cannot outrun the count', async () => {
    const email = await signedUp(h, 'burst')
    await h.client().auth.resetPasswordForEmail(email)
    const code = (await h.lastMail(email)).otp!
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => h.client().auth.verifyOtp({ email, token: wrong(code, i), type: 'recovery' })))
    expect(answers.every((a) => a.error?.status === 403)).toBe(true)
    expect((await h.client().auth.verifyOtp({ email, token: code, type: 'recovery' })).error).toMatchObject({ status: 403, code: 'otp_expired' })
  })

  it('limits guesses at a sign-up confirmation code too (type signup, then type email)', async () => {
    const email = uniqueEmail('confirm')
    expect((await confirming.client().auth.signUp({ email, password: 'secret123' })).error).toBeNull()
    const code = (await confirming.lastMail(email)).otp!
    for (let i = 0; i < 3; i++) await confirming.client().auth.verifyOtp({ email, token: wrong(code, i), type: 'signup' })
    // Another type name aimed at the same code shares its count.
    for (let i = 3; i < 5; i++) await confirming.client().auth.verifyOtp({ email, token: wrong(code, i), type: 'email' })
    expect((await confirming.client().auth.verifyOtp({ email, token: code, type: 'signup' })).error).toMatchObject({ status: 403, code: 'otp_expired' })
    await confirming.client().auth.resend({ type: 'signup', email })
    const fresh = (await confirming.lastMail(email)).otp!
    expect((await confirming.client().auth.verifyOtp({ email, token: fresh, type: 'signup' })).error).toBeNull()
  })

  it('a code lives one hour by default (AUTH_OTP_EXP = 3600)', async () => {
    expect(loadConfig({}).auth.otpExp).toBe(3600)
    const email = await signedUp(h, 'old')
    await h.client().auth.resetPasswordForEmail(email)
    const code = (await h.lastMail(email)).otp!
    await ctx().database.query("UPDATE auth.users SET recovery_sent_at = now() - interval '61 minutes' WHERE email = $1", [email])
    expect((await h.client().auth.verifyOtp({ email, token: code, type: 'recovery' })).error).toMatchObject({ status: 403, code: 'otp_expired' })
  })

  it('throttles password attempts per account for a window, then lets the owner in again', async () => {
    const email = await signedUp(timed, 'pw')
    for (let i = 0; i < 10; i++) {
      const res = await timed.client().auth.signInWithPassword({ email, password: `wrong-${i}` })
      expect(res.error).toMatchObject({ status: 400, code: 'invalid_credentials' })
    }
    const raw = await timed.raw('/token?grant_type=password', { method: 'POST', headers: V, json: { email, password: 'secret123' } })
    expect(raw.status).toBe(429)
    expect(await raw.json()).toMatchObject({ code: 'over_request_rate_limit' })
    expect(Number(raw.headers.get('retry-after'))).toBeGreaterThan(0)
    // Another address, or the same one in other letters, is the same account.
    expect((await timed.client().auth.signInWithPassword({ email: email.toUpperCase(), password: 'secret123' })).error).toMatchObject({ status: 429 })

    offsetMs += 901_000 // the window (AUTH_PASSWORD_ATTEMPT_WINDOW, 900 s) has passed
    const back = await timed.client().auth.signInWithPassword({ email, password: 'secret123' })
    expect(back.error).toBeNull()
  })

  it('the right password clears the count; an unknown address is throttled alike (no hint who exists)', async () => {
    const email = await signedUp(timed, 'pwreset')
    for (let i = 0; i < 9; i++) await timed.client().auth.signInWithPassword({ email, password: 'nope' })
    expect((await timed.client().auth.signInWithPassword({ email, password: 'secret123' })).error).toBeNull()
    for (let i = 0; i < 9; i++) await timed.client().auth.signInWithPassword({ email, password: 'nope' })
    expect((await timed.client().auth.signInWithPassword({ email, password: 'secret123' })).error).toBeNull()

    const nobody = uniqueEmail('nobody')
    const statuses: number[] = []
    for (let i = 0; i < 11; i++) statuses.push((await timed.raw('/token?grant_type=password', { method: 'POST', json: { email: nobody, password: 'x' } })).status)
    expect(statuses).toEqual([...Array(10).fill(400), 429])
  })

  it('an overlong address is counted under a digest, not stored as a key', async () => {
    const huge = `${'a'.repeat(100_000)}@example.com`
    const res = await h.raw('/token?grant_type=password', { method: 'POST', json: { email: huge, password: 'x' } })
    expect(res.status).toBe(400)
    const { rows } = await ctx().database.query<{ longest: number }>("SELECT max(length(key)) AS longest FROM _resolution.auth_rate_limits WHERE bucket = 'password'")
    expect(Number(rows[0]!.longest)).toBeLessThan(400)
  })

  it('the password count holds across app instances', async () => {
    const email = await signedUp(h, 'pwtwo')
    for (let i = 0; i < 10; i++) await (i % 2 ? h : other).client().auth.signInWithPassword({ email, password: 'nope' })
    expect((await other.client().auth.signInWithPassword({ email, password: 'secret123' })).error).toMatchObject({ status: 429, code: 'over_request_rate_limit' })
  })
})

describeEachDatabase('auth abuse: per-client limits', (ctx) => {
  let plain: TestApp
  let twin: TestApp
  let proxied: AuthHarness
  let twoProxies: AuthHarness
  beforeAll(async () => {
    // No AUTH_RATE_LIMIT_* at all: the defaults must hold.
    plain = await startTestApp(ctx(), { AUTH_AUTOCONFIRM: 'true' })
    twin = await startTestApp(ctx(), { AUTH_AUTOCONFIRM: 'true' })
    proxied = await startAuth(ctx(), { AUTH_RATE_LIMIT_HEADER: 'X-Forwarded-For', AUTH_RATE_LIMIT_OTP: '3' })
    twoProxies = await startAuth(ctx(), { AUTH_RATE_LIMIT_HEADER: 'X-Forwarded-For', AUTH_RATE_LIMIT_TRUSTED_HOPS: '2', AUTH_RATE_LIMIT_OTP: '2' })
  }, 60_000)
  afterAll(async () => {
    for (const app of [plain, twin]) await app?.close()
    await proxied?.close()
    await twoProxies?.close()
  })

  const post = (app: TestApp, path: string, json: unknown, headers: Record<string, string> = {}) =>
    fetch(`${app.url}/auth/v1${path}`, { method: 'POST', headers: { apikey: app.anonKey, 'content-type': 'application/json', ...V, ...headers }, body: JSON.stringify(json) })

  it('limits /verify per client with no configuration, keyed on the socket (a forged X-Forwarded-For changes nothing), across app instances', async () => {
    const statuses: number[] = []
    for (let i = 0; i < 31; i++) {
      const app = i % 2 === 0 ? plain : twin
      const res = await post(app, '/verify', { type: 'recovery', token_hash: `nope${i}` }, { 'x-forwarded-for': `198.18.${i}.1` })
      statuses.push(res.status)
      if (res.status === 429) expect(await res.json()).toEqual({ code: 'over_request_rate_limit', message: 'Request rate limit reached' })
    }
    expect(statuses).toEqual([...Array(30).fill(403), 429])
  })

  it('limits /signup, /otp and /recover (30 per 5 min) and /token (150 per 5 min) per client with no configuration', async () => {
    const otpLike: number[] = []
    for (let i = 0; i < 31; i++) {
      const path = ['/signup', '/otp', '/recover'][i % 3]!
      const res = await post(plain, path, { email: uniqueEmail('dflt'), password: 'secret123', create_user: false })
      otpLike.push(res.status)
    }
    expect(otpLike.slice(0, 30).every((s) => s !== 429)).toBe(true)
    expect(otpLike[30]).toBe(429)
    const grants: number[] = []
    for (let i = 0; i < 151; i++) grants.push((await post(plain, '/token?grant_type=refresh_token', { refresh_token: `nope-${i}` })).status)
    expect(grants.slice(0, 150).every((s) => s === 400)).toBe(true)
    expect(grants[150]).toBe(429)
  })

  it('behind a proxy, keys on the hop the proxy appended: a spoofed left-most X-Forwarded-For does not escape', async () => {
    const statuses: number[] = []
    for (let i = 0; i < 4; i++) {
      const res = await proxied.raw('/recover', { method: 'POST', headers: { 'x-forwarded-for': `10.${i}.0.1, 203.0.113.9` }, json: { email: uniqueEmail('spoof') } })
      statuses.push(res.status)
    }
    expect(statuses).toEqual([200, 200, 200, 429])
    // Another real client behind the same proxy is not affected.
    expect((await proxied.raw('/recover', { method: 'POST', headers: { 'x-forwarded-for': '10.0.0.1, 203.0.113.10' }, json: { email: uniqueEmail('spoof') } })).status).toBe(200)
  })

  it('records the trusted address on sessions and audit rows, not the spoofed one', async () => {
    const email = uniqueEmail('where')
    const client = proxied.client({ headers: { 'x-forwarded-for': '6.6.6.6, 203.0.113.77' } })
    const { data, error } = await client.auth.signUp({ email, password: 'secret123' })
    expect(error).toBeNull()
    const { rows } = await ctx().database.query<{ ip: string }>('SELECT host(ip) AS ip FROM auth.sessions WHERE user_id = $1', [data.user!.id])
    expect(rows.map((r) => r.ip)).toEqual(['203.0.113.77'])
  })

  it('with two trusted hops, counts the second entry from the right', async () => {
    const statuses: number[] = []
    for (let i = 0; i < 3; i++) {
      const res = await twoProxies.raw('/recover', { method: 'POST', headers: { 'x-forwarded-for': `172.16.${i}.1, 198.51.100.33, 10.1.1.1` }, json: { email: uniqueEmail('hops') } })
      statuses.push(res.status)
    }
    expect(statuses).toEqual([200, 200, 429])
  })
})

describeEachDatabase('auth abuse: a database without the counters table', (ctx) => {
  it('answers the limited endpoints with 503 database_unavailable, not 500 and not unlimited', async () => {
    await ctx().database.query('DROP TABLE _resolution.auth_rate_limits')
    const app = await startTestApp(ctx())
    try {
      const res = await fetch(`${app.url}/auth/v1/verify`, { method: 'POST', headers: { apikey: app.anonKey, 'content-type': 'application/json', ...V }, body: JSON.stringify({ type: 'recovery', token_hash: 'x' }) })
      expect(res.status).toBe(503)
      expect(await res.json()).toMatchObject({ code: 'database_unavailable' })
    } finally {
      await app.close()
    }
  })
})

describe('client address', () => {
  const app = new Hono<{ Bindings: Record<string, unknown> }>()
  app.get('/', (c) => {
    const hops = Number(c.req.query('hops') ?? '1')
    const address = clientAddress(c, c.req.query('header') || undefined, hops)
    return c.json({ address: address ?? null, key: limitKey(address) })
  })
  const ask = async (query: string, headers: Record<string, string>, env: Record<string, unknown>) =>
    (await app.fetch(new Request(`http://x/?${query}`, { headers }), env)).json() as Promise<{ address: string | null; key: string }>

  it('uses the socket, or the Lambda event, never a forwarding header nobody configured', async () => {
    const spoof = { 'x-forwarded-for': '1.1.1.1' }
    expect(await ask('', spoof, { incoming: { socket: { remoteAddress: '192.0.2.1' } } })).toMatchObject({ address: '192.0.2.1' })
    expect(await ask('', spoof, { requestContext: { identity: { sourceIp: '192.0.2.2' } } })).toMatchObject({ address: '192.0.2.2' })
    expect(await ask('', spoof, { requestContext: { http: { sourceIp: '192.0.2.3' } } })).toMatchObject({ address: '192.0.2.3' })
    // An ALB event has no sourceIp: the entry the ALB appended is the peer.
    expect(await ask('', { 'x-forwarded-for': '1.1.1.1, 192.0.2.4' }, { requestContext: { elb: {} } })).toMatchObject({ address: '192.0.2.4' })
    expect(await ask('', spoof, {})).toEqual({ address: null, key: 'unknown' })
  })

  it('takes the trusted hop of the configured header and ignores garbage', async () => {
    const socket = { incoming: { socket: { remoteAddress: '192.0.2.9' } } }
    expect(await ask('header=x-forwarded-for', { 'x-forwarded-for': 'evil, 1.2.3.4, 5.6.7.8' }, socket)).toMatchObject({ address: '5.6.7.8' })
    expect(await ask('header=x-forwarded-for&hops=2', { 'x-forwarded-for': 'evil, 1.2.3.4, 5.6.7.8' }, socket)).toMatchObject({ address: '1.2.3.4' })
    expect(await ask('header=x-forwarded-for&hops=3', { 'x-forwarded-for': '1.2.3.4, 5.6.7.8' }, socket)).toMatchObject({ address: '1.2.3.4' })
    expect(await ask('header=x-forwarded-for', { 'x-forwarded-for': '1.2.3.4, not-an-ip' }, socket)).toMatchObject({ address: '192.0.2.9' })
    expect(await ask('header=x-forwarded-for', {}, socket)).toMatchObject({ address: '192.0.2.9' })
    expect(await ask('header=x-real-ip', { 'x-real-ip': '[2001:db8::1]:443' }, socket)).toMatchObject({ address: '2001:db8::1' })
  })

  it('counts IPv6 clients by their /64 and IPv4-mapped addresses as IPv4', () => {
    expect(limitKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64')
    expect(limitKey('2001:db8:1:2:bbbb:cccc:dddd:eeee')).toBe('2001:db8:1:2::/64')
    expect(limitKey('2001:db8::1')).toBe('2001:db8:0:0::/64')
    expect(limitKey('::ffff:203.0.113.5')).toBe('203.0.113.5')
    expect(limitKey('::1')).toBe('0:0:0:0::/64')
    expect(limitKey('203.0.113.5')).toBe('203.0.113.5')
  })
})
