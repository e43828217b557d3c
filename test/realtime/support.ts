/**
 * Realtime suites: the app served over the suite's database and supabase-js clients whose
 * realtime-js talks to it over a real WebSocket (`ws`: Node 20 has no global WebSocket).
 */
import { createClient, type RealtimeChannel, type SupabaseClient } from '@supabase/supabase-js'
import WebSocket from 'ws'
import { startTestApp, type TestApp } from '../support/app.ts'
import type { TestDatabase } from '../support/databases.ts'

export interface RealtimeHarness {
  app: TestApp
  /** A client with the anon key, on protocol `vsn`. */
  client(options?: { vsn?: '1.0.0' | '2.0.0'; url?: string }): SupabaseClient
  /** A client whose realtime joins with `token` (set before any join, as a signed-in app has it). */
  userClient(token: string, options?: { vsn?: '1.0.0' | '2.0.0'; url?: string }): Promise<SupabaseClient>
  token(claims: Record<string, unknown>, ttlSeconds?: number): Promise<string>
  close(): Promise<void>
}

export async function startRealtime(testDb: TestDatabase, env: Record<string, string> = {}): Promise<RealtimeHarness> {
  const app = await startTestApp(testDb, env)
  const clients: SupabaseClient[] = []
  const client = ({ vsn = '2.0.0', url = app.url }: { vsn?: '1.0.0' | '2.0.0'; url?: string } = {}): SupabaseClient => {
    const made = createClient(url, app.anonKey, {
      auth: { persistSession: false, autoRefreshToken: false },
      realtime: { transport: WebSocket as never, vsn, timeout: 5000 },
    })
    clients.push(made)
    return made
  }
  return {
    app,
    client,
    async userClient(token, options = {}) {
      const authed = client(options)
      await authed.realtime.setAuth(token)
      return authed
    },
    token(claims, ttlSeconds = 3600) {
      const now = Math.floor(Date.now() / 1000)
      return app.services.jwt.sign({ iat: now, exp: now + ttlSeconds, ...claims })
    },
    async close() {
      await Promise.all(clients.map((client) => client.removeAllChannels().catch(() => {})))
      await app.close()
    },
  }
}

/** Subscribes and resolves on SUBSCRIBED; rejects with the server's reason otherwise. */
export function subscribed(channel: RealtimeChannel): Promise<RealtimeChannel> {
  return new Promise((resolve, reject) => {
    channel.subscribe((status, error) => {
      if (status === 'SUBSCRIBED') resolve(channel)
      else reject(error ?? new Error(status))
    })
  })
}

/** Resolves once `check` returns a value other than undefined (polling), or fails after `ms`. */
export async function eventually<T>(check: () => T | undefined | Promise<T | undefined>, ms = 5000): Promise<T> {
  const until = Date.now() + ms
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > until) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
