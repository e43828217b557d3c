/**
 * `resolution keys`: the anon and service_role API keys for the configured signing key, and the
 * publishable and secret keys of Supabase's new format (configured, kept in the data dir, or new). Keys
 * already configured (`ANON_KEY`, `SERVICE_ROLE_KEY`) are checked against the signing key and
 * printed; missing ones are issued as Supabase issues them (long-lived JWTs with `iss`, `role`).
 * In development the keys kept in the data dir are printed, so they match `resolution serve`.
 * @module
 */
import type { Command } from 'commander'
import { generateOpaqueKey } from '../../jwt/opaque-keys.ts'
import { createJwtService, issueApiKey, type JwtService } from '../../jwt/service.ts'
import { parseConfig, type Config, type Env } from '../../config/config.ts'
import { resolveDevSecrets } from '../../config/dev-secrets.ts'
import { FatalError } from '../../errors.ts'

export interface KeysResult {
  anonKey: string
  serviceRoleKey: string
  /** The new-format keys (`sb_publishable_…` acts as anon, `sb_secret_…` as service_role). */
  publishableKey: string
  secretKey: string
  /** Where the signing key came from, for the human output. */
  signing: string
}

async function checked(jwt: JwtService, name: string, key: string, role: string): Promise<string> {
  let claims
  try {
    claims = await jwt.verify(key)
  } catch {
    throw new FatalError(`${name}: does not verify with the configured JWT_SECRET/JWT_KEYS; unset it to issue a new key`)
  }
  if (claims.role !== role) throw new FatalError(`${name}: has role ${JSON.stringify(claims.role)}, expected ${role}`)
  return key
}

/** Computes the keys for `env` (pure apart from the development data dir). */
export async function apiKeys(env: Env): Promise<KeysResult> {
  // Production start-up demands ANON_KEY/SERVICE_ROLE_KEY, but this command exists to make them:
  // the variables are checked, the requirements are not.
  const parsed = parseConfig(env)
  let config: Config = parsed
  if (parsed.production) {
    if (!config.jwtSecret && !config.jwtKeys) throw new FatalError('JWT_SECRET: is required (or JWT_KEYS) to issue API keys')
  } else {
    config = await resolveDevSecrets(config)
  }
  const jwt = await createJwtService(config)
  const signing = config.jwtKeys?.keys.some((k) => k.kty !== 'oct' && 'd' in k) ? 'JWT_KEYS (asymmetric)' : parsed.jwtSecret ? 'JWT_SECRET' : `development secret in ${config.dataDir}`
  const anonKey = config.anonKey ? await checked(jwt, 'ANON_KEY', config.anonKey, 'anon') : await issueApiKey(jwt, 'anon')
  const serviceRoleKey = config.serviceRoleKey ? await checked(jwt, 'SERVICE_ROLE_KEY', config.serviceRoleKey, 'service_role') : await issueApiKey(jwt, 'service_role')
  // The new keys are random, not signed: configured ones are printed, else fresh ones (kept in the data dir in development).
  const publishableKey = config.publishableKeys[0] ?? generateOpaqueKey('publishable')
  const secretKey = config.secretKeys[0] ?? generateOpaqueKey('secret')
  return { anonKey, serviceRoleKey, publishableKey, secretKey, signing }
}

export function formatKeys(keys: KeysResult, format: 'text' | 'env' | 'json'): string {
  if (format === 'json') {
    const json = { anon_key: keys.anonKey, service_role_key: keys.serviceRoleKey, publishable_key: keys.publishableKey, secret_key: keys.secretKey }
    return JSON.stringify(json, null, 2) + '\n'
  }
  if (format === 'env') {
    return `ANON_KEY=${keys.anonKey}\nSERVICE_ROLE_KEY=${keys.serviceRoleKey}\nPUBLISHABLE_KEYS=${keys.publishableKey}\nSECRET_KEYS=${keys.secretKey}\n`
  }
  return [
    `Signed with: ${keys.signing}`,
    '',
    'anon key (public, safe in browsers with RLS on):',
    keys.anonKey,
    '',
    'service_role key (secret, bypasses RLS; servers only):',
    keys.serviceRoleKey,
    '',
    'publishable key (new format, acts as anon; replaces the anon key):',
    keys.publishableKey,
    '',
    'secret key (new format, acts as service_role; servers only, refused from browsers):',
    keys.secretKey,
    '',
  ].join('\n')
}

export function register(program: Command): void {
  program
    .command('keys')
    .description('Print the API keys: anon and service_role JWTs for the configured JWT secret or keys, and the publishable and secret keys')
    .option('--env', 'print as ANON_KEY=… / SERVICE_ROLE_KEY=… / PUBLISHABLE_KEYS=… / SECRET_KEYS=… lines for an .env file')
    .option('--json', 'print as JSON')
    .action(async (options: { env?: boolean; json?: boolean }) => {
      const keys = await apiKeys(process.env)
      process.stdout.write(formatKeys(keys, options.json ? 'json' : options.env ? 'env' : 'text'))
    })
}
