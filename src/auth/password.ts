/**
 * Passwords as GoTrue stores them: bcrypt cost 10 with the `$2a$` prefix, so users restored from
 * a Supabase dump sign in with their old password, and our rows read back in GoTrue.
 * @module
 */
import bcrypt from 'bcryptjs'
import { bcryptCompare, bcryptHash } from './bcrypt-pool.ts'
import type { AuthConfig } from '../config/config.ts'
import { authError, validationFailed } from './errors.ts'

/** bcrypt reads at most 72 bytes; GoTrue refuses longer passwords instead of truncating them. */
export const MAX_PASSWORD_BYTES = 72
export const BCRYPT_COST = 10

export async function hashPassword(password: string): Promise<string> {
  // bcryptjs writes `$2b$`; the algorithm is the same for ≤72 bytes, and `$2a$` is what GoTrue writes.
  const salt = (await bcrypt.genSalt(BCRYPT_COST)).replace(/^\$2b\$/, '$2a$')
  return bcryptHash(password, salt)
}

const BCRYPT_HASH = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/

/** Whether `password` matches a stored hash. `''`/NULL (no password) and unknown schemes never match. */
export async function verifyPassword(password: string, stored: string | null | undefined): Promise<boolean> {
  if (!stored || !BCRYPT_HASH.test(stored)) return false
  return bcryptCompare(password, stored.replace(/^\$2y\$/, '$2a$'))
}

/** Whether a hash an admin hands in (`password_hash`) is one we can verify later. */
export function isSupportedHash(hash: string): boolean {
  return BCRYPT_HASH.test(hash)
}

export function checkPasswordLength(password: string): void {
  if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) {
    throw validationFailed(`Password cannot be longer than ${MAX_PASSWORD_BYTES} characters`)
  }
}

export interface WeakPassword {
  message: string
  reasons: string[]
}

/** GoTrue's `checkPasswordStrength`: length in bytes, then one character of each required set. */
export function passwordWeakness(password: string, config: Pick<AuthConfig, 'passwordMinLength' | 'passwordRequiredCharacters'>): WeakPassword | undefined {
  const reasons: string[] = []
  const messages: string[] = []
  if (Buffer.byteLength(password, 'utf8') < config.passwordMinLength) {
    reasons.push('length')
    messages.push(`Password should be at least ${config.passwordMinLength} characters.`)
  }
  const sets = config.passwordRequiredCharacters
  if (sets.some((set) => set !== '' && ![...set].some((ch) => password.includes(ch)))) {
    reasons.push('characters')
    messages.push(`Password should contain at least one character of each: ${sets.join(', ')}.`)
  }
  return reasons.length ? { message: messages.join(' '), reasons } : undefined
}

/** Throws 422 `weak_password` (with its reasons) or 400 for a too-long password. */
export function assertStrongPassword(password: string, config: Pick<AuthConfig, 'passwordMinLength' | 'passwordRequiredCharacters'>): void {
  checkPasswordLength(password)
  const weak = passwordWeakness(password, config)
  if (weak) throw authError(422, 'weak_password', weak.message, { weak_password: { reasons: weak.reasons } })
}
