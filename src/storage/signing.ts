/**
 * Signed URLs: tokens signed with the service's JWT keys, as storage-api's — `url` is
 * `<bucket>/<name>`, `scope` says what the token may do (a download token cannot upload, and an
 * access token, which has no scope, is neither). The verifier checks signature, scope, object and expiry.
 * @module
 */
import type { JwtService } from '../jwt/service.ts'
import { storageErrors } from './errors.ts'

export type SignedScope = 'download' | 'upload'

/** storage-api's lifetime of signed upload URLs: two hours. */
export const UPLOAD_URL_SECONDS = 2 * 60 * 60
/** Longest `expiresIn` accepted: ten years, well inside a JWT's numeric date. */
const MAX_EXPIRES_IN = 10 * 365 * 24 * 3600

export function checkExpiresIn(value: unknown): number {
  if (typeof value === 'string' && /^\d+$/.test(value)) value = Number(value)
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > MAX_EXPIRES_IN) {
    throw storageErrors.invalidParameter('expiresIn', `expiresIn must be a whole number of seconds between 1 and ${MAX_EXPIRES_IN}`)
  }
  return value
}

export interface UploadGrant {
  owner: string | undefined
  upsert: boolean
}

/** What a verified token grants beyond its object: an upload's owner and upsert, a download's image transformations. */
export interface SignedGrant extends UploadGrant {
  /** storage-api's `transformations` claim (`height:200,width:200,resize:cover`); see transform.ts. */
  transformations: string | undefined
  /** The token's `exp`, seconds since the epoch. */
  expiresAt: number
}

/** `extra`: an upload's grant, or a download's `transformations` (and `format`) as storage-api signs them. */
export async function signObjectToken(
  jwt: JwtService,
  scope: SignedScope,
  url: string,
  expiresIn: number,
  extra: Partial<UploadGrant> & { transformations?: string; format?: string } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  const claims =
    scope === 'upload'
      ? { owner: extra.owner, upsert: Boolean(extra.upsert) }
      : { ...(extra.transformations ? { transformations: extra.transformations } : {}), ...(extra.format ? { format: extra.format } : {}) }
  return jwt.sign({ ...claims, url, scope, iat: now, exp: now + expiresIn })
}

/** The token's claims when it grants `scope` on `<bucket>/<name>`; a storage error otherwise. */
export async function verifyObjectToken(jwt: JwtService, token: string | undefined, scope: SignedScope, url: string): Promise<SignedGrant> {
  if (!token) throw storageErrors.missingParameter('token')
  let claims
  try {
    claims = await jwt.verify(token)
  } catch (error) {
    const message = error instanceof Error ? error.message : 'Invalid JWT'
    if (/expired/i.test(message)) throw storageErrors.expiredToken()
    throw storageErrors.invalidJwt(message)
  }
  if (claims.scope !== scope) throw storageErrors.invalidSignature(`Token is not scoped for ${scope}`)
  if (claims.url !== url) throw storageErrors.invalidSignature()
  if (typeof claims.exp !== 'number' || claims.exp * 1000 < Date.now()) throw storageErrors.expiredToken()
  return {
    owner: typeof claims.owner === 'string' ? claims.owner : undefined,
    upsert: claims.upsert === true,
    transformations: typeof claims.transformations === 'string' ? claims.transformations : undefined,
    expiresAt: claims.exp,
  }
}
