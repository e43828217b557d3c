import { describe, expect, it } from 'vitest'
import { describeConfig, loadConfig } from '../../src/config/config.ts'
import { FatalError } from '../../src/errors.ts'

function failure(env: Record<string, string>): string {
  try {
    loadConfig(env)
  } catch (error) {
    expect(error).toBeInstanceOf(FatalError)
    return (error as Error).message
  }
  throw new Error('expected loadConfig to fail')
}

describe('loadConfig', () => {
  it('has development defaults', () => {
    const config = loadConfig({})
    expect(config.port).toBe(5050)
    expect(config.databaseUrl).toBeUndefined()
    expect(config.dbSchemas).toEqual(['public'])
    expect(config.authAutoconfirm).toBe(true)
    expect(config.dataDir).toMatch(/\.resolution\/data$/)
  })

  it('names the variable and the problem in one line', () => {
    expect(failure({ DATABASE_URL: 'not a url' })).toMatch(/^DATABASE_URL: is not a valid URL/)
    expect(failure({ DATABASE_URL: 'mysql://h/db' })).toMatch(/^DATABASE_URL: must start with postgres:\/\//)
    expect(failure({ PORT: 'eighty' })).toBe('PORT: must be a whole number, got "eighty"')
    expect(failure({ PORT: '70000' })).toMatch(/^PORT: must be between 0 and 65535/)
    expect(failure({ JWT_SECRET: 'short' })).toMatch(/^JWT_SECRET: must be at least 32 characters/)
    expect(failure({ JWT_KEYS: '{nope' })).toMatch(/^JWT_KEYS: is not valid JSON/)
    expect(failure({ JWT_KEYS: '{"keys":[{"x":1}]}' })).toMatch(/^JWT_KEYS: every key must be a JWK/)
    expect(failure({ VAULT_ROOT_KEY: 'abc' })).toMatch(/^VAULT_ROOT_KEY: must be exactly 64 hexadecimal/)
    expect(failure({ LOG_LEVEL: 'loud' })).toMatch(/^LOG_LEVEL: must be one of/)
    expect(failure({ AUTH_AUTOCONFIRM: 'maybe' })).toMatch(/^AUTH_AUTOCONFIRM: must be true or false/)
    expect(failure({ DB_SCHEMAS: ' , ' })).toMatch(/^DB_SCHEMAS: must name at least one schema/)
    for (const message of [failure({ PORT: 'x' }), failure({ DATABASE_URL: '::' })]) expect(message).not.toContain('\n')
  })

  it('generates nothing silently in production', () => {
    expect(failure({ NODE_ENV: 'production' })).toMatch(/^DATABASE_URL: is required in production/)
    expect(failure({ NODE_ENV: 'production', DATABASE_URL: 'postgres://u@h/d' })).toMatch(/^JWT_SECRET: is required/)
    const secret = 'x'.repeat(40)
    expect(failure({ NODE_ENV: 'production', DATABASE_URL: 'postgres://u@h/d', JWT_SECRET: secret })).toMatch(/^ANON_KEY/)
    const base = { NODE_ENV: 'production', DATABASE_URL: 'postgres://u@h/d', JWT_SECRET: secret, ANON_KEY: 'a', SERVICE_ROLE_KEY: 's' }
    const config = loadConfig({ ...base, SMTP_URL: 'smtp://h:587', API_EXTERNAL_URL: 'https://api.example.com/auth/v1', SITE_URL: 'https://example.com' })
    expect(config.production).toBe(true)
    expect(config.authAutoconfirm).toBe(false)
  })

  it('in production, confirmation mails need SMTP_URL (or AUTH_AUTOCONFIRM=true), and mail links need the public URLs', () => {
    const base = { NODE_ENV: 'production', DATABASE_URL: 'postgres://u@h/d', JWT_SECRET: 'x'.repeat(40), ANON_KEY: 'a', SERVICE_ROLE_KEY: 's' }
    expect(failure(base)).toBe('SMTP_URL: is required in production while sign-ups need email confirmation (set SMTP_URL, or AUTH_AUTOCONFIRM=true to confirm without mail)')
    expect(loadConfig({ ...base, AUTH_AUTOCONFIRM: 'true' }).smtpUrl).toBeUndefined()
    const smtp = { ...base, SMTP_URL: 'smtp://user:pass@email-smtp.eu-west-1.amazonaws.com:587' }
    expect(failure(smtp)).toMatch(/^API_EXTERNAL_URL: is required in production when SMTP_URL is set/)
    expect(failure({ ...smtp, API_EXTERNAL_URL: 'https://api.example.com/auth/v1' })).toMatch(/^SITE_URL: is required in production when SMTP_URL is set/)
    const config = loadConfig({ ...smtp, API_EXTERNAL_URL: 'https://api.example.com/auth/v1/', SITE_URL: 'https://app.example.com' })
    // Mail links are built on API_EXTERNAL_URL (src/auth/email-flows.ts), never on localhost.
    expect(config.auth.externalUrl).toBe('https://api.example.com/auth/v1')
    // Development keeps working without any of it (the outbox).
    expect(loadConfig({}).authAutoconfirm).toBe(true)
  })

  it('API_KEY_REQUIRED defaults to true and can be turned off', () => {
    expect(loadConfig({}).apiKeyRequired).toBe(true)
    expect(loadConfig({ API_KEY_REQUIRED: 'false' }).apiKeyRequired).toBe(false)
    expect(failure({ API_KEY_REQUIRED: 'sometimes' })).toMatch(/^API_KEY_REQUIRED: must be true or false/)
  })

  it('masks secrets and passwords when shown', () => {
    const config = loadConfig({ DATABASE_URL: 'postgres://app:hunter2@db:5432/app', JWT_SECRET: 'y'.repeat(40), ANON_KEY: 'anon-key-value' })
    const shown = JSON.stringify(describeConfig(config))
    expect(shown).not.toContain('hunter2')
    expect(shown).not.toContain('y'.repeat(40))
    expect(shown).not.toContain('anon-key-value')
    expect(shown).toContain('postgres://app:****@db:5432/app')
  })
})
