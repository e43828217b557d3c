/**
 * A channel's access token, checked as Supabase Realtime checks it on join, on `access_token`
 * refresh and when it runs out: verified with the service's JWT keys (jwt/service.ts), `role`
 * and `exp` required, and refused with Realtime's own reasons, e.g.
 * `InvalidJWTToken: Token has expired 12 seconds ago`.
 * @module
 */
import * as jose from 'jose'
import type { Claims, JwtService } from '../jwt/service.ts'

export type TokenCheck = { ok: true; claims: Claims; expiresAtMs: number } | { ok: false; code: string; message: string }

const MALFORMED = { ok: false, code: 'MalformedJWT', message: 'The token provided is not a valid JWT' } as const

export function reasonOf(check: { code: string; message: string }): string {
  return `${check.code}: ${check.message}`
}

export async function confirmToken(jwt: JwtService, token: unknown, nowMs = Date.now()): Promise<TokenCheck> {
  if (typeof token !== 'string' || token.split('.').length !== 3) return MALFORMED
  let claims: Claims
  try {
    claims = await jwt.verify(token.replace(/\s/g, ''))
  } catch (error) {
    const message = (error as Error).message
    if (/expired/.test(message)) {
      const exp = Number(jose.decodeJwt(token).exp)
      return { ok: false, code: 'InvalidJWTToken', message: `Token has expired ${Math.max(0, Math.floor(nowMs / 1000) - exp)} seconds ago` }
    }
    if (/malformed/.test(message)) return MALFORMED
    return { ok: false, code: 'JwtSignatureError', message: 'Failed to validate JWT signature' }
  }
  if (typeof claims.role !== 'string' || typeof claims.exp !== 'number') {
    return { ok: false, code: 'InvalidJWTToken', message: 'Fields `role` and `exp` are required in JWT' }
  }
  return { ok: true, claims, expiresAtMs: claims.exp * 1000 }
}
