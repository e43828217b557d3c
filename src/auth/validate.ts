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

// C0 controls, DEL and whitespace: `new URL()` silently drops tab/CR/LF, so a string holding them
// could pass the checks below while the raw value (header injection) is what got used.
const UNSAFE_IN_URL = /[\u0000-\u0020\u007f]/

/**
 * The redirect to use: the parsed, normalised `requested` if it is allowed, else the site URL
 * (as GoTrue does for a disallowed redirect, so clients still land somewhere sensible). A value
 * with control characters or spaces is never allowed. Only the parsed URL is checked and
 * returned, never the raw string.
 */
export function redirectTarget(config: AuthConfig, siteUrl: string, requested: string | undefined): string {
  if (!requested || UNSAFE_IN_URL.test(requested)) return siteUrl
  let url: URL
  try {
    url = new URL(requested)
  } catch {
    return siteUrl
  }
  const href = url.href
  if (url.origin !== 'null' && url.origin === new URL(siteUrl).origin) return href
  if (config.redirectUrls.some((allowed) => href === allowed || (allowed.endsWith('*') ? href.startsWith(allowed.slice(0, -1)) : href.startsWith(allowed.replace(/\/?$/, '/'))))) {
    return href
  }
  return siteUrl
}
