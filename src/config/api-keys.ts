/**
 * ANON_KEY and SERVICE_ROLE_KEY must be keys this service accepts: signed by the configured
 * JWT_SECRET/JWT_KEYS and carrying the right `role`. A wrong one would start a service that
 * answers 401 to everything; this stops start-up with one line instead.
 * @module
 */
import type { JwtService } from '../jwt/service.ts'
import { FatalError } from '../errors.ts'
import type { Config } from './config.ts'

/** Throws a FatalError naming the variable when `key` is not a valid `role` key for `jwt`. */
export async function checkApiKey(jwt: JwtService, name: string, key: string, role: 'anon' | 'service_role'): Promise<void> {
  let claims
  try {
    claims = await jwt.verify(key)
  } catch (error) {
    const reason = /expired/.test((error as Error).message) ? 'has expired' : 'does not verify with the configured JWT_SECRET/JWT_KEYS'
    throw new FatalError(`${name}: ${reason}; make matching keys with \`resolution keys\``)
  }
  if (claims.role !== role) throw new FatalError(`${name}: has role ${JSON.stringify(claims.role ?? null)}, expected ${role}`)
}

/** Checks both configured API keys (those unset are left to the caller's rules). */
export async function checkApiKeys(config: Pick<Config, 'anonKey' | 'serviceRoleKey'>, jwt: JwtService): Promise<void> {
  if (config.anonKey) await checkApiKey(jwt, 'ANON_KEY', config.anonKey, 'anon')
  if (config.serviceRoleKey) await checkApiKey(jwt, 'SERVICE_ROLE_KEY', config.serviceRoleKey, 'service_role')
}
