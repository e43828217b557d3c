/** Pure auth modules: error shapes, timestamps, ban durations, token buckets, password rules, redirects, hashes. */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { parseBanDuration } from '../../src/auth/ban-duration.ts'
import { newOtp, newRefreshToken, sha256Base64Url, tokenHash, verifierMatches } from '../../src/auth/crypto.ts'
import { authError, OAuthError, renderAuthError, wantsModernErrors } from '../../src/auth/errors.ts'
import { assertStrongPassword, hashPassword, passwordWeakness, verifyPassword } from '../../src/auth/password.ts'
import { TokenBucket } from '../../src/auth/rate-limit.ts'
import { rfc3339 } from '../../src/auth/time.ts'
import { redirectTarget, validateEmail, validatePhone } from '../../src/auth/validate.ts'
import { loadConfig } from '../../src/config/config.ts'

describe('auth errors', () => {
  it('renders the legacy shape without a version header and the 2024 shape with one', () => {
    const error = authError(422, 'weak_password', 'Password should be at least 6 characters.', { weak_password: { reasons: ['length'] } })
    expect(renderAuthError(error, undefined, 'req-1')).toEqual({
      status: 422,
      body: { code: 422, error_code: 'weak_password', msg: 'Password should be at least 6 characters.', weak_password: { reasons: ['length'] } },
      headers: { 'x-sb-error-code': 'weak_password' },
    })
    expect(renderAuthError(error, '2024-01-01', 'req-1')).toEqual({
      status: 422,
      body: { code: 'weak_password', message: 'Password should be at least 6 characters.', weak_password: { reasons: ['length'] } },
      headers: { 'x-sb-error-code': 'weak_password', 'X-Supabase-Api-Version': '2024-01-01' },
    })
  })

  it('adds the request id to legacy 5xx bodies only', () => {
    expect(renderAuthError(authError(500, 'unexpected_failure', 'x'), undefined, 'rid').body.error_id).toBe('rid')
    expect(renderAuthError(authError(400, 'validation_failed', 'x'), undefined, 'rid').body.error_id).toBeUndefined()
  })

  it('keeps the OAuth shape for OAuth errors', () => {
    expect(renderAuthError(new OAuthError(400, 'invalid_request', 'refresh_token required'), '2024-01-01', undefined).body).toEqual({ error: 'invalid_request', error_description: 'refresh_token required' })
  })

  it('reads the version header as a date', () => {
    expect(wantsModernErrors('2024-01-01')).toBe(true)
    expect(wantsModernErrors('2025-06-30')).toBe(true)
    expect(wantsModernErrors('2023-12-31')).toBe(false)
    expect(wantsModernErrors('garbage')).toBe(false)
    expect(wantsModernErrors(undefined)).toBe(false)
  })
})

describe('timestamps', () => {
  it('converts PostgreSQL text in any offset to RFC 3339 UTC, keeping microseconds', () => {
    expect(rfc3339('2026-01-01 12:00:00.123456+00')).toBe('2026-01-01T12:00:00.123456Z')
    expect(rfc3339('2026-01-01 14:30:00.5+02:30')).toBe('2026-01-01T12:00:00.5Z')
    expect(rfc3339('2026-01-01T00:00:00-05:00')).toBe('2026-01-01T05:00:00Z')
    expect(rfc3339('infinity')).toBe('infinity')
    expect(rfc3339(null)).toBeUndefined()
  })
})

describe('ban durations', () => {
  it('parses Go durations and none', () => {
    expect(parseBanDuration('24h')).toBe(86400)
    expect(parseBanDuration('1h30m')).toBe(5400)
    expect(parseBanDuration('1.5h')).toBe(5400)
    expect(parseBanDuration('90s')).toBe(90)
    expect(parseBanDuration('none')).toBeNull()
    for (const bad of ['', 'forever', '-1h', '10', 'h', '1d']) expect(() => parseBanDuration(bad), bad).toThrow(/ban duration/)
  })
})

describe('token bucket', () => {
  it('allows a burst of `limit`, then refills continuously', () => {
    let now = 0
    const bucket = new TokenBucket(3, 300, () => now)
    expect([bucket.take('a'), bucket.take('a'), bucket.take('a'), bucket.take('a')]).toEqual([true, true, true, false])
    expect(bucket.take('b')).toBe(true)
    now += 100_000 // one token per 100 s
    expect(bucket.take('a')).toBe(true)
    expect(bucket.take('a')).toBe(false)
  })

  it('is off at 0', () => {
    const bucket = new TokenBucket(0, 300)
    for (let i = 0; i < 100; i++) expect(bucket.take('x')).toBe(true)
  })
})

describe('passwords', () => {
  it('hashes as $2a$10$ and verifies $2a/$2b/$2y, never an empty or foreign hash', async () => {
    const hash = await hashPassword('hunter22')
    expect(hash).toMatch(/^\$2a\$10\$.{53}$/)
    expect(await verifyPassword('hunter22', hash)).toBe(true)
    expect(await verifyPassword('hunter23', hash)).toBe(false)
    expect(await verifyPassword('hunter22', hash.replace('$2a$', '$2b$'))).toBe(true)
    expect(await verifyPassword('hunter22', hash.replace('$2a$', '$2y$'))).toBe(true)
    expect(await verifyPassword('', '')).toBe(false)
    expect(await verifyPassword('x', null)).toBe(false)
    expect(await verifyPassword('x', '$argon2id$v=19$m=65536,t=3,p=4$abc$def')).toBe(false)
  })

  it('applies length in bytes and required character sets, with GoTrue messages', () => {
    const rules = { passwordMinLength: 8, passwordRequiredCharacters: ['abcdefghijklmnopqrstuvwxyz', '0123456789'] }
    expect(passwordWeakness('abcdefgh1', rules)).toBeUndefined()
    expect(passwordWeakness('abc', rules)).toEqual({
      reasons: ['length', 'characters'],
      message: 'Password should be at least 8 characters. Password should contain at least one character of each: abcdefghijklmnopqrstuvwxyz, 0123456789.',
    })
    expect(() => assertStrongPassword('é'.repeat(37), rules)).toThrow('Password cannot be longer than 72 characters') // 74 bytes
  })
})

