/**
 * The gateway's and GoTrue's request checks: a valid `apikey`, then the Bearer token of a user
 * (with its session and ban state) or of an admin. They set request variables and never write
 * a response; failures are thrown as auth errors.
 * @module
 */
import type { MiddlewareHandler } from 'hono'
import type { Claims } from '../jwt/service.ts'
import { HttpError } from '../errors.ts'
import { opaqueKeyClaims } from '../jwt/opaque-keys.ts'
import type { AuthDeps, AuthEnv } from './context.ts'
import { UUID_PATTERN } from './crypto.ts'
import { authError } from './errors.ts'
import { findSession } from './models/session.ts'
import { findUserById } from './models/user.ts'

// Only service_role: `supabase_admin` is a database superuser's name, never a key we issue.
export const ADMIN_ROLES = new Set(['service_role'])
const KEY_ROLES = new Set(['anon', 'service_role'])

function bearer(header: string | undefined): string | undefined {
  if (!header) return undefined
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
  return match?.[1]
}

/**
 * The claims an `sb_publishable_…`/`sb_secret_…` key stands for (what the gateway's minted JWT
 * would carry), undefined for any other token; an unknown key, or a secret key from a browser,
 * is the gateway's 401.
 */
function opaqueClaims(deps: AuthDeps, token: string | undefined, userAgent: string | undefined): Claims | undefined {
  const { publishableKeys: publishable, secretKeys: secret } = deps.services.config
  try {
    return opaqueKeyClaims({ publishable, secret }, token, userAgent)
  } catch (error) {
    if (error instanceof HttpError) throw authError(401, 'invalid_api_key', error.message)
    throw error
  }
}

/** Verifies with the JWT service (or as an opaque API key); a bad JWT is GoTrue's 403 `bad_jwt`. */
export async function verifyToken(deps: AuthDeps, token: string, userAgent?: string): Promise<Claims> {
  const opaque = opaqueClaims(deps, token, userAgent)
  if (opaque) return opaque
  try {
    return await deps.services.jwt.verify(token)
  } catch (error) {
    if (error instanceof HttpError) throw authError(403, 'bad_jwt', error.message)
    throw error
  }
}

/** The `apikey` header (or `?apikey=`) must be an anon or service_role key signed by us, or one of our `sb_…` keys. */
export function requireApiKey(deps: AuthDeps): MiddlewareHandler<AuthEnv> {
  // A deployment has a handful of API keys, sent on every request: keep the few last verified
  // ones (the signing keys never change within a service instance; expiry is still checked).
  const verified = new Map<string, Claims>()
  return async function apiKey(c, next) {
    const key = c.req.header('apikey') ?? c.req.query('apikey')
    if (!key) {
      // API_KEY_REQUIRED=false: as GoTrue behind a gateway that checks no key (the Supabase CLI's
      // stack); each endpoint still checks the bearer it needs.
      if (deps.services.config.apiKeyRequired) throw authError(401, 'no_api_key', 'No API key found in request')
      c.set('admin', false)
      return next()
    }
    const opaque = opaqueClaims(deps, key, c.req.header('user-agent'))
    if (opaque) {
      c.set('admin', false)
      c.set('claims', opaque)
      return next()
    }
    let claims = verified.get(key)
    if (claims && typeof claims.exp === 'number' && claims.exp <= Date.now() / 1000) claims = undefined
    if (!claims) {
      try {
        claims = await deps.services.jwt.verify(key)
      } catch {
        throw authError(401, 'invalid_api_key', 'Invalid API key')
      }
      if (typeof claims.role !== 'string' || !KEY_ROLES.has(claims.role)) throw authError(401, 'invalid_api_key', 'Invalid API key')
      if (verified.size >= 16) verified.delete(verified.keys().next().value!)
      verified.set(key, claims)
    }
    c.set('admin', false)
    c.set('claims', claims)
    await next()
  }
}

/** The effective bearer token: the client's `Authorization`, else the `apikey`. */
function effectiveToken(headers: { authorization?: string; apikey?: string }): string | undefined {
  return bearer(headers.authorization) ?? (headers.apikey || undefined)
}

/** A signed-in user: valid JWT with a UUID `sub`, an existing user and session, not banned. */
export function requireUser(deps: AuthDeps): MiddlewareHandler<AuthEnv> {
  return async function user(c, next) {
    // Only the client's own Authorization: the gateway hands GoTrue no bearer for a JWT apikey,
    // so a request without one is GoTrue's 401 (an API key has no `sub` to be a user anyway).
    const token = bearer(c.req.header('authorization'))
    if (!token) throw authError(401, 'no_authorization', 'This endpoint requires a valid Bearer token')
    const claims = await verifyToken(deps, token, c.req.header('user-agent'))
    if (typeof claims.sub !== 'string' || claims.sub === '') throw authError(403, 'bad_jwt', 'invalid claim: missing sub claim')
    if (!UUID_PATTERN.test(claims.sub)) throw authError(400, 'bad_jwt', 'invalid claim: sub claim must be a UUID')
    const sessionId = typeof claims.session_id === 'string' && claims.session_id !== '' ? claims.session_id : undefined
    // Two independent reads: autocommitted, side by side (no BEGIN/COMMIT round trips).
    const database = await deps.services.database()
    const [row, session] = await Promise.all([
      findUserById(database, claims.sub),
      sessionId && UUID_PATTERN.test(sessionId) ? findSession(database, sessionId) : undefined,
    ])
    const found = { row, session }
    if (!found.row) throw authError(403, 'user_not_found', 'User from sub claim in JWT does not exist')
    if (sessionId && (!found.session || found.session.user_id !== found.row.id)) {
      throw authError(403, 'session_not_found', 'Session from session_id claim in JWT does not exist')
    }
    if (found.row.banned) throw authError(403, 'user_banned', 'User is banned')
    c.set('claims', claims)
    c.set('user', found.row)
    c.set('sessionId', sessionId)
    await next()
  }
}

/** Admin rights: a Bearer JWT (or, without one, the apikey) whose role is an admin role. No `sub`/`exp` needed. */
export function requireAdmin(deps: AuthDeps): MiddlewareHandler<AuthEnv> {
  return async function admin(c, next) {
    const token = effectiveToken({ authorization: c.req.header('authorization'), apikey: c.req.header('apikey') })
    if (!token) throw authError(401, 'no_authorization', 'This endpoint requires a valid Bearer token')
    const claims = await verifyToken(deps, token, c.req.header('user-agent'))
    if (typeof claims.role !== 'string' || !ADMIN_ROLES.has(claims.role)) throw authError(403, 'not_admin', 'User not allowed')
    if (typeof claims.session_id === 'string' && claims.session_id !== '') {
      const session = UUID_PATTERN.test(claims.session_id) ? await deps.transaction((tx) => findSession(tx, claims.session_id as string)) : undefined
      if (!session) throw authError(403, 'session_not_found', 'Session from session_id claim in JWT does not exist')
    }
    c.set('claims', claims)
    c.set('admin', true)
    await next()
  }
}
