/**
 * `API_KEY_REQUIRED=false`: `/auth/v1` takes requests without an `apikey`, as GoTrue behind the
 * Supabase CLI's gateway does; endpoints still demand the bearer they need.
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeEachDatabase } from '../support/databases.ts'
import { startAuth, uniqueEmail, type AuthHarness } from './support.ts'

describeEachDatabase('auth without a required API key', (ctx) => {
  let h: AuthHarness
  beforeAll(async () => {
    h = await startAuth(ctx(), { API_KEY_REQUIRED: 'false' })
  }, 60_000)
  afterAll(() => h?.close())

  const bare = (path: string, init: RequestInit = {}) => fetch(`${h.app.url}/auth/v1${path}`, { ...init, headers: { 'content-type': 'application/json', ...(init.headers ?? {}) } })

  it('signs up and in without a key; user and admin endpoints still need their bearer', async () => {
    const email = uniqueEmail('nokey')
    const signup = await bare('/signup', { method: 'POST', body: JSON.stringify({ email, password: 'secret123' }) })
    expect(signup.status).toBe(200)
    const session = (await signup.json()) as { access_token: string }
    const me = await bare('/user', { headers: { authorization: `Bearer ${session.access_token}` } })
    expect(((await me.json()) as { email: string }).email).toBe(email)
    expect((await bare('/user')).status).toBe(401)
    expect((await bare('/admin/users')).status).toBe(401)
    expect((await bare('/admin/users', { headers: { authorization: `Bearer ${session.access_token}` } })).status).toBe(403)
    expect((await bare('/admin/users', { headers: { authorization: `Bearer ${h.app.serviceRoleKey}` } })).status).toBe(200)
    // A key that is sent must still be valid.
    expect((await bare('/settings', { headers: { apikey: 'not-a-key' } })).status).toBe(401)
  })
})
