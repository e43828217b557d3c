/**
 * Phone sign-up with a password under `AUTH_SMS_AUTOCONFIRM` (no SMS is sent): a confirmed phone
 * user and a Session at once, password sign-in by phone, and GoTrue's answer to a taken number.
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeEachDatabase } from '../support/databases.ts'
import { startAuth, type AuthHarness } from './support.ts'

let counter = 0
const uniquePhone = () => `1555${String(Date.now() % 1_000_000).padStart(6, '0')}${++counter % 10}`

describeEachDatabase('auth phone sign-up (SMS autoconfirm)', (ctx) => {
  let h: AuthHarness
  beforeAll(async () => {
    h = await startAuth(ctx(), { AUTH_SMS_AUTOCONFIRM: 'true' })
  }, 60_000)
  afterAll(() => h?.close())

  it('signs up with a confirmed phone and signs in with the password', async () => {
    const phone = uniquePhone()
    const client = h.client()
    const signup = await client.auth.signUp({ phone: `+${phone}`, password: 'secret123', options: { data: { info: 'x' } } })
    expect(signup.error).toBeNull()
    expect(signup.data.session).not.toBeNull()
    expect(signup.data.user).toMatchObject({ phone, email: '', app_metadata: { provider: 'phone', providers: ['phone'] }, user_metadata: { info: 'x', phone_verified: true } })
    expect(signup.data.user!.phone_confirmed_at).toBeTruthy()
    expect(signup.data.user!.identities![0]).toMatchObject({ provider: 'phone', identity_data: { phone } })

    const signIn = await h.client().auth.signInWithPassword({ phone, password: 'secret123' })
    expect(signIn.error).toBeNull()
    expect(signIn.data.user).toMatchObject({ phone, app_metadata: { provider: 'phone' } })
    expect(signIn.data.user!.last_sign_in_at).toBeTruthy()

    const again = await h.client().auth.signUp({ phone, password: 'other-secret' })
    expect(again.error).toMatchObject({ status: 422, code: 'user_already_exists' })
    expect((await h.client().auth.signInWithPassword({ phone, password: 'other-secret' })).error).toMatchObject({ code: 'invalid_credentials' })
  })

  it('checks the number and the password rules', async () => {
    const bad = await h.client().auth.signUp({ phone: '12-abc', password: 'secret123' })
    expect(bad.error).toMatchObject({ status: 400, message: 'Invalid phone number format (E.164 required)' })
    const short = await h.client().auth.signUp({ phone: uniquePhone(), password: '123' })
    expect(short.error).toMatchObject({ status: 422, code: 'weak_password' })
  })
})
