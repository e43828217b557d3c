/**
 * Storage suites: the app served over the suite's database with its own STORAGE_DIR, and
 * supabase-js clients for anon, service_role and signed-in users. `POLICIES` are written the
 * way Supabase's docs write them: each user owns the folder named after their id in `private`.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createClient, type SupabaseClient } from '@supabase/supabase-js'
import { startTestApp, type TestApp } from '../support/app.ts'
import { BIN } from '../support/cli.ts'
import type { TestDatabase } from '../support/databases.ts'

export const ALICE = '11111111-1111-1111-1111-111111111111'
export const BOB = '22222222-2222-2222-2222-222222222222'

export const POLICIES = `
CREATE POLICY "own folder: read" ON storage.objects FOR SELECT TO authenticated
  USING (bucket_id = 'private' AND (storage.foldername(name))[1] = auth.uid()::text);
CREATE POLICY "own folder: insert" ON storage.objects FOR INSERT TO authenticated
  WITH CHECK (bucket_id = 'private' AND (storage.foldername(name))[1] = auth.uid()::text);
CREATE POLICY "own folder: update" ON storage.objects FOR UPDATE TO authenticated
  USING (bucket_id = 'private' AND (storage.foldername(name))[1] = auth.uid()::text)
  WITH CHECK (bucket_id = 'private' AND (storage.foldername(name))[1] = auth.uid()::text);
CREATE POLICY "own folder: delete" ON storage.objects FOR DELETE TO authenticated
  USING (bucket_id = 'private' AND (storage.foldername(name))[1] = auth.uid()::text);
CREATE POLICY "buckets: authenticated read" ON storage.buckets FOR SELECT TO authenticated USING (true);
`

export interface StorageHarness {
  app: TestApp
  storageDir: string
  anon: SupabaseClient
  service: SupabaseClient
  user(sub: string): Promise<SupabaseClient>
  /** Raw fetch against /storage/v1 with the service key unless headers say otherwise. */
  fetch(pathname: string, init?: RequestInit): Promise<Response>
}

export async function startStorage(testDb: TestDatabase, env: Record<string, string> = {}): Promise<StorageHarness> {
  const storageDir = mkdtempSync(path.join(os.tmpdir(), 'resolution-storage-'))
  const app = await startTestApp(testDb, { STORAGE_DIR: storageDir, ...env })
  const options = { auth: { persistSession: false, autoRefreshToken: false }, realtime: { transport: class {} as never } }
  return {
    app,
    storageDir,
    anon: createClient(app.url, app.anonKey, options),
    service: createClient(app.url, app.serviceRoleKey, options),
    async user(sub) {
      const now = Math.floor(Date.now() / 1000)
      const jwt = await app.services.jwt.sign({ sub, role: 'authenticated', aud: 'authenticated', iat: now, exp: now + 3600 })
      return createClient(app.url, app.anonKey, { ...options, global: { headers: { Authorization: `Bearer ${jwt}` } } })
    },
    fetch(pathname, init = {}) {
      const headers = new Headers(init.headers)
      if (!headers.has('apikey')) headers.set('apikey', app.serviceRoleKey)
      if (!headers.has('authorization')) headers.set('authorization', `Bearer ${headers.get('apikey')}`)
      return fetch(`${app.url}/storage/v1${pathname}`, { ...init, headers })
    },
  }
}

/**
 * Runs the `resolution` binary without blocking this process, whose app the test also calls
 * (a blocked event loop lets the app's keep-alive sockets time out under the client).
 */
export function runBinary(argv: string[], options: { cwd?: string; env: NodeJS.ProcessEnv }): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...argv], { ...options, encoding: 'utf8', timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr })
    })
  })
}
