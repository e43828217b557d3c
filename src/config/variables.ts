/**
 * Every environment variable the service reads, declared once. The parsers (env.ts) take only
 * these names, so a new setting cannot be read without being declared here, and
 * test/config/documented.test.ts checks each is in the README's settings table and `.env.example`.
 * @module
 */
export const VARIABLES = [
  // Process and runtime
  'NODE_ENV',
  'PORT',
  'LOG_LEVEL',
  'BODY_LIMIT',
  'CORS_CREDENTIALS_ORIGINS',
  'EMBEDDED_DB_PORT',
  // Database
  'DATABASE_URL',
  'RESOLUTION_DATA_DIR',
  'DB_SCHEMAS',
  'DB_POOL_MAX',
  'DB_PREPARED_STATEMENTS',
  'DB_STATEMENT_TIMEOUT',
  // Keys and secrets
  'JWT_SECRET',
  'JWT_KEYS',
  'JWT_EXP',
  'JWT_ISSUER',
  'ANON_KEY',
  'SERVICE_ROLE_KEY',
  'VAULT_ROOT_KEY',
  'API_KEY_REQUIRED',
  // /rest/v1 (config/rest.ts)
  'DB_MAX_ROWS',
  'DB_AGGREGATES_ENABLED',
  'DB_PLAN_ENABLED',
  'DB_TX_END',
  'DB_SAFE_UPDATE',
  'OPENAPI_MODE',
  'DB_CHANNEL_ENABLED',
  'DB_EXTRA_ROLES',
  'DB_POOL_CLIENT_SHARE',
  'DB_POOL_CLIENT_WAIT',
  // /auth/v1 and its mail
  'SITE_URL',
  'API_EXTERNAL_URL',
  'SMTP_URL',
  'SMTP_SENDER_NAME',
  'SMTP_ADMIN_EMAIL',
  'AUTH_AUTOCONFIRM',
  'AUTH_DISABLE_SIGNUP',
  'AUTH_ANONYMOUS_USERS',
  'AUTH_PASSWORD_MIN_LENGTH',
  'AUTH_PASSWORD_REQUIRED_CHARACTERS',
  'AUTH_REFRESH_TOKEN_REUSE_INTERVAL',
  'AUTH_SECURE_EMAIL_CHANGE',
  'AUTH_OTP_LENGTH',
  'AUTH_OTP_EXP',
  'AUTH_OTP_MAX_ATTEMPTS',
  'AUTH_SMTP_MAX_FREQUENCY',
  'AUTH_REDIRECT_URLS',
  'AUTH_RATE_LIMIT_HEADER',
  'AUTH_RATE_LIMIT_TRUSTED_HOPS',
  'AUTH_RATE_LIMIT_EMAIL_SENT',
  'AUTH_RATE_LIMIT_TOKEN_REFRESH',
  'AUTH_RATE_LIMIT_OTP',
  'AUTH_RATE_LIMIT_VERIFY',
  'AUTH_RATE_LIMIT_ANONYMOUS_USERS',
  'AUTH_PASSWORD_MAX_ATTEMPTS',
  'AUTH_PASSWORD_ATTEMPT_WINDOW',
  'AUTH_MFA_MAX_ATTEMPTS',
  'AUTH_SMS_AUTOCONFIRM',
  'AUTH_HOOK_CUSTOM_ACCESS_TOKEN_ENABLED',
  'AUTH_HOOK_CUSTOM_ACCESS_TOKEN_URI',
  'AUTH_HOOK_PASSWORD_VERIFICATION_ATTEMPT_ENABLED',
  'AUTH_HOOK_PASSWORD_VERIFICATION_ATTEMPT_URI',
  // /storage/v1 (config/storage.ts)
  'STORAGE_DIR',
  'STORAGE_FILE_SIZE_LIMIT',
  // Client tools the CLI runs (config/tools.ts)
  'PG_DUMP',
  'PSQL',
] as const

export type VariableName = (typeof VARIABLES)[number]
