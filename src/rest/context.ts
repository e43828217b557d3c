/**
 * Who the request runs as, and the transaction settings PostgREST gives every request: role,
 * `request.jwt.claims`, `request.method`, `request.path`, `request.headers`, `request.cookies`,
 * the search path. Policies and functions written for Supabase read these.
 * @module
 */
import type { Context } from 'hono'
import type { SessionOptions } from '../db/session.ts'
import { HttpError } from '../errors.ts'
import { authenticate } from '../http/principal.ts'
import { opaqueKeyKind } from '../jwt/opaque-keys.ts'
import { ANON_ROLE, type Principal } from '../jwt/principal.ts'
import type { ClaimStep } from '../config/rest.ts'
import type { Services } from '../services.ts'
import { jwtError } from './errors.ts'

/** The JWT errors of the auth layer, reworded as PostgREST's PGRST301/PGRST303. */
function postgrestJwtError(error: HttpError, token: string | undefined): HttpError {
  if (token === undefined || token === '') return jwtError('Empty JWT is sent in Authorization header')
  const parts = token.split('.').length
  if (parts !== 3) return jwtError(`Expected 3 parts in JWT; got ${parts}`)
  if (/expired/i.test(error.message)) return jwtError('JWT expired')
  if (/invalid claims/i.test(error.message)) return jwtError('Parsing claims failed')
  if (/malformed/i.test(error.message)) return jwtError("JWT couldn't be decoded")
  if (/algorithm|signing key/i.test(error.message)) return jwtError('Wrong or unsupported encoding algorithm')
  return jwtError('JWT cryptographic operation failed')
}

/**
 * Verified tokens, like PostgREST's jwt-cache: a token's claims cannot change, so one verified
 * signature serves until the token expires (at most 5 minutes here). Bounded, oldest out first.
 */
const JWT_CACHE_MAX = 1000
const JWT_CACHE_TTL_MS = 300_000
const verified = new WeakMap<Services, Map<string, { principal: Principal; until: number }>>()

function cachedPrincipal(services: Services, key: string): Principal | undefined {
  const entry = verified.get(services)?.get(key)
  if (!entry) return undefined
  if (entry.until > Date.now()) return entry.principal
  verified.get(services)!.delete(key)
  return undefined
}

function remember(services: Services, key: string, principal: Principal): void {
  let cache = verified.get(services)
  if (!cache) verified.set(services, (cache = new Map()))
  if (cache.size >= JWT_CACHE_MAX) cache.delete(cache.keys().next().value!)
  const exp = typeof principal.claims.exp === 'number' ? principal.claims.exp * 1000 : Infinity
  cache.set(key, { principal, until: Math.min(exp, Date.now() + JWT_CACHE_TTL_MS) })
}

export async function restPrincipal(services: Services, c: Context): Promise<Principal> {
  const authorization = c.req.header('authorization')
  const apikey = c.req.header('apikey')
  const key = `${authorization ?? ''}\u0000${authorization ? '' : (apikey ?? '')}`
  // An `sb_…` apikey is checked on every request (its browser rule depends on the User-Agent).
  const cached = opaqueKeyKind(apikey) ? undefined : cachedPrincipal(services, key)
  if (cached) return cached
  try {
    const principal = await authenticate(services, { authorization, apikey, userAgent: c.req.header('user-agent') })
    if (principal.token) remember(services, key, principal)
    return principal
  } catch (error) {
    if (error instanceof HttpError && error.status === 401 && error.code !== 'invalid_api_key') {
      const token = authorization ? /^Bearer\s*(.*)$/i.exec(authorization.trim())?.[1]?.trim() : apikey
      throw postgrestJwtError(error, token)
    }
    throw error
  }
}

/**
 * The role as `JWT_ROLE_CLAIM_KEY` / `pgrst.jwt_role_claim_key` finds it in a JWT's claims
 * (PostgREST's `jwt-role-claim-key`); a token without a string there runs as anon. The default
 * `.role` is what `authenticate` already read; an `sb_…` key's role is the key's, not a claim's.
 */
export function withRoleClaim(principal: Principal, path: readonly ClaimStep[]): Principal {
  if (principal.token === undefined || (path.length === 1 && path[0] === 'role')) return principal
  let value: unknown = principal.claims
  for (const step of path) {
    if (typeof value !== 'object' || value === null) return { ...principal, role: ANON_ROLE }
    value = typeof step === 'number' ? (Array.isArray(value) ? value[step] : undefined) : Array.isArray(value) ? undefined : (value as Record<string, unknown>)[step]
  }
  return { ...principal, role: typeof value === 'string' && value !== '' ? value : ANON_ROLE }
}

function cookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=')
    if (eq > 0) out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim()
  }
  return out
}

export function sessionOptions(
  services: Services,
  c: Context,
  principal: Principal,
  request: { method: string; path: string; schema: string; readOnly: boolean; timezone?: string },
): SessionOptions {
  const headers: Record<string, string> = {}
  c.req.raw.headers.forEach((value, name) => {
    headers[name.toLowerCase()] = value
  })
  const settings: Record<string, string> = {
    // The exposed schema first, then the extra search path Supabase configures.
    search_path: `"${request.schema.replaceAll('"', '""')}", "public", "extensions"`,
    'request.method': request.method,
    'request.path': request.path,
    'request.headers': JSON.stringify(headers),
    'request.cookies': JSON.stringify(cookies(headers.cookie)),
  }
  if (request.timezone) settings.timezone = request.timezone
  return {
    role: principal.role,
    claims: { ...principal.claims, role: principal.role },
    readOnly: request.readOnly,
    settings,
    statementTimeoutMs: services.config.statementTimeoutMs,
  }
}
