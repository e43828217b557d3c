/**
 * Who is calling: the verified JWT from `Authorization: Bearer`, or the `apikey` header when
 * there is no bearer. No token → the anon role with empty claims. An `sb_publishable_…` or
 * `sb_secret_…` key (in either header) stands for `anon` / `service_role`, as Supabase's gateway
 * has it; one in `apikey` is checked even when a user's JWT is the bearer.
 * @module
 */
import { appError } from '../errors.ts'
import { opaqueKeyClaims } from '../jwt/opaque-keys.ts'
import { ANON_ROLE, type Principal } from '../jwt/principal.ts'
import type { Claims } from '../jwt/service.ts'
import type { Services } from '../services.ts'

export function bearerToken(authorization: string | undefined): string | undefined {
  if (!authorization) return undefined
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization)
  if (!match) throw appError('bad_jwt', 'Authorization header must be "Bearer <token>"')
  return match[1]
}

export interface CallerHeaders {
  authorization?: string
  apikey?: string
  /** Decides whether a secret key came from a browser (refused). */
  userAgent?: string
}

export async function authenticate(services: Services, headers: CallerHeaders): Promise<Principal> {
  const bearer = bearerToken(headers.authorization)
  const keys = { publishable: services.config.publishableKeys, secret: services.config.secretKeys }
  const keyClaims = opaqueKeyClaims(keys, headers.apikey || undefined, headers.userAgent)
  const token = bearer ?? (headers.apikey || undefined)
  if (!token) return { role: ANON_ROLE, claims: {}, token: undefined, source: 'none' }
  const source = bearer ? 'bearer' : 'apikey'
  // An opaque key is no token to cache or forward: the principal carries only its claims.
  const opaque = bearer ? opaqueKeyClaims(keys, bearer, headers.userAgent) : keyClaims
  if (opaque) return { role: roleOf(opaque), claims: opaque, token: undefined, source }
  const claims = await services.jwt.verify(token)
  return { role: roleOf(claims), claims, token, source }
}

function roleOf(claims: Claims): string {
  return typeof claims.role === 'string' && claims.role !== '' ? claims.role : ANON_ROLE
}
