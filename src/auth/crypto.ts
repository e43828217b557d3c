/**
 * Random values and hashes with the exact formats GoTrue stores, so rows stay interchangeable:
 * refresh tokens, OTPs, the SHA-224 token hash, PKCE challenges.
 * @module
 */
import { createHash, randomBytes, randomInt, randomUUID } from 'node:crypto'

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567'

/** A v1 refresh token: 12 random lower-case base32 characters (`[a-z2-7]{12}`). */
export function newRefreshToken(): string {
  const bytes = randomBytes(12)
  let out = ''
  for (const byte of bytes) out += BASE32[byte & 31]
  return out
}

/** The shape GoTrue accepts before looking a refresh token up. */
export const REFRESH_TOKEN_PATTERN = /^[a-z0-9]{12}$/

/** A numeric OTP of `length` digits (leading zeros kept). */
export function newOtp(length: number): string {
  let out = ''
  for (let i = 0; i < length; i++) out += String(randomInt(10))
  return out
}

/** `hex(SHA-224(emailOrPhone + otp))`: what `users.*_token` and `one_time_tokens.token_hash` hold. */
export function tokenHash(emailOrPhone: string, otp: string): string {
  return createHash('sha224').update(emailOrPhone + otp).digest('hex')
}

export function sha256Base64Url(value: string): string {
  return createHash('sha256').update(value).digest('base64url')
}

export const newId = (): string => randomUUID()

/** A throwaway password for users created without one (OTP sign-up, admin create). */
export function randomPassword(): string {
  return randomBytes(48).toString('base64url').slice(0, 64)
}

export type ChallengeMethod = 's256' | 'plain'

const VERIFIER_PATTERN = /^[a-zA-Z0-9._~-]{43,128}$/

/** Whether a PKCE verifier matches the stored challenge. */
export function verifierMatches(verifier: string, challenge: string, method: ChallengeMethod): boolean {
  if (!VERIFIER_PATTERN.test(verifier)) return false
  return method === 's256' ? sha256Base64Url(verifier) === challenge : verifier === challenge
}

export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
