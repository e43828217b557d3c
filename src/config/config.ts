/**
 * One config loader for every runtime (server, Lambda, CLI). It reads an environment map, never
 * `process.env` directly, so tests and the Lambda handler pass their own.
 * @module
 */
import path from 'node:path'
import { boolean, fail, integer, list, text, url, type Env } from './env.ts'
import { isWellFormedKey, OPAQUE_KEY_PREFIX, type OpaqueKeyKind } from '../jwt/opaque-keys.ts'
import { checkRequirements } from './requirements.ts'
import { restConfig, type RestConfig } from './rest.ts'
import { storageConfig, type StorageConfig } from './storage.ts'
import { SERVER_PROFILE, type RuntimeProfile } from './runtime-profile.ts'
import type { VariableName } from './variables.ts'

export type { Env } from './env.ts'

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'

export interface Config {
  production: boolean
  port: number
  /** Unset → the embedded PGlite database in `dataDir`. */
  databaseUrl: string | undefined
  /** Realtime's LISTEN connections, when DATABASE_URL is a transaction pooler (where LISTEN cannot work); unset → DATABASE_URL. */
  realtimeListenUrl: string | undefined
  /** How long another server may stay silent on the bus before its presences are dropped (it was killed or cut off). */
  realtimeDeadServerSeconds: number
  dataDir: string
  /** HS256 secret; may be absent when `jwtKeys` is given. */
  jwtSecret: string | undefined
  /** JWK set (private parts included for signing), from `JWT_KEYS`. */
  jwtKeys: JsonWebKeySet | undefined
  anonKey: string | undefined
  serviceRoleKey: string | undefined
  /** `sb_publishable_…` keys acting as `anon` (`PUBLISHABLE_KEYS`, comma-separated; generated in development). */
  publishableKeys: string[]
  /** `sb_secret_…` keys acting as `service_role` (`SECRET_KEYS`, comma-separated; generated in development). */
  secretKeys: string[]
  dbSchemas: string[]
  /** `DB_SCHEMAS` was given: it wins over `pgrst.db_schemas` in the database (read with the schema cache). */
  dbSchemasSet: boolean
  dbPoolMax: number
  /** Keep repeated statements prepared per server connection (`DB_PREPARED_STATEMENTS`); off behind poolers that cannot keep them. */
  dbPreparedStatements: boolean
  logLevel: LogLevel
  authAutoconfirm: boolean
  siteUrl: string
  vaultRootKey: string | undefined
  smtpUrl: string | undefined
  /** `/rest/v1`, `/vault/v1` and `/auth/v1` answer 401 `no_api_key` without an API key, as Supabase's gateway (`API_KEY_REQUIRED`). */
  apiKeyRequired: boolean
  /** Largest accepted request body, bytes (`BODY_LIMIT`). */
  bodyLimit: number
  /** Per-request statement timeout, ms (`DB_STATEMENT_TIMEOUT`), 0 = none. */
  statementTimeoutMs: number
  /** JWT lifetime of access tokens, seconds (`JWT_EXP`). */
  jwtExp: number
  /** `/auth/v1` settings (`AUTH_*`), see `authConfig`. */
  auth: AuthConfig
  /** `/rest/v1` settings (`DB_MAX_ROWS`, `DB_TX_END` …), see `restConfig`. */
  rest: RestConfig
  /** `/storage/v1` settings (`STORAGE_*`), see `storageConfig`. */
  storage: StorageConfig
  /** Origins that get `Access-Control-Allow-Credentials` (`CORS_CREDENTIALS_ORIGINS`); none by default. */
  corsCredentialsOrigins: string[]
  /**
   * Port on 127.0.0.1 where `serve` offers the embedded database over the PostgreSQL wire
   * protocol (`EMBEDDED_DB_PORT`, default 54322 as Supabase's local stack); undefined = off
   * (`0`/`off`, and always in production).
   */
  embeddedDbPort: number | undefined
}

