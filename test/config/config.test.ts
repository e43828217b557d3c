import { describe, expect, it } from 'vitest'
import { describeConfig, loadConfig, parseConfig } from '../../src/config/config.ts'
import { ConfigError } from '../../src/config/env.ts'
import { LAMBDA_PROFILE, SERVER_PROFILE } from '../../src/config/runtime-profile.ts'
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

describe('one set of parsers and one requirements check (src/config/env.ts, requirements.ts)', () => {
  const configError = (fn: () => unknown): ConfigError => {
    try {
      fn()
    } catch (error) {
      if (error instanceof ConfigError) return error
      throw error
    }
    throw new Error('expected a ConfigError')
  }

  it('every section parses booleans, numbers and choices the same way, and the error names the variable', () => {
    const config = loadConfig({ DB_SAFE_UPDATE: 'off', DB_AGGREGATES_ENABLED: 'YES', DB_CHANNEL_ENABLED: '0', API_KEY_REQUIRED: 'false', DB_MAX_ROWS: '0' })
    expect(config.rest.safeUpdate).toBe(false)
    expect(config.rest.aggregatesEnabled).toBe(true)
    expect(config.rest.channelEnabled).toBe(false)
    expect(config.apiKeyRequired).toBe(false)
    expect(config.rest.maxRows).toBeUndefined()
    expect(loadConfig({ DB_SAFE_UPDATE: 'true', DB_AGGREGATES_ENABLED: '1' }).rest).toMatchObject({ safeUpdate: true, aggregatesEnabled: true })
    const bad = configError(() => loadConfig({ DB_SAFE_UPDATE: 'maybe' }))
    expect(bad.variable).toBe('DB_SAFE_UPDATE')
    expect(bad.message).toBe('DB_SAFE_UPDATE: must be true or false, got "maybe"')
    expect(configError(() => loadConfig({ DB_MAX_ROWS: 'all' })).message).toBe('DB_MAX_ROWS: must be a whole number, got "all"')
    expect(configError(() => loadConfig({ DB_TX_END: 'abort' })).message).toMatch(/^DB_TX_END: must be one of commit, commit-allow-override/)
    expect(configError(() => loadConfig({ DB_POOL_CLIENT_SHARE: '0' })).message).toBe('DB_POOL_CLIENT_SHARE: must be between 1 and 10000, got 0')
    expect(configError(() => loadConfig({ CORS_CREDENTIALS_ORIGINS: 'https://a.example/path' })).variable).toBe('CORS_CREDENTIALS_ORIGINS')
  })

  it('a runtime without a persistent disk requires the database and every key, whatever NODE_ENV says', () => {
    expect(configError(() => loadConfig({}, LAMBDA_PROFILE)).message).toBe('DATABASE_URL: is required on Lambda (there is no embedded database there)')
    const withDb = { DATABASE_URL: 'postgres://u@h/db' }
    expect(configError(() => loadConfig(withDb, LAMBDA_PROFILE)).message).toBe('JWT_SECRET: is required on Lambda (or JWT_KEYS)')
    const withSecret = { ...withDb, JWT_SECRET: 'x'.repeat(32) }
    expect(configError(() => loadConfig(withSecret, LAMBDA_PROFILE)).message).toBe('ANON_KEY: is required on Lambda')
    expect(configError(() => loadConfig({ ...withSecret, ANON_KEY: 'a' }, LAMBDA_PROFILE)).message).toBe('SERVICE_ROLE_KEY: is required on Lambda')
    expect(loadConfig({ ...withSecret, ANON_KEY: 'a', SERVICE_ROLE_KEY: 's' }, LAMBDA_PROFILE).databaseUrl).toBe('postgres://u@h/db')
    // The same environment is fine for a server process in development.
    expect(loadConfig({}, SERVER_PROFILE).databaseUrl).toBeUndefined()
    // parseConfig checks every value but requires nothing (`resolution keys` makes the keys).
    expect(parseConfig({ NODE_ENV: 'production' }).production).toBe(true)
    expect(() => parseConfig({ NODE_ENV: 'production', PORT: 'x' })).toThrow('PORT: must be a whole number')
  })
})
