/**
 * Refresh-token reuse rules (GoTrue v1): inside the reuse interval a revoked token still
 * refreshes; outside it the whole family is revoked (and stays revoked although the request
 * fails); expired sessions, banned users and malformed tokens are refused with their codes.
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeEachDatabase } from '../support/databases.ts'
import { startAuth, uniqueEmail, type AuthHarness } from './support.ts'

const V = { 'x-supabase-api-version': '2024-01-01' }

describeEachDatabase('auth refresh reuse', (ctx) => {
  let strict: AuthHarness // reuse interval 0
  let lenient: AuthHarness // reuse interval 10 s (Supabase's default)
  beforeAll(async () => {
    strict = await startAuth(ctx(), { AUTH_REFRESH_TOKEN_REUSE_INTERVAL: '0' })
    lenient = await startAuth(ctx(), { AUTH_REFRESH_TOKEN_REUSE_INTERVAL: '10' })
  }, 60_000)
  afterAll(async () => {
    await strict?.close()
    await lenient?.close()
  })

  const refresh = (h: AuthHarness, token: string) => h.raw('/token?grant_type=refresh_token', { method: 'POST', headers: V, json: { refresh_token: token } })

  async function chain(h: AuthHarness, length: number): Promise<{ tokens: string[]; userId: string }> {
    const { data } = await h.client().auth.signUp({ email: uniqueEmail('chain'), password: 'secret123' })
    const tokens = [data.session!.refresh_token]
    for (let i = 1; i < length; i++) {
      const res = await refresh(h, tokens.at(-1)!)
      expect(res.status).toBe(200)
      tokens.push((await res.json()).refresh_token)
    }
    return { tokens, userId: data.user!.id }
  }

  it('outside the interval, reusing an old token revokes the whole family (and the revocation commits)', async () => {
    const { tokens, userId } = await chain(strict, 4)
    const reuse = await refresh(strict, tokens[0]!)
    expect(reuse.status).toBe(400)
    expect(await reuse.json()).toEqual({ code: 'refresh_token_already_used', message: 'Invalid Refresh Token: Already Used' })
    const active = await ctx().database.query<{ n: number }>('SELECT count(*)::int AS n FROM auth.refresh_tokens WHERE user_id = $1 AND revoked = false', [userId])
    expect(active.rows[0]!.n).toBe(0)
    const newest = await refresh(strict, tokens[3]!)
    expect(newest.status).toBe(400)
    expect((await newest.json()).code).toBe('refresh_token_already_used')
  })

  it('inside the interval, the parent of the active token returns the active one (a lost response)', async () => {
    const { tokens } = await chain(lenient, 3)
    const res = await refresh(lenient, tokens[1]!)
    expect(res.status).toBe(200)
    expect((await res.json()).refresh_token).toBe(tokens[2])
  })

  const activeTokens = async (userId: string) =>
    (await ctx().database.query<{ n: number }>('SELECT count(*)::int AS n FROM auth.refresh_tokens WHERE user_id = $1 AND revoked = false', [userId])).rows[0]!.n

  it('outside the interval, even the parent of the active token revokes the family (interval 0)', async () => {
    const { tokens, userId } = await chain(strict, 3)
    const res = await refresh(strict, tokens[1]!)
    expect(res.status).toBe(400)
    expect(await res.json()).toEqual({ code: 'refresh_token_already_used', message: 'Invalid Refresh Token: Already Used' })
    expect(await activeTokens(userId)).toBe(0)
    expect((await refresh(strict, tokens[2]!)).status).toBe(400)
  })

  it('a stolen parent token replayed after the interval gets nothing and kills the session', async () => {
    const { tokens, userId } = await chain(lenient, 2)
    // The thief replays the first token an hour after the owner's refresh revoked it.
    await ctx().database.query(`UPDATE auth.refresh_tokens SET updated_at = now() - interval '1 hour' WHERE token = $1`, [tokens[0]])
    const replay = await refresh(lenient, tokens[0]!)
    expect(replay.status).toBe(400)
    const body = await replay.json()
    expect(body).toEqual({ code: 'refresh_token_already_used', message: 'Invalid Refresh Token: Already Used' })
    expect(JSON.stringify(body)).not.toContain(tokens[1])
    expect(await activeTokens(userId)).toBe(0)
    const owner = await refresh(lenient, tokens[1]!)
    expect(owner.status).toBe(400)
    expect((await owner.json()).code).toBe('refresh_token_already_used')
  })

  it('inside the interval, a revoked token refreshes again', async () => {
    const { tokens } = await chain(lenient, 3)
    const res = await refresh(lenient, tokens[0]!)
    expect(res.status).toBe(200)
    const body = await res.json()
    expect(body.refresh_token).not.toBe(tokens[2])
    expect(body.refresh_token).not.toBe(tokens[1])
  })

  it('refuses malformed, unknown and missing tokens with their codes', async () => {
    const short = await refresh(strict, 'abc')
    expect(short.status).toBe(400)
    expect(await short.json()).toEqual({ code: 'validation_failed', message: 'Refresh token is not valid' })
    const unknown = await refresh(strict, 'aaaaaaaaaaaa')
    expect(await unknown.json()).toEqual({ code: 'refresh_token_not_found', message: 'Invalid Refresh Token: Refresh Token Not Found' })
    const missing = await strict.raw('/token?grant_type=refresh_token', { method: 'POST', json: {} })
    expect(missing.status).toBe(400)
    expect(await missing.json()).toEqual({ error: 'invalid_request', error_description: 'refresh_token required' })
    const typed = await strict.raw('/token?grant_type=refresh_token', { method: 'POST', headers: V, json: { refresh_token: 42 } })
    expect(typed.status).toBe(400)
    expect((await typed.json()).code).toBe('bad_json')
    const grant = await strict.raw('/token?grant_type=magic', { method: 'POST', json: {} })
    expect(grant.status).toBe(400)
  })

  it('refuses refreshes of expired sessions and banned users', async () => {
    const { tokens, userId } = await chain(strict, 1)
    await ctx().database.query(`UPDATE auth.sessions SET not_after = now() - interval '1 minute' WHERE user_id = $1`, [userId])
    const expired = await refresh(strict, tokens[0]!)
    expect(await expired.json()).toEqual({ code: 'session_expired', message: 'Invalid Refresh Token: Session Expired' })

    const other = await chain(strict, 1)
    await strict.admin().auth.admin.updateUserById(other.userId, { ban_duration: '1h' })
    const banned = await refresh(strict, other.tokens[0]!)
    expect(await banned.json()).toEqual({ code: 'user_banned', message: 'Invalid Refresh Token: User Banned' })
  })

  it('supabase-js sees refresh_token_already_used once its token was reused elsewhere', async () => {
    const client = strict.client()
    await client.auth.signUp({ email: uniqueEmail('js'), password: 'secret123' })
    const stolen = (await client.auth.getSession()).data.session!.refresh_token
    expect((await client.auth.refreshSession()).error).toBeNull() // stolen is now the parent of the active token
    expect((await client.auth.refreshSession()).error).toBeNull() // and now a grandparent: reuse is theft
    expect((await refresh(strict, stolen)).status).toBe(400)
    const after = await client.auth.refreshSession()
    expect(after.error).toMatchObject({ status: 400, code: 'refresh_token_already_used' })
  })
})
