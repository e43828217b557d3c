/**
 * Refresh rotation against a model (reuse interval 0): for random sequences of presented tokens,
 * the active token rotates; any revoked one — its parent too, the interval being over — revokes
 * the family for good; and a session never has more than one active token.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeEachDatabase } from '../support/databases.ts'
import { startAuth, uniqueEmail, type AuthHarness } from './support.ts'

type Expected = { ok: true; token: 'new' | number } | { ok: false; code: string }

describeEachDatabase('auth refresh model', (ctx) => {
  let h: AuthHarness
  beforeAll(async () => {
    h = await startAuth(ctx(), { AUTH_REFRESH_TOKEN_REUSE_INTERVAL: '0' })
  }, 60_000)
  afterAll(() => h?.close())

  it('matches the model for random presentation orders', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(), { minLength: 1, maxLength: 8 }), async (picks) => {
        const { data } = await h.client().auth.signUp({ email: uniqueEmail('model'), password: 'secret123' })
        const issued = [data.session!.refresh_token]
        let revokedFamily = false
        for (const pick of picks) {
          // Present mostly recent tokens, sometimes older ones.
          const index = Math.max(0, issued.length - 1 - (pick % Math.min(issued.length, 3)))
          const last = issued.length - 1
          const expected: Expected = revokedFamily
            ? { ok: false, code: 'refresh_token_already_used' }
            : index === last
              ? { ok: true, token: 'new' }
              : { ok: false, code: 'refresh_token_already_used' }
          const res = await h.raw('/token?grant_type=refresh_token', { method: 'POST', headers: { 'x-supabase-api-version': '2024-01-01' }, json: { refresh_token: issued[index] } })
          const body = await res.json()
          if (expected.ok) {
            expect(res.status).toBe(200)
            if (expected.token === 'new') {
              expect(issued).not.toContain(body.refresh_token)
              issued.push(body.refresh_token)
            } else {
              expect(body.refresh_token).toBe(issued[expected.token])
            }
          } else {
            expect(res.status).toBe(400)
            expect(body.code).toBe(expected.code)
            revokedFamily = true
          }
          const active = await ctx().database.query<{ n: number }>('SELECT count(*)::int AS n FROM auth.refresh_tokens WHERE user_id = $1 AND NOT revoked', [data.user!.id])
          expect(active.rows[0]!.n).toBe(revokedFamily ? 0 : 1)
        }
      }),
      { numRuns: 15 },
    )
  }, 120_000)
})
