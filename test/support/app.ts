/**
 * Serves the real app on a random port over a suite's test database, so tests drive it over HTTP
 * with the real `@supabase/supabase-js` client.
 */
import os from 'node:os'
import path from 'node:path'
import { mkdtempSync } from 'node:fs'
import { issueApiKey } from '../../src/jwt/service.ts'
import { loadConfig, type Env } from '../../src/config/config.ts'
import { startServer } from '../../src/runtime/node-server.ts'
import { createServices, type Services, type ServicesOptions } from '../../src/services.ts'
import type { TestDatabase } from './databases.ts'

export const TEST_JWT_SECRET = 'test-secret-with-at-least-32-characters-long'

export interface TestApp {
  url: string
  anonKey: string
  serviceRoleKey: string
  services: Services
  close(): Promise<void>
}

/**
 * `options.logger` replaces the app's logger (a test that reads the log lines passes its own);
 * `options.clock` moves auth's clock; `options.mailer` receives auth's mails; `options.authLimiters`
 * replaces auth's rate limits.
 */
export type TestAppOptions = Pick<ServicesOptions, 'clock' | 'logger' | 'mailer' | 'authLimiters'>

export async function startTestApp(testDb: TestDatabase, env: Env = {}, options: TestAppOptions = {}): Promise<TestApp> {
  const config = loadConfig({
    JWT_SECRET: TEST_JWT_SECRET,
    LOG_LEVEL: 'silent',
    RESOLUTION_DATA_DIR: mkdtempSync(path.join(os.tmpdir(), 'resolution-test-')),
    VAULT_ROOT_KEY: 'd4dc5b6d4a1d6a10b2c1e76112c994d65db7cec380572cc1839624d4be3fa275',
    // Suites run side by side: none of them takes the shared 54322 (test/runtime/embedded-wire.test.ts covers it).
    EMBEDDED_DB_PORT: 'off',
    ...(testDb.url ? { DATABASE_URL: testDb.url } : {}),
    ...env,
  })
  const services = await createServices(config, { database: testDb.database, clock: options.clock, logger: options.logger, mailer: options.mailer, authLimiters: options.authLimiters })
  const anonKey = config.anonKey ?? (await issueApiKey(services.jwt, 'anon'))
  const serviceRoleKey = config.serviceRoleKey ?? (await issueApiKey(services.jwt, 'service_role'))
  const server = await startServer(services, { port: 0, init: false, hostname: '127.0.0.1' })
  return {
    url: `http://127.0.0.1:${server.port}`,
    anonKey,
    serviceRoleKey,
    services,
    close: () => server.shutdown(1000),
  }
}