/** Settings of the Supabase-Auth-compatible service; names follow GoTrue's `GOTRUE_*` ones. */
export interface AuthConfig {
  /** Base URL of `/auth/v1` as clients reach it, for email links (`API_EXTERNAL_URL`). */
  externalUrl: string
  /** `iss` claim of access tokens (`JWT_ISSUER`, default `externalUrl`). */
  jwtIssuer: string
  disableSignup: boolean
  /** Phone sign-ups (with a password) are confirmed at once, no SMS (`AUTH_SMS_AUTOCONFIRM`); off, phone sign-ups are refused. */
  smsAutoconfirm: boolean
  anonymousUsers: boolean
  passwordMinLength: number
  /** `:`-separated character sets a password must each draw from (`AUTH_PASSWORD_REQUIRED_CHARACTERS`). */
  passwordRequiredCharacters: string[]
  /** Seconds a revoked refresh token may still be used (`AUTH_REFRESH_TOKEN_REUSE_INTERVAL`). */
  refreshTokenReuseInterval: number
  secureEmailChange: boolean
  otpLength: number
  /** Email OTP / link lifetime, seconds. */
  otpExp: number
  /** Seconds between two emails to one user (`AUTH_SMTP_MAX_FREQUENCY`). */
  smtpMaxFrequency: number
  smtpSenderName: string
  smtpAdminEmail: string
  /** Extra allowed `redirect_to` URLs (prefixes, comma-separated). */
  redirectUrls: string[]
  /** Header naming the client IP for per-IP limits (`AUTH_RATE_LIMIT_HEADER`); unset = the socket's address (Lambda: the event's sourceIp). */
  rateLimitHeader: string | undefined
  /** Proxies that append to `rateLimitHeader` (`AUTH_RATE_LIMIT_TRUSTED_HOPS`, ALB = 1): the client is that many entries from the right. */
  rateLimitTrustedHops: number
  /** Events per window: emails per hour (global), others per 5 minutes per IP, anonymous sign-ups per hour per IP. */
  rateLimitEmailSent: number
  rateLimitTokenRefresh: number
  rateLimitOtp: number
  rateLimitVerify: number
  rateLimitAnonymousUsers: number
  /** Wrong guesses one emailed code survives (`AUTH_OTP_MAX_ATTEMPTS`); then it is dead. */
  otpMaxAttempts: number
  /** The custom access token hook, a Postgres function (`AUTH_HOOK_CUSTOM_ACCESS_TOKEN_ENABLED` / `_URI`). */
  customAccessTokenHook: PgFunctionHook | undefined
  /** The password verification attempt hook (`AUTH_HOOK_PASSWORD_VERIFICATION_ATTEMPT_ENABLED` / `_URI`). */
  passwordVerificationAttemptHook: PgFunctionHook | undefined
  /** The send-email hook: a Postgres function sends the auth emails instead (`AUTH_HOOK_SEND_EMAIL_ENABLED` / `_URI`). */
  sendEmailHook: PgFunctionHook | undefined
  /** Wrong TOTP codes one MFA factor takes per 5 minutes (`AUTH_MFA_MAX_ATTEMPTS`, 0 = off). */
  mfaMaxAttempts: number
  /** Password attempts per account per `passwordAttemptWindow` (`AUTH_PASSWORD_MAX_ATTEMPTS`, 0 = off). */
  passwordMaxAttempts: number
  /** Seconds (`AUTH_PASSWORD_ATTEMPT_WINDOW`). */
  passwordAttemptWindow: number
  /** WebAuthn factors may be enrolled / verified (`AUTH_MFA_WEBAUTHN_ENROLL_ENABLED` / `_VERIFY_ENABLED`). */
  mfaWebAuthnEnroll: boolean
  mfaWebAuthnVerify: boolean
  /** Passkey sign-in and the `/passkeys` routes (`AUTH_PASSKEY_ENABLED`). */
  passkeys: boolean
  /** The WebAuthn relying party, for passkeys and WebAuthn factors (`AUTH_WEBAUTHN_RP_*`). */
  webauthn: WebAuthnRelyingParty
  /** The OAuth 2.1 server's client registry, `/admin/oauth/clients` (`AUTH_OAUTH_SERVER_ENABLED`). */
  oauthServer: boolean
}

export interface WebAuthnRelyingParty {
  /** The domain credentials are scoped to (default: SITE_URL's host name). */
  id: string
  /** Origins a ceremony may come from (default: SITE_URL's origin). */
  origins: string[]
  displayName: string
}

export interface JsonWebKeySet {
  keys: Array<Record<string, unknown>>
}

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

/** Config names whose values are masked wherever config is shown. */
export const SECRET_KEYS: ReadonlySet<keyof Config> = new Set(['jwtSecret', 'jwtKeys', 'anonKey', 'serviceRoleKey', 'secretKeys', 'vaultRootKey'])

