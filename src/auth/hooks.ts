/**
 * Auth hooks run as Postgres functions, the way Supabase runs them: the custom access token hook
 * gets `{user_id, claims, authentication_method}` as jsonb and answers `{claims: {...}}`, or
 * `{error: {http_code, message}}` to refuse the sign-in. It runs in the request's transaction
 * (it sees the new session and user rows), as the connecting role.
 * @module
 */
import type { PgFunctionHook } from '../config/config.ts'
import { qualified } from '../db/sql.ts'
import type { Queryable } from '../db/types.ts'
import type { Claims } from '../jwt/service.ts'
import { authError } from './errors.ts'

export type ClaimsHook = (claims: Claims) => Promise<Claims>

/** Claims the hook must leave in place, with their JSON types (GoTrue's output schema). */
const REQUIRED: Array<[string, 'string' | 'number' | 'boolean' | 'string|array']> = [
  ['aud', 'string|array'],
  ['exp', 'number'],
  ['iat', 'number'],
  ['sub', 'string'],
  ['role', 'string'],
  ['aal', 'string'],
  ['session_id', 'string'],
  ['is_anonymous', 'boolean'],
  ['email', 'string'],
  ['phone', 'string'],
]

function conforms(claims: unknown): claims is Claims {
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) return false
  const record = claims as Record<string, unknown>
  return REQUIRED.every(([name, type]) => {
    const value = record[name]
    if (type === 'string|array') return typeof value === 'string' || (Array.isArray(value) && value.every((v) => typeof v === 'string'))
    return typeof value === type
  })
}

/** The custom access token hook for one issuance, or undefined when none is configured. */
export function customAccessTokenHook(hook: PgFunctionHook | undefined, db: Queryable, userId: string, method: string): ClaimsHook | undefined {
  if (!hook) return undefined
  return async (claims) => {
    const input = { user_id: userId, claims, authentication_method: method }
    // The function name comes from configuration, quoted as identifiers.
    const { rows } = await db.query<{ out: unknown }>(`SELECT ${qualified(hook.schema, hook.name)}($1::jsonb) AS out`, [JSON.stringify(input)])
    const out = rows[0]?.out as { claims?: unknown; error?: { http_code?: unknown; message?: unknown } } | null | undefined
    if (out && typeof out === 'object' && out.error) {
      const status = typeof out.error.http_code === 'number' && out.error.http_code >= 400 && out.error.http_code < 600 ? out.error.http_code : 500
      const message = typeof out.error.message === 'string' && out.error.message ? out.error.message : 'Error running hook URI'
      throw authError(status, 'unexpected_failure', message)
    }
    if (!out || typeof out !== 'object' || !conforms(out.claims)) {
      throw authError(500, 'unexpected_failure', 'output claims do not conform to the expected schema')
    }
    return out.claims
  }
}