describe('validation', () => {
  it('lower-cases valid emails and refuses others', () => {
    expect(validateEmail('  Ada@Example.COM ')).toBe('ada@example.com')
    for (const bad of ['', 'a', 'a@', '@b.c', 'a b@c.d', 'a@b', `${'x'.repeat(251)}@b.cd`]) expect(() => validateEmail(bad), bad).toThrow()
  })

  it('stores phones as E.164 digits', () => {
    expect(validatePhone('+1 (555) 010-9999')).toBe('15550109999')
    expect(() => validatePhone('0123')).toThrow(/E.164/)
  })

  it('redirects only to the site origin or the allow-list', () => {
    const config = loadConfig({ AUTH_REDIRECT_URLS: 'https://app.example.com/auth/*,myapp://callback' }).auth
    const site = 'http://localhost:3000'
    expect(redirectTarget(config, site, 'http://localhost:3000/welcome')).toBe('http://localhost:3000/welcome')
    expect(redirectTarget(config, site, 'https://app.example.com/auth/done')).toBe('https://app.example.com/auth/done')
    expect(redirectTarget(config, site, 'myapp://callback')).toBe('myapp://callback')
    expect(redirectTarget(config, site, 'https://evil.example.net/')).toBe(site)
    expect(redirectTarget(config, site, 'https://app.example.com.evil.net/auth/x')).toBe(site)
    expect(redirectTarget(config, site, 'not a url')).toBe(site)
    expect(redirectTarget(config, site, undefined)).toBe(site)
  })
})

describe('tokens and hashes', () => {
  it('makes v1 refresh tokens and numeric OTPs', () => {
    for (let i = 0; i < 50; i++) {
      expect(newRefreshToken()).toMatch(/^[a-z2-7]{12}$/)
      expect(newOtp(6)).toMatch(/^\d{6}$/)
    }
  })

  it('hashes OTPs as hex(sha224(email + otp))', () => {
    expect(tokenHash('a@example.com', '123456')).toBe('a1828f725cbf9d6eecc3a3afeb2d88a886ccb3280cc2dc88aafb5c82') // printf 'a@example.com123456' | openssl dgst -sha224
    expect(tokenHash('a@example.com', '123456')).not.toBe(tokenHash('b@example.com', '123456'))
  })

  it('matches PKCE verifiers for s256 and plain only', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-zA-Z0-9._~-]{43,128}$/), (verifier) => {
        expect(verifierMatches(verifier, sha256Base64Url(verifier), 's256')).toBe(true)
        expect(verifierMatches(verifier, verifier, 'plain')).toBe(true)
        expect(verifierMatches(verifier + 'x', sha256Base64Url(verifier), 's256')).toBe(false)
      }),
      { numRuns: 50 },
    )
    expect(verifierMatches('short', 'short', 'plain')).toBe(false)
  })
})

describe('HS256 signing', () => {
  it('produces exactly the token jose produces, and jose verifies it', async () => {
    const { createJwtService } = await import('../../src/jwt/service.ts')
    const jose = await import('jose')
    const secret = 'a-secret-of-at-least-32-characters-long'
    const jwt = await createJwtService(loadConfig({ JWT_SECRET: secret }))
    const claims = { sub: 'x', unicode: 'é ✓', nested: { a: [1, 2] }, exp: Math.floor(Date.now() / 1000) + 60 }
    const mine = await jwt.sign(claims)
    const reference = await new jose.SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(secret))
    expect(mine).toBe(reference)
    expect((await jose.jwtVerify(mine, new TextEncoder().encode(secret))).payload).toEqual(claims)
    await expect(jose.jwtVerify(mine, new TextEncoder().encode(secret + 'x'))).rejects.toThrow()
  })
})

describe('bcrypt off the event loop', () => {
  it('hashes and compares in worker threads while the event loop stays responsive', async () => {
    const { bcryptCompare, bcryptHash, bcryptWorkers } = await import('../../src/auth/bcrypt-pool.ts')
    expect(bcryptWorkers()).toBeGreaterThan(0)
    const hash = await bcryptHash('pooled-pass', '$2a$10$B2HKSLY1HMcXvFo2BxEjce')
    expect(hash).toMatch(/^\$2a\$10\$B2HKSLY1HMcXvFo2BxEjce.{31}$/)
    let ticks = 0
    const timer = setInterval(() => ticks++, 5)
    const results = await Promise.all([bcryptCompare('pooled-pass', hash), bcryptCompare('wrong', hash), bcryptCompare('pooled-pass', hash)])
    clearInterval(timer)
    expect(results).toEqual([true, false, true])
    expect(ticks).toBeGreaterThan(3) // timers kept firing during ~200 ms of bcrypt work
  })
})