function databaseUrl(env: Env, name: 'DATABASE_URL' | 'REALTIME_LISTEN_URL' = 'DATABASE_URL'): string | undefined {
  const raw = text(env, name)
  if (raw === undefined) return undefined
  let parsed: URL
  try {
    parsed = new URL(raw)
  } catch {
    return fail(name, 'is not a valid URL (expected postgres://user:password@host:5432/database)')
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    fail(name, `must start with postgres:// or postgresql://, got ${parsed.protocol}//`)
  }
  if (!parsed.hostname && !parsed.searchParams.get('host')) fail(name, 'has no host')
  return raw
}

/** `EMBEDDED_DB_PORT`: 54322 by default, `0`/`off`/`false` for none, never in production. */
function embeddedDbPort(env: Env, production: boolean): number | undefined {
  const raw = text(env, 'EMBEDDED_DB_PORT')?.toLowerCase()
  if (production) return undefined
  if (raw === 'off' || raw === 'false' || raw === 'no') return undefined
  const port = integer(env, 'EMBEDDED_DB_PORT', 54322, 0, 65535)
  return port === 0 ? undefined : port
}

function jwtKeys(env: Env): JsonWebKeySet | undefined {
  const raw = text(env, 'JWT_KEYS')
  if (raw === undefined) return undefined
  let parsed: unknown
  try {
    parsed = JSON.parse(raw)
  } catch {
    return fail('JWT_KEYS', 'is not valid JSON (expected a JWK set: {"keys": [...]} or [...])')
  }
  const keys = Array.isArray(parsed) ? parsed : (parsed as { keys?: unknown })?.keys
  if (!Array.isArray(keys) || keys.length === 0) fail('JWT_KEYS', 'must hold at least one JWK')
  for (const key of keys) {
    if (typeof key !== 'object' || key === null || typeof (key as { kty?: unknown }).kty !== 'string') {
      fail('JWT_KEYS', 'every key must be a JWK object with a "kty"')
    }
  }
  return { keys: keys as Array<Record<string, unknown>> }
}

/** A Postgres function an auth hook calls, as GoTrue's `pg-functions://<db>/<schema>/<function>`. */
export interface PgFunctionHook {
  schema: string
  name: string
}

/** `…_ENABLED` and `…_URI`; the URI must name a Postgres function. */
function pgFunctionHook(env: Env, enabled: VariableName, uriName: VariableName): PgFunctionHook | undefined {
  if (!boolean(env, enabled, false)) return undefined
  const uri = text(env, uriName) ?? ''
  const match = /^pg-functions:\/\/[^/]+\/([^/]+)\/([^/]+)$/.exec(uri)
  if (!match) return fail(uriName, 'must be pg-functions://postgres/<schema>/<function> when the hook is enabled')
  return { schema: decodeURIComponent(match[1]!), name: decodeURIComponent(match[2]!) }
}

function rootKey(env: Env): string | undefined {
  const value = text(env, 'VAULT_ROOT_KEY')?.toLowerCase()
  if (value === undefined) return undefined
  if (!/^[0-9a-f]{64}$/.test(value)) fail('VAULT_ROOT_KEY', 'must be exactly 64 hexadecimal characters (32 bytes)')
  return value
}

