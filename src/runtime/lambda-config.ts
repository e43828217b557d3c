/**
 * The Lambda's config: the common loader plus what a function needs that a workstation does not.
 * A Lambda has no embedded database and must never generate secrets (its file system is
 * read-only and every execution environment would invent different keys).
 * @module
 */
import { loadConfig, type Config, type Env } from '../config/config.ts'
import { FatalError } from '../errors.ts'

/** Variables the template fills from Secrets Manager with dynamic references. */
export const SECRET_VARIABLES = ['DATABASE_URL', 'JWT_SECRET', 'ANON_KEY', 'SERVICE_ROLE_KEY', 'VAULT_ROOT_KEY', 'SMTP_URL'] as const

export function loadLambdaConfig(env: Env): Config {
  for (const name of SECRET_VARIABLES) {
    // `sam local` passes CloudFormation dynamic references through unresolved.
    if (env[name]?.trim().startsWith('{{resolve:')) {
      throw new FatalError(`${name}: holds an unresolved dynamic reference ({{resolve:…}}); sam local and resolution invoke do not resolve them: set the value in env.json`)
    }
  }
  const config = loadConfig(env)
  if (!config.databaseUrl) throw new FatalError('DATABASE_URL: is required on Lambda (there is no embedded database there)')
  if (!config.jwtSecret && !config.jwtKeys) throw new FatalError('JWT_SECRET: is required on Lambda (or JWT_KEYS)')
  if (!config.anonKey) throw new FatalError('ANON_KEY: is required on Lambda')
  if (!config.serviceRoleKey) throw new FatalError('SERVICE_ROLE_KEY: is required on Lambda')
  return config
}
