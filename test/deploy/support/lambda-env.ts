/** The environment a deployed function gets, with real keys signed by a test secret. */
import { createJwtService, issueApiKey } from '../../../src/jwt/service.ts'
import { loadConfig } from '../../../src/config/config.ts'

export const JWT_SECRET = 'lambda-test-secret-with-at-least-32-characters'

export async function lambdaEnv(databaseUrl: string): Promise<Record<string, string>> {
  const jwt = await createJwtService(loadConfig({ JWT_SECRET }))
  return {
    DATABASE_URL: databaseUrl,
    JWT_SECRET,
    ANON_KEY: await issueApiKey(jwt, 'anon'),
    SERVICE_ROLE_KEY: await issueApiKey(jwt, 'service_role'),
    NODE_ENV: 'production',
    // Production refuses confirmation without SMTP_URL; these functions send no mail.
    AUTH_AUTOCONFIRM: 'true',
    LOG_LEVEL: 'warn',
    BODY_LIMIT: '2048',
  }
}