function authConfig(env: Env, siteUrl: string, port: number): AuthConfig {
  const externalUrl = url(env, 'API_EXTERNAL_URL', `http://localhost:${port}/auth/v1`).replace(/\/+$/, '')
  return {
    externalUrl,
    jwtIssuer: text(env, 'JWT_ISSUER') ?? externalUrl,
    disableSignup: boolean(env, 'AUTH_DISABLE_SIGNUP', false),
    smsAutoconfirm: boolean(env, 'AUTH_SMS_AUTOCONFIRM', false),
    anonymousUsers: boolean(env, 'AUTH_ANONYMOUS_USERS', false),
    passwordMinLength: integer(env, 'AUTH_PASSWORD_MIN_LENGTH', 6, 6, 72),
    passwordRequiredCharacters: list(env, 'AUTH_PASSWORD_REQUIRED_CHARACTERS', ':'),
    refreshTokenReuseInterval: integer(env, 'AUTH_REFRESH_TOKEN_REUSE_INTERVAL', 10, 0, 3600),
    secureEmailChange: boolean(env, 'AUTH_SECURE_EMAIL_CHANGE', true),
    otpLength: integer(env, 'AUTH_OTP_LENGTH', 6, 6, 10),
    otpExp: integer(env, 'AUTH_OTP_EXP', 3600, 60, 86_400),
    smtpMaxFrequency: integer(env, 'AUTH_SMTP_MAX_FREQUENCY', 60, 0, 86_400),
    smtpSenderName: text(env, 'SMTP_SENDER_NAME') ?? 'resolution',
    smtpAdminEmail: text(env, 'SMTP_ADMIN_EMAIL') ?? `no-reply@${new URL(siteUrl).hostname}`,
    redirectUrls: list(env, 'AUTH_REDIRECT_URLS'),
    rateLimitHeader: text(env, 'AUTH_RATE_LIMIT_HEADER'),
    rateLimitTrustedHops: integer(env, 'AUTH_RATE_LIMIT_TRUSTED_HOPS', 1, 1, 10),
    rateLimitEmailSent: integer(env, 'AUTH_RATE_LIMIT_EMAIL_SENT', 30, 0, 1_000_000_000),
    rateLimitTokenRefresh: integer(env, 'AUTH_RATE_LIMIT_TOKEN_REFRESH', 150, 0, 1_000_000_000),
    rateLimitOtp: integer(env, 'AUTH_RATE_LIMIT_OTP', 30, 0, 1_000_000_000),
    rateLimitVerify: integer(env, 'AUTH_RATE_LIMIT_VERIFY', 30, 0, 1_000_000_000),
    rateLimitAnonymousUsers: integer(env, 'AUTH_RATE_LIMIT_ANONYMOUS_USERS', 30, 0, 1_000_000_000),
    otpMaxAttempts: integer(env, 'AUTH_OTP_MAX_ATTEMPTS', 5, 1, 100),
    mfaMaxAttempts: integer(env, 'AUTH_MFA_MAX_ATTEMPTS', 5, 0, 1000),
    customAccessTokenHook: pgFunctionHook(env, 'AUTH_HOOK_CUSTOM_ACCESS_TOKEN_ENABLED', 'AUTH_HOOK_CUSTOM_ACCESS_TOKEN_URI'),
    passwordVerificationAttemptHook: pgFunctionHook(env, 'AUTH_HOOK_PASSWORD_VERIFICATION_ATTEMPT_ENABLED', 'AUTH_HOOK_PASSWORD_VERIFICATION_ATTEMPT_URI'),
    sendEmailHook: pgFunctionHook(env, 'AUTH_HOOK_SEND_EMAIL_ENABLED', 'AUTH_HOOK_SEND_EMAIL_URI'),
    passwordMaxAttempts: integer(env, 'AUTH_PASSWORD_MAX_ATTEMPTS', 10, 0, 1_000_000_000),
    passwordAttemptWindow: integer(env, 'AUTH_PASSWORD_ATTEMPT_WINDOW', 900, 1, 86_400),
    mfaWebAuthnEnroll: boolean(env, 'AUTH_MFA_WEBAUTHN_ENROLL_ENABLED', false),
    mfaWebAuthnVerify: boolean(env, 'AUTH_MFA_WEBAUTHN_VERIFY_ENABLED', false),
    passkeys: boolean(env, 'AUTH_PASSKEY_ENABLED', false),
    webauthn: relyingParty(env, siteUrl),
    oauthServer: boolean(env, 'AUTH_OAUTH_SERVER_ENABLED', false),
  }
}

function relyingParty(env: Env, siteUrl: string): WebAuthnRelyingParty {
  const site = new URL(siteUrl)
  const origins = list(env, 'AUTH_WEBAUTHN_RP_ORIGINS')
  for (const origin of origins) {
    if (!URL.canParse(origin) || new URL(origin).origin !== origin) fail('AUTH_WEBAUTHN_RP_ORIGINS', `has ${JSON.stringify(origin)}, which is not an origin (scheme://host[:port])`)
  }
  return {
    id: text(env, 'AUTH_WEBAUTHN_RP_ID') ?? site.hostname,
    origins: origins.length > 0 ? origins : [site.origin],
    displayName: text(env, 'AUTH_WEBAUTHN_RP_DISPLAY_NAME') ?? site.hostname,
  }
}

/**
 * Reads and validates the environment, then checks what `profile` requires (requirements.ts:
 * production and Lambda demand their secrets). Secrets that development may generate (JWT
 * secret, API keys, vault root key) are left undefined here; `resolveDevSecrets` fills them.
 */
export function loadConfig(env: Env = process.env, profile: RuntimeProfile = SERVER_PROFILE): Config {
  const config = parseConfig(env)
  checkRequirements(config, env, profile)
  return config
}

