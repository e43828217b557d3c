/**
 * Issue 14, point 7: auth's rate limits can be passed to `createServices` (as the clock and the
 * mailer can), so a test sets its own limits instead of configuring the app or waiting for a
 * window to close. The limits passed in count in the real database.
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/config.ts'
import { createLimiters, WindowLimit, type AuthLimiters } from '../../src/auth/rate-limit.ts'
import { describeEachDatabase } from '../support/databases.ts'
import { startAuth, type AuthHarness } from './support.ts'

describeEachDatabase('auth rate limits passed to createServices', (ctx) => {
  let h: AuthHarness
  beforeAll(async () => {
    // The app's own config raises the per-client verify limit to a million (RAISED_CLIENT_LIMITS);
    // the limits passed in allow two verifies per client, counted under a bucket name of their own.
    const base = createLimiters(loadConfig({}).auth, () => Promise.resolve(ctx().database))
    const limits: AuthLimiters = { ...base, verify: new WindowLimit('verify-injected', 2, 300, base.counters) }
    h = await startAuth(ctx(), {}, { authLimiters: limits })
  }, 60_000)
  afterAll(async () => {
    await h?.close()
  })

  it('counts /verify with the limiter passed in and refuses past its limit', async () => {
    const verify = () => h.raw('/verify', { method: 'POST', json: { type: 'signup', token_hash: 'no-such-token' } })
    for (let i = 0; i < 2; i++) {
      const res = await verify()
      expect(res.status).toBe(403)
      expect(await res.json()).toMatchObject({ error_code: 'otp_expired' })
    }
    const third = await verify()
    expect(third.status).toBe(429)
    expect(await third.json()).toMatchObject({ error_code: 'over_request_rate_limit' })
    expect(third.headers.get('retry-after')).toMatch(/^\d+$/)

    const { rows } = await ctx().database.query<{ bucket: string; hits: number }>(
      `SELECT bucket, hits FROM _resolution.auth_rate_limits WHERE bucket IN ('verify', 'verify-injected') ORDER BY bucket`,
    )
    // Only the passed-in limiter counted: the one built from config never saw these requests.
    expect(rows.map((r) => ({ bucket: r.bucket, hits: Number(r.hits) }))).toEqual([{ bucket: 'verify-injected', hits: 3 }])
  })
})
