/**
 * Issue 13 §1: a database with users moves. Data made by the service itself (sign-up, sign-in,
 * an MFA factor, a storage object, a vault secret) is dumped in COPY and INSERT form and restored
 * into a fresh target; foreign keys are checked at the end of the load (a dump loads
 * `auth.identities` before `auth.users`); then the app on the target, with the same JWT secret,
 * signs the user in with the old password and refreshes the old session.
 */
import fs from 'node:fs'
import { createClient } from '@supabase/supabase-js'
import { expect, it } from 'vitest'
import { dump } from '../../src/dbtools/dump.ts'
import { restore } from '../../src/dbtools/restore/restore.ts'
import { describeEachDatabase, openTestDatabase, type TestDatabase } from '../support/databases.ts'
import { startTestApp } from '../support/app.ts'
import { tempFile } from './helpers.ts'

const PASSWORD = 'old-password-123'
const TABLES = ['auth.users', 'auth.identities', 'auth.sessions', 'auth.refresh_tokens', 'auth.mfa_factors', 'storage.buckets', 'storage.objects', 'vault.secrets']

const client = (url: string, key: string) => createClient(url, key, { realtime: { transport: class {} as never }, auth: { persistSession: false, autoRefreshToken: false } })

async function counts(db: TestDatabase): Promise<Record<string, number>> {
  const result: Record<string, number> = {}
  for (const table of TABLES) result[table] = Number((await db.database.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0]!.n)
  return result
}

/** Signs in with the old password, refreshes the old session's token and reads the old secret on `db`. */
async function useMovedAccount(db: TestDatabase, email: string, refreshToken: string, secretName?: string): Promise<void> {
  const app = await startTestApp(db)
  try {
    const signIn = await client(app.url, app.anonKey).auth.signInWithPassword({ email, password: PASSWORD })
    expect(signIn.error).toBeNull()
    expect(signIn.data.user!.email).toBe(email)
    const refreshed = await fetch(`${app.url}/auth/v1/token?grant_type=refresh_token`, {
      method: 'POST',
      headers: { apikey: app.anonKey, 'Content-Type': 'application/json' },
      body: JSON.stringify({ refresh_token: refreshToken }),
    })
    expect(refreshed.status).toBe(200)
    const body = (await refreshed.json()) as { access_token: string; user: { email: string } }
    expect(body.user.email).toBe(email)
    const user = await client(app.url, app.anonKey).auth.getUser(body.access_token)
    expect(user.data.user?.email).toBe(email)
    if (secretName) {
      const secret = await fetch(`${app.url}/vault/v1/secrets/${secretName}`, { headers: { apikey: app.serviceRoleKey, Authorization: `Bearer ${app.serviceRoleKey}` } })
      expect(secret.status).toBe(200)
      expect(JSON.stringify(await secret.json())).toContain('moved-secret-value')
    }
  } finally {
    await app.close()
  }
}

async function foreignKeysNotDeferrable(db: TestDatabase): Promise<number> {
  const { rows } = await db.database.query<{ n: string }>(
    "SELECT count(*) AS n FROM pg_catalog.pg_constraint k JOIN pg_catalog.pg_namespace n ON n.oid = k.connamespace WHERE k.contype = 'f' AND n.nspname IN ('auth', 'storage') AND k.condeferrable",
  )
  return Number(rows[0]!.n)
}

describeEachDatabase('restore: a database with users moves and its users sign in', (ctx) => {
  it('dump (COPY and INSERT form) → restore into a fresh target → old password and old refresh token work', async () => {
    const source = ctx()
    const email = `moved-${Date.now().toString(36)}@example.com`
    let refreshToken: string
    const app = await startTestApp(source)
    try {
      const signUp = await client(app.url, app.anonKey).auth.signUp({ email, password: PASSWORD })
      expect(signUp.error).toBeNull()
      const signIn = await client(app.url, app.anonKey).auth.signInWithPassword({ email, password: PASSWORD })
      expect(signIn.error).toBeNull()
      refreshToken = signIn.data.session!.refresh_token
      const userId = signIn.data.user!.id
      await source.database.query(
        `INSERT INTO auth.mfa_factors (id, user_id, friendly_name, factor_type, status, created_at, updated_at, secret)
         VALUES (gen_random_uuid(), $1, 'phone app', 'totp', 'unverified', now(), now(), 'JBSWY3DPEHPK3PXP')`,
        [userId],
      )
      await source.database.query(`INSERT INTO storage.buckets (id, name, owner) VALUES ('avatars', 'avatars', $1)`, [userId])
      await source.database.query(`INSERT INTO storage.objects (bucket_id, name, owner, metadata) VALUES ('avatars', 'me/face.png', $1, '{"size": 3}')`, [userId])
      const secret = await fetch(`${app.url}/vault/v1/secrets`, {
        method: 'POST',
        headers: { apikey: app.serviceRoleKey, Authorization: `Bearer ${app.serviceRoleKey}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ name: 'moved_secret', secret: 'moved-secret-value' }),
      })
      expect(secret.status).toBe(201)
    } finally {
      await app.close()
    }
    const before = await counts(source)
    for (const table of TABLES) expect(before[table], table).toBeGreaterThan(0)

    for (const inserts of [false, true]) {
      const file = tempFile(inserts ? 'full-inserts.sql' : 'full.sql', '')
      await dump(source.database, { file, url: source.url, inserts })
      const text = fs.readFileSync(file, 'utf8')
      // The shape that broke: identities' rows come before the users they reference.
      // (the embedded database's WASM pg_dump writes INSERTs in both forms)
      const identities = text.search(/(COPY|INSERT INTO) "?auth"?\."?identities"? /)
      const users = text.search(/(COPY|INSERT INTO) "?auth"?\."?users"? /)
      expect(identities).toBeGreaterThan(0)
      expect(identities).toBeLessThan(users)

      const fresh = await openTestDatabase(source.target, { bootstrapped: false })
      try {
        const summary = await restore(fresh.database, [file])
        expect(summary.rows.get('auth.users')).toBe(before['auth.users'])
        expect(await counts(fresh)).toEqual(before)
        // The deferral was for the load only.
        expect(await foreignKeysNotDeferrable(fresh)).toBe(0)
        await useMovedAccount(fresh, email, refreshToken, 'moved_secret')
      } finally {
        await fresh.dispose()
      }
    }
  }, 300_000)
})
