/**
 * Supabase's new API keys, which replace the JWT anon/service_role keys: `sb_publishable_…` acts
 * as `anon`, `sb_secret_…` as `service_role`. They are opaque (not JWTs): the gateway knows them
 * and acts on the caller's behalf with the role they stand for. A secret key is refused when a
 * browser sends it (Supabase matches the `User-Agent`), since it bypasses RLS and a browser
 * cannot keep it secret. Keys are compared in constant time.
 * @module
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { appError } from '../errors.ts'
import type { Claims } from './service.ts'

export type OpaqueKeyKind = 'publishable' | 'secret'

export const OPAQUE_KEY_PREFIX: Readonly<Record<OpaqueKeyKind, string>> = { publishable: 'sb_publishable_', secret: 'sb_secret_' }
const ROLE_OF: Readonly<Record<OpaqueKeyKind, 'anon' | 'service_role'>> = { publishable: 'anon', secret: 'service_role' }

/** `sb_<kind>_` + 22 base64url characters + `_` + 8: the shape Supabase's keys have. */
const KEY_BODY = /^[A-Za-z0-9_-]{16,200}$/

export interface OpaqueKeys {
  publishable: readonly string[]
  secret: readonly string[]
}

/** Which kind of new key `token` claims to be, by its prefix; undefined for anything else (a JWT). */
export function opaqueKeyKind(token: string | undefined): OpaqueKeyKind | undefined {
  if (!token) return undefined
  if (token.startsWith(OPAQUE_KEY_PREFIX.publishable)) return 'publishable'
  if (token.startsWith(OPAQUE_KEY_PREFIX.secret)) return 'secret'
  return undefined
}

/** Whether `key` is well formed for `kind` (used to check configured keys). */
export function isWellFormedKey(kind: OpaqueKeyKind, key: string): boolean {
  return key.startsWith(OPAQUE_KEY_PREFIX[kind]) && KEY_BODY.test(key.slice(OPAQUE_KEY_PREFIX[kind].length))
}

/** A new random key: 16 random bytes and a short checksum of them, as Supabase's keys look. */
export function generateOpaqueKey(kind: OpaqueKeyKind): string {
  const random = randomBytes(16).toString('base64url')
  const checksum = createHash('sha256').update(random).digest('base64url').slice(0, 8)
  return `${OPAQUE_KEY_PREFIX[kind]}${random}_${checksum}`
}

/** Browsers all send a `User-Agent` starting `Mozilla/`; servers and SDK runtimes do not. */
export function isBrowserUserAgent(userAgent: string | undefined): boolean {
  return /^Mozilla\//i.test(userAgent ?? '')
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest()
}

/** Constant time in the key's content: every configured key is compared, digests of equal length. */
function matchesAny(candidate: string, keys: readonly string[]): boolean {
  const wanted = digest(candidate)
  let found = false
  for (const key of keys) found = timingSafeEqual(wanted, digest(key)) || found
  return found
}

/**
 * The claims an opaque key stands for (as the JWT the gateway would mint: `iss`, `role`), or
 * undefined when `token` is not an `sb_…` key. Throws 401 for an unknown key and for a secret
 * key from a browser.
 */
export function opaqueKeyClaims(keys: OpaqueKeys, token: string | undefined, userAgent: string | undefined): Claims | undefined {
  const kind = opaqueKeyKind(token)
  if (!kind) return undefined
  if (!matchesAny(token!, keys[kind])) throw appError('invalid_api_key', 'Invalid API key')
  if (kind === 'secret' && isBrowserUserAgent(userAgent)) {
    throw appError('invalid_api_key', 'Forbidden use of secret API key in browser', { hint: 'Secret keys are for servers; a browser uses the publishable key.' })
  }
  return { iss: 'supabase', role: ROLE_OF[kind] }
}
