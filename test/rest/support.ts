/**
 * REST suites: the ported postgrest-js fixture (plus RLS todos) loaded into the suite's
 * database, the app served over it, and supabase-js clients for anon, service_role and users.
 */
import { readFileSync } from 'node:fs'
import { createClient, type SupabaseClient } from '@supabase/supabase-js'
import { reloadSchemaCache } from '../../src/rest/schema-cache/index.ts'
import { startTestApp, type TestApp } from '../support/app.ts'
import type { TestDatabase } from '../support/databases.ts'

export const ALICE = '11111111-1111-1111-1111-111111111111'
export const BOB = '22222222-2222-2222-2222-222222222222'

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')

export async function loadFixture(testDb: TestDatabase): Promise<void> {
  await testDb.database.exec(fixture('schema.sql'))
  await testDb.database.exec(fixture('seed.sql'))
  await reloadSchemaCache(testDb.database)
}

export interface RestHarness {
  app: TestApp
  anon: SupabaseClient
  service: SupabaseClient
  /** A client signed in as a user (a JWT with `sub` and role authenticated). */
  user(sub: string, extra?: Record<string, unknown>): Promise<SupabaseClient>
  token(claims: Record<string, unknown>): Promise<string>
  /** Raw fetch against /rest/v1 with the anon key. */
  fetch(path: string, init?: RequestInit): Promise<Response>
}

/** `startRest`, then `sql` (a test's own functions or tables) and a schema-cache reload. */
export async function startRestWith(testDb: TestDatabase, sql: string, env: Record<string, string> = {}): Promise<RestHarness> {
  const rest = await startRest(testDb, env)
  await testDb.database.exec(sql)
  await reloadSchemaCache(testDb.database)
  return rest
}

export async function startRest(testDb: TestDatabase, env: Record<string, string> = {}): Promise<RestHarness> {
  await loadFixture(testDb)
  const app = await startTestApp(testDb, env)
  // Node 20 has no WebSocket; realtime is unused here, so it gets an inert transport.
  const options = { auth: { persistSession: false, autoRefreshToken: false }, realtime: { transport: class {} as never } }
  const token = (claims: Record<string, unknown>) => {
    const now = Math.floor(Date.now() / 1000)
    return app.services.jwt.sign({ iat: now, exp: now + 3600, ...claims })
  }
  return {
    app,
    anon: createClient(app.url, app.anonKey, options),
    service: createClient(app.url, app.serviceRoleKey, options),
    token,
    async user(sub, extra = {}) {
      const jwt = await token({ sub, role: 'authenticated', aud: 'authenticated', ...extra })
      return createClient(app.url, app.anonKey, { ...options, global: { headers: { Authorization: `Bearer ${jwt}` } } })
    },
    fetch(path, init = {}) {
      const headers = new Headers(init.headers)
      if (!headers.has('apikey')) headers.set('apikey', app.anonKey)
      return fetch(`${app.url}/rest/v1${path}`, { ...init, headers })
    },
  }
}