/** Reads and validates every variable, with no requirement of what must be set (`resolution keys` makes the keys). */
export function parseConfig(env: Env): Config {
  const production = text(env, 'NODE_ENV') === 'production'
  const jwtSecret = text(env, 'JWT_SECRET')
  if (jwtSecret !== undefined && jwtSecret.length < 32) fail('JWT_SECRET', 'must be at least 32 characters long')
  const logLevel = (text(env, 'LOG_LEVEL')?.toLowerCase() ?? 'info') as LogLevel
  if (!LOG_LEVELS.includes(logLevel)) fail('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}`)
  const dbSchemas = list(env, 'DB_SCHEMAS', ',', 'public')
  if (dbSchemas.length === 0) fail('DB_SCHEMAS', 'must name at least one schema')
  const siteUrl = url(env, 'SITE_URL', 'http://localhost:3000')
  const port = integer(env, 'PORT', 5050, 0, 65535)

  const dataDir = path.resolve(text(env, 'RESOLUTION_DATA_DIR') ?? '.resolution/data')

  return {
    production,
    port,
    databaseUrl: databaseUrl(env),
    realtimeListenUrl: databaseUrl(env, 'REALTIME_LISTEN_URL'),
    realtimeDeadServerSeconds: integer(env, 'REALTIME_DEAD_SERVER_SECONDS', 35, 3, 3600),
    dataDir,
    jwtSecret,
    jwtKeys: jwtKeys(env),
    anonKey: text(env, 'ANON_KEY'),
    serviceRoleKey: text(env, 'SERVICE_ROLE_KEY'),
    publishableKeys: opaqueKeyList(env, 'PUBLISHABLE_KEYS', 'publishable'),
    secretKeys: opaqueKeyList(env, 'SECRET_KEYS', 'secret'),
    dbSchemas,
    dbSchemasSet: text(env, 'DB_SCHEMAS') !== undefined,
    dbPoolMax: integer(env, 'DB_POOL_MAX', 10, 1, 1000),
    dbPreparedStatements: boolean(env, 'DB_PREPARED_STATEMENTS', true),
    logLevel,
    authAutoconfirm: boolean(env, 'AUTH_AUTOCONFIRM', !production),
    siteUrl,
    vaultRootKey: rootKey(env),
    smtpUrl: text(env, 'SMTP_URL'),
    apiKeyRequired: boolean(env, 'API_KEY_REQUIRED', true),
    bodyLimit: integer(env, 'BODY_LIMIT', 1024 * 1024, 1024, 1024 * 1024 * 1024),
    statementTimeoutMs: integer(env, 'DB_STATEMENT_TIMEOUT', 8000, 0, 3_600_000),
    jwtExp: integer(env, 'JWT_EXP', 3600, 30, 604_800),
    auth: authConfig(env, siteUrl, port),
    rest: restConfig(env),
    storage: storageConfig(env, dataDir),
    corsCredentialsOrigins: originList(env),
    embeddedDbPort: embeddedDbPort(env, production),
  }
}

/** A comma-separated list of `sb_<kind>_…` keys, each checked for its prefix and shape. */
function opaqueKeyList(env: Env, name: VariableName, kind: OpaqueKeyKind): string[] {
  const keys = list(env, name)
  for (const key of keys) {
    if (!isWellFormedKey(kind, key)) fail(name, `every key must look like ${OPAQUE_KEY_PREFIX[kind]}<at least 16 of A-Z a-z 0-9 _ ->; make one with \`resolution keys\``)
  }
  return keys
}

/** A comma-separated list of exact origins (`https://app.example.com`), each checked. */
function originList(env: Env): string[] {
  const items = list(env, 'CORS_CREDENTIALS_ORIGINS')
  for (const item of items) {
    let parsed: URL | undefined
    try {
      parsed = new URL(item)
    } catch {
      parsed = undefined
    }
    if (!parsed || parsed.origin !== item) fail('CORS_CREDENTIALS_ORIGINS', `${JSON.stringify(item)} is not an origin like https://app.example.com`)
  }
  return items
}

/** The config as `--print-config` shows it: secrets masked, nothing else hidden. */
export function describeConfig(config: Config): Record<string, unknown> {
  const shown: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(config)) {
    if (SECRET_KEYS.has(key as keyof Config)) shown[key] = value === undefined ? undefined : '********'
    else if ((key === 'databaseUrl' || key === 'realtimeListenUrl') && typeof value === 'string') shown[key] = maskUrl(value)
    else if (key === 'smtpUrl' && typeof value === 'string') shown[key] = maskUrl(value)
    else shown[key] = value
  }
  return shown
}

/** Replaces the password of a URL with `****`. */
export function maskUrl(raw: string): string {
  try {
    const url = new URL(raw)
    if (url.password) url.password = '****'
    return url.toString()
  } catch {
    return '(unparseable URL)'
  }
}
