/**
 * Who is calling: the verified JWT from `Authorization: Bearer`, or the `apikey` header when
 * there is no bearer. No token → the anon role with empty claims.
 * @module
 */
import { appError } from '../errors.ts'
import { ANON_ROLE, type Principal } from '../jwt/principal.ts'
import type { Services } from '../services.ts'

export function bearerToken(authorization: string | undefined): string | undefined {
  if (!authorization) return undefined
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization)
  if (!match) throw appError('bad_jwt', 'Authorization header must be "Bearer <token>"')
  return match[1]
}

export async function authenticate(services: Services, headers: { authorization?: string; apikey?: string }): Promise<Principal> {
  const bearer = bearerToken(headers.authorization)
  const token = bearer ?? (headers.apikey || undefined)
  if (!token) return { role: ANON_ROLE, claims: {}, token: undefined, source: 'none' }
  const claims = await services.jwt.verify(token)
  const role = typeof claims.role === 'string' && claims.role !== '' ? claims.role : ANON_ROLE
  return { role, claims, token, source: bearer ? 'bearer' : 'apikey' }
}
