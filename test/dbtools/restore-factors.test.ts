/**
 * MFA factors and passkeys move with a dump: a verified TOTP factor and a passkey made through
 * the API on the source are dumped, restored into a fresh target, and still work there — the
 * password sign-in asks for aal2, the old TOTP secret steps it up, the passkey signs in.
 */
import { createClient, type SupabaseClient } from '@supabase/supabase-js'
import { expect, it } from 'vitest'
import { timeStep, totpCode } from '../../src/auth/totp.ts'
import { dump } from '../../src/dbtools/dump.ts'
import { restore } from '../../src/dbtools/restore/restore.ts'
import { SoftwareAuthenticator } from '../auth/authenticator.ts'
import { startTestApp, type TestApp } from '../support/app.ts'
import { describeEachDatabase, openTestDatabase } from '../support/databases.ts'
import { tempFile } from './helpers.ts'

const PASSWORD = 'factor-password-123'
const ORIGIN = 'http://localhost:5173'
const ENV = { AUTH_PASSKEY_ENABLED: 'true', AUTH_WEBAUTHN_RP_ID: 'localhost', AUTH_WEBAUTHN_RP_ORIGINS: ORIGIN }

function client(app: TestApp): SupabaseClient {
  const items = new Map<string, string>()
  const storage = { getItem: (k: string) => items.get(k) ?? null, setItem: (k: string, v: string) => void items.set(k, v), removeItem: (k: string) => void items.delete(k) }
  return createClient(app.url, app.anonKey, {
    realtime: { transport: class {} as never },
    auth: { persistSession: true, storage, autoRefreshToken: false, experimental: { passkey: true } },
  })
}

describeEachDatabase('restore: MFA factors and passkeys keep working', (ctx) => {
  it('a verified TOTP factor and a passkey survive dump → restore', async () => {
    const source = ctx()
    const email = `factors-${Date.now().toString(36)}@example.com`
    const key = new SoftwareAuthenticator('localhost', ORIGIN)
    let secret: string
    const app = await startTestApp(source, ENV)
    try {
      const c = client(app)
      expect((await c.auth.signUp({ email, password: PASSWORD })).error).toBeNull()
      const { data: options } = await c.auth.passkey.startRegistration()
      expect((await c.auth.passkey.verifyRegistration({ challengeId: options!.challenge_id, credential: key.create(options!.options) as never })).error).toBeNull()
      const { data: factor } = await c.auth.mfa.enroll({ factorType: 'totp' })
      secret = factor!.totp.secret
      const verified = await c.auth.mfa.challengeAndVerify({ factorId: factor!.id, code: totpCode(secret, timeStep(Date.now() / 1000)) })
      expect(verified.error).toBeNull()
    } finally {
      await app.close()
    }

    const file = tempFile('factors.sql', '')
    await dump(source.database, { file, url: source.url })
    const fresh = await openTestDatabase(source.target, { bootstrapped: false })
    try {
      await restore(fresh.database, [file])
      // Two minutes on: the source's last accepted code may not be replayed, a new one is due.
      const later = () => Date.now() + 120_000
      const target = await startTestApp(fresh, ENV, { clock: later })
      try {
        const c = client(target)
        expect((await c.auth.signInWithPassword({ email, password: PASSWORD })).error).toBeNull()
        const aal = await c.auth.mfa.getAuthenticatorAssuranceLevel()
        expect(aal.data).toMatchObject({ currentLevel: 'aal1', nextLevel: 'aal2' })
        const factorId = (await c.auth.mfa.listFactors()).data!.totp[0]!.id
        const stepped = await c.auth.mfa.challengeAndVerify({ factorId, code: totpCode(secret, timeStep(later() / 1000)) })
        expect(stepped.error).toBeNull()
        expect((await c.auth.mfa.getAuthenticatorAssuranceLevel()).data!.currentLevel).toBe('aal2')

        const signIn = client(target)
        const { data: request } = await signIn.auth.passkey.startAuthentication()
        const passkey = await signIn.auth.passkey.verifyAuthentication({ challengeId: request!.challenge_id, credential: key.get(request!.options) as never })
        expect(passkey.error).toBeNull()
        expect(passkey.data!.user!.email).toBe(email)
      } finally {
        await target.close()
      }
    } finally {
      await fresh.dispose()
    }
  }, 300_000)
})
