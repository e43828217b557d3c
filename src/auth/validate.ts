/**
 * Input rules shared by the endpoints: email and phone formats, and `redirect_to` (only the
 * site's origin or the configured allow-list, otherwise the site URL — never an open redirect).
 * @module
 */
import type { AuthConfig } from '../config/config.ts'
import { authError, validationFailed } from './errors.ts'

// The practical subset GoTrue's checker accepts: local@domain.tld, no spaces, one @.
const EMAIL = /^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)+$/

/** Trims and lower-cases a valid email; throws GoTrue's messages otherwise. */
export function validateEmail(raw: string | undefined): string {
  const email = (raw ?? '').trim()
  if (email === '') throw validationFailed('An email address is required')
  if (email.length > 255) throw validationFailed('An email address is too long')
  if (!EMAIL.test(email)) throw authError(400, 'validation_failed', 'Unable to validate email address: invalid format')
  return email.toLowerCase()
}

/** E.164 without the `+`, as stored in `auth.users.phone`. */
export function validatePhone(raw: string | undefined): string {
  const phone = (raw ?? '').replace(/[\s()-]/g, '').replace(/^\+/, '')
  if (!/^[1-9][0-9]{1,14}$/.test(phone)) throw validationFailed('Invalid phone number format (E.164 required)')
  return phone
}

/** The redirect to use: `requested` if allowed, else the site URL. */
export function redirectTarget(config: AuthConfig, siteUrl: string, requested: string | undefined): string {
  if (!requested) return siteUrl
  let url: URL
  try {
    url = new URL(requested)
  } catch {
    return siteUrl
  }
  if (url.origin === new URL(siteUrl).origin) return requested
  if (config.redirectUrls.some((allowed) => requested === allowed || (allowed.endsWith('*') ? requested.startsWith(allowed.slice(0, -1)) : requested.startsWith(allowed.replace(/\/?$/, '/'))))) {
    return requested
  }
  return siteUrl
}
