/**
 * Auth suites: the app served over the suite's database, fresh supabase-js clients, raw fetch
 * against /auth/v1, and the development outbox.
 */
import { createClient, type SupabaseClient } from '@supabase/supabase-js'
import { readOutbox, type OutboxMail } from '../../src/auth/mailer.ts'
import { startTestApp, type TestApp, type TestAppOptions } from '../support/app.ts'
import type { TestDatabase } from '../support/databases.ts'

export interface AuthHarness {
  app: TestApp
  /** A new anon client with its own (in-memory) session. */
  client(options?: { flowType?: 'implicit' | 'pkce'; headers?: Record<string, string>; passkey?: boolean }): SupabaseClient
  /** A client with the service_role key, for `auth.admin` (`passkey`: its experimental passkey API). */
  admin(options?: { passkey?: boolean }): SupabaseClient
  /** fetch against /auth/v1 with the anon key (unless headers say otherwise). */
  raw(path: string, init?: RequestInit & { json?: unknown }): Promise<Response>
  /** The newest outbox mail to `email`. */
  lastMail(email: string): Promise<OutboxMail>
  close(): Promise<void>
}

let counter = 0
/** A unique address per call, so tests in one suite never collide. */
export const uniqueEmail = (prefix = 'user') => `${prefix}-${Date.now().toString(36)}-${++counter}@example.com`

function memoryStorage() {
  const map = new Map<string, string>()
  return { getItem: (k: string) => map.get(k) ?? null, setItem: (k: string, v: string) => void map.set(k, v), removeItem: (k: string) => void map.delete(k) }
}

/**
 * Every suite talks to its app from 127.0.0.1, so the per-client limits (on by default) are raised
 * here; suites that test a limit set it. Per-account and per-code limits keep their defaults.
 */
export const RAISED_CLIENT_LIMITS = {
  AUTH_RATE_LIMIT_OTP: '1000000',
  AUTH_RATE_LIMIT_VERIFY: '1000000',
  AUTH_RATE_LIMIT_TOKEN_REFRESH: '1000000',
  AUTH_RATE_LIMIT_ANONYMOUS_USERS: '1000000',
}

export async function startAuth(testDb: TestDatabase, env: Record<string, string> = {}, options: TestAppOptions = {}): Promise<AuthHarness> {
  const app = await startTestApp(testDb, { AUTH_ANONYMOUS_USERS: 'true', AUTH_SMTP_MAX_FREQUENCY: '0', AUTH_RATE_LIMIT_EMAIL_SENT: '0', ...RAISED_CLIENT_LIMITS, ...env }, options)
  // Node 20 has no WebSocket; realtime is unused here, so it gets an inert transport.
  const base = { realtime: { transport: class {} as never } }
  return {
    app,
    client(options = {}) {
      return createClient(app.url, app.anonKey, {
        ...base,
        global: { headers: options.headers ?? {} },
        auth: {
          persistSession: true,
          storage: memoryStorage(),
          autoRefreshToken: false,
          detectSessionInUrl: false,
          flowType: options.flowType ?? 'implicit',
          experimental: { passkey: options.passkey ?? false },
        },
      })
    },
    admin(options = {}) {
      return createClient(app.url, app.serviceRoleKey, { ...base, auth: { persistSession: false, autoRefreshToken: false, experimental: { passkey: options.passkey ?? false } } })
    },
    raw(path, init = {}) {
      const headers = new Headers(init.headers)
      if (!headers.has('apikey')) headers.set('apikey', app.anonKey)
      let body = init.body
      if (init.json !== undefined) {
        body = JSON.stringify(init.json)
        headers.set('content-type', 'application/json')
      }
      return fetch(`${app.url}/auth/v1${path}`, { ...init, headers, body, redirect: 'manual' })
    },
    async lastMail(email) {
      const [mail] = await readOutbox(testDb.database, email, 1)
      if (!mail) throw new Error(`no mail to ${email} in the outbox`)
      return mail
    },
    close: () => app.close(),
  }
}

/** Decodes a JWT payload without verifying (tests check the claims the server put in). */
export function jwtPayload(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'))
}
