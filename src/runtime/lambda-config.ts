/**
 * The Lambda's config: the common loader with the Lambda profile (requirements.ts: no embedded
 * database, no generated secrets — its file system is read-only and every execution environment
 * would invent different keys), after a check only `sam local` needs.
 * @module
 */
import { loadConfig, type Config, type Env } from '../config/config.ts'
import { LAMBDA_PROFILE } from '../config/runtime-profile.ts'
import type { VariableName } from '../config/variables.ts'
import { FatalError } from '../errors.ts'

/** Variables the template fills from Secrets Manager with dynamic references. */
export const SECRET_VARIABLES = ['DATABASE_URL', 'JWT_SECRET', 'ANON_KEY', 'SERVICE_ROLE_KEY', 'VAULT_ROOT_KEY', 'SMTP_URL'] as const satisfies readonly VariableName[]

export function loadLambdaConfig(env: Env): Config {
  for (const name of SECRET_VARIABLES) {
    // `sam local` passes CloudFormation dynamic references through unresolved.
    if (env[name]?.trim().startsWith('{{resolve:')) {
      throw new FatalError(`${name}: holds an unresolved dynamic reference ({{resolve:…}}); sam local and resolution invoke do not resolve them: set the value in env.json`)
    }
  }
  return loadConfig(env, LAMBDA_PROFILE)
}
