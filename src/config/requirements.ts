/**
 * What must be set, by where the service runs: one check for every runtime, taking its profile.
 * Production (`NODE_ENV=production`) generates nothing, so the database and every secret are
 * required, and mail must reach people; a runtime without a persistent disk (Lambda) cannot hold
 * an embedded database or generated secrets, so it requires them whatever NODE_ENV says.
 * @module
 */
import { fail, text, type Env } from './env.ts'
import type { RuntimeProfile } from './runtime-profile.ts'

/**
 * The parsed settings the check reads. Declared here rather than importing `Config` so that
 * `config.ts` (which calls the check) is the only one of the two importing the other; `Config`
 * satisfies it structurally, so a renamed field still fails to compile at the call.
 */
export interface RequiredSettings {
  production: boolean
  databaseUrl: string | undefined
  jwtSecret: string | undefined
  /** Only whether it is set matters here. */
  jwtKeys: unknown
  anonKey: string | undefined
  serviceRoleKey: string | undefined
  authAutoconfirm: boolean
  smtpUrl: string | undefined
}

export function checkRequirements(config: RequiredSettings, env: Env, profile: Pick<RuntimeProfile, 'label' | 'persistentDisk'>): void {
  if (config.production) {
    if (!config.databaseUrl) fail('DATABASE_URL', 'is required in production (NODE_ENV=production)')
    if (!config.jwtSecret && !config.jwtKeys) fail('JWT_SECRET', 'is required in production (or JWT_KEYS)')
    if (!config.anonKey) fail('ANON_KEY', 'is required in production')
    if (!config.serviceRoleKey) fail('SERVICE_ROLE_KEY', 'is required in production')
    // Confirmation mails would go to the development outbox, which nobody reads in production.
    if (!config.authAutoconfirm && !config.smtpUrl) {
      fail('SMTP_URL', 'is required in production while sign-ups need email confirmation (set SMTP_URL, or AUTH_AUTOCONFIRM=true to confirm without mail)')
    }
    // Links in those mails are built from these; localhost defaults would reach nobody.
    if (config.smtpUrl && !text(env, 'API_EXTERNAL_URL')) fail('API_EXTERNAL_URL', 'is required in production when SMTP_URL is set: mail links point to it (e.g. https://api.example.com/auth/v1)')
    if (config.smtpUrl && !text(env, 'SITE_URL')) fail('SITE_URL', 'is required in production when SMTP_URL is set: mail links send users back to it')
  }
  if (!profile.persistentDisk) {
    const where = `on ${profile.label}`
    if (!config.databaseUrl) fail('DATABASE_URL', `is required ${where} (there is no embedded database there)`)
    if (!config.jwtSecret && !config.jwtKeys) fail('JWT_SECRET', `is required ${where} (or JWT_KEYS)`)
    if (!config.anonKey) fail('ANON_KEY', `is required ${where}`)
    if (!config.serviceRoleKey) fail('SERVICE_ROLE_KEY', `is required ${where}`)
  }
}
