/**
 * `redirect_to` with CR/LF (issue 12, point 5): `new URL()` drops them, so the allow-list must
 * judge and return the parsed URL; `/verify` then redirects (303, no injected header) instead of
 * answering 500, and no token ever reaches a log line, error logs included.
 */
import { Writable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/config.ts'
import { redirectTarget } from '../../src/auth/validate.ts'
import { createLogger, scrubSecrets } from '../../src/logger.ts'
import { describeEachDatabase } from '../support/databases.ts'
import { startAuth, uniqueEmail, type AuthHarness } from './support.ts'

const JWT = /eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/

/** A logger at `trace` whose lines the test reads. */
function capturingLogger() {
  const lines: string[] = []
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk))
      done()
    },
  })
  return { logger: createLogger('trace', sink), text: () => lines.join('') }
}

describeEachDatabase('auth redirect_to and logs', (ctx) => {
  let h: AuthHarness
  const log = capturingLogger()
  beforeAll(async () => {
    h = await startAuth(ctx(), { AUTH_AUTOCONFIRM: 'false', SITE_URL: 'http://localhost:3000', LOG_LEVEL: 'trace' }, { logger: log.logger })
  }, 60_000)
  afterAll(() => h?.close())

  async function verifyWithRedirect(redirectTo: string): Promise<Response> {
    const email = uniqueEmail('crlf')
    const sent = await h.raw('/otp', { method: 'POST', json: { email } })
    expect(sent.status).toBe(200)
    const link = new URL((await h.lastMail(email)).link!)
    link.searchParams.set('redirect_to', redirectTo)
    return fetch(`${h.app.url}/auth/v1/verify${link.search}`, { redirect: 'manual' })
  }

  for (const [name, redirectTo] of [
    ['the site URL', 'http://localhost:3000/welcome\r\nSet-Cookie: stolen=1'],
    ['a bare LF', 'http://localhost:3000/welcome\nX-Injected: 1'],
    ['a tab and NUL', 'http://localhost:3000/wel\tcome\u0000'],
  ] as const) {
    it(`a link whose redirect_to is ${name} with control characters lands on the site URL, with no token logged`, async () => {
      const res = await verifyWithRedirect(redirectTo)
      expect(res.status).toBe(303)
      const location = res.headers.get('location')!
      expect(location).not.toMatch(/[\r\n\t\u0000]/)
      expect(location).toMatch(/^http:\/\/localhost:3000\/?#access_token=/)
      expect(res.headers.get('set-cookie')).toBeNull()
      expect(res.headers.get('x-injected')).toBeNull()
      const fragment = new URLSearchParams(location.split('#')[1])
      const logged = log.text()
      expect(logged).not.toContain(fragment.get('access_token')!)
      expect(logged).not.toContain(fragment.get('refresh_token')!)
      expect(logged).not.toMatch(JWT)
    })
  }

  it('a clean allowed redirect_to still works, as the parsed URL', async () => {
    const res = await verifyWithRedirect('http://localhost:3000/welcome?x=1')
    expect(res.status).toBe(303)
    expect(res.headers.get('location')!.startsWith('http://localhost:3000/welcome?x=1#access_token=')).toBe(true)
  })

  it('/otp stores the parsed redirect in the mailed link, never the raw one', async () => {
    const email = uniqueEmail('crlf-mail')
    const sent = await h.raw('/otp?redirect_to=' + encodeURIComponent('http://localhost:3000/a\r\nb'), { method: 'POST', json: { email } })
    expect(sent.status).toBe(200)
    const link = new URL((await h.lastMail(email)).link!)
    expect(link.searchParams.get('redirect_to')).toBe('http://localhost:3000')
  })
})

describe('log redaction of tokens', () => {
  const token = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl'

  it('scrubs JWTs and token parameters from error messages, stacks, causes and messages', () => {
    const log = capturingLogger()
    const error = new Error(`invalid header value "http://x/#access_token=${token}&refresh_token=abcdefghijkl&type=signup"`)
    log.logger.error({ err: error, cause: `Bearer ${token}` }, `failed for ${token}`)
    log.logger.warn({ error: `?token=pkce_0123abcd&code=secretcode` }, 'warned')
    const text = log.text()
    expect(text).not.toContain(token)
    expect(text).not.toContain('abcdefghijkl')
    expect(text).not.toContain('pkce_0123abcd')
    expect(text).not.toContain('secretcode')
    expect(text).toContain('access_token=[redacted]')
    expect(text).toContain('type=signup')
  })

  it('scrubSecrets leaves ordinary text alone', () => {
    expect(scrubSecrets('relation "todos" does not exist')).toBe('relation "todos" does not exist')
  })

  it('redirectTarget refuses control characters and returns the parsed URL', () => {
    const config = loadConfig({ AUTH_REDIRECT_URLS: 'https://app.example.com/auth/*' }).auth
    const site = 'http://localhost:3000'
    expect(redirectTarget(config, site, 'https://app.example.com/auth/done\r\nSet-Cookie: a=b')).toBe(site)
    expect(redirectTarget(config, site, 'https://app.example.com/auth/\u0000x')).toBe(site)
    expect(redirectTarget(config, site, 'https://app.example.com/auth/a b')).toBe(site)
    expect(redirectTarget(config, site, 'https://APP.example.com/auth/done')).toBe('https://app.example.com/auth/done')
    // Judged as the browser will read it: the parsed path is /auth/x, and that is what is returned.
    expect(redirectTarget(config, site, 'https://app.example.com/other\\..\\auth/x')).toBe('https://app.example.com/auth/x')
    expect(redirectTarget(config, site, 'https://app.example.com/auth\\..\\other')).toBe(site)
  })
})
