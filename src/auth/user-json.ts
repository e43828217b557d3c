/**
 * The User object as GoTrue marshals it: optional timestamps omitted when NULL, `email`/`phone`
 * as `""` when NULL, no password or token columns, identities with their swapped id names.
 * @module
 */
import type { FactorRow } from './models/factor.ts'
import type { IdentityRow } from './models/identity.ts'
import type { UserRow } from './models/user.ts'
import { rfc3339 } from './time.ts'

export type UserJson = Record<string, unknown>

function identityJson(row: IdentityRow): Record<string, unknown> {
  const out: Record<string, unknown> = {
    identity_id: row.id,
    id: row.provider_id,
    user_id: row.user_id,
    identity_data: row.identity_data ?? {},
    provider: row.provider,
    last_sign_in_at: rfc3339(row.last_sign_in_at),
    created_at: rfc3339(row.created_at),
    updated_at: rfc3339(row.updated_at),
  }
  if (row.email) out.email = row.email
  return out
}

/** A factor as GoTrue marshals it (never its secret). */
export function factorJson(row: FactorRow): Record<string, unknown> {
  const out: Record<string, unknown> = { id: row.id }
  if (row.friendly_name) out.friendly_name = row.friendly_name
  out.factor_type = row.factor_type
  out.status = row.status
  out.created_at = rfc3339(row.created_at)
  out.updated_at = rfc3339(row.updated_at)
  if (row.last_challenged_at) out.last_challenged_at = rfc3339(row.last_challenged_at)
  if (row.phone) out.phone = row.phone
  return out
}

export function userJson(user: UserRow, identities: readonly IdentityRow[], factors: readonly FactorRow[] = []): UserJson {
  const out: UserJson = {
    id: user.id,
    aud: user.aud ?? '',
    role: user.role ?? '',
    email: user.email ?? '',
  }
  const optional = (name: string, value: unknown) => {
    if (value !== undefined && value !== null && value !== '') out[name] = value
  }
  optional('email_confirmed_at', rfc3339(user.email_confirmed_at))
  optional('invited_at', rfc3339(user.invited_at))
  out.phone = user.phone ?? ''
  optional('phone_confirmed_at', rfc3339(user.phone_confirmed_at))
  optional('confirmation_sent_at', rfc3339(user.confirmation_sent_at))
  optional('confirmed_at', rfc3339(user.confirmed_at))
  optional('recovery_sent_at', rfc3339(user.recovery_sent_at))
  optional('new_email', user.email_change)
  optional('email_change_sent_at', rfc3339(user.email_change_sent_at))
  optional('new_phone', user.phone_change)
  optional('phone_change_sent_at', rfc3339(user.phone_change_sent_at))
  optional('reauthentication_sent_at', rfc3339(user.reauthentication_sent_at))
  optional('last_sign_in_at', rfc3339(user.last_sign_in_at))
  out.app_metadata = user.raw_app_meta_data ?? {}
  out.user_metadata = user.raw_user_meta_data ?? {}
  out.identities = identities.filter((i) => i.user_id === user.id).map(identityJson)
  // Omitted when empty, as GoTrue does; the client reads verified ones for the next AAL.
  const own = factors.filter((f) => f.user_id === user.id)
  if (own.length > 0) out.factors = own.map(factorJson)
  out.created_at = rfc3339(user.created_at)
  out.updated_at = rfc3339(user.updated_at)
  optional('banned_until', rfc3339(user.banned_until))
  optional('deleted_at', rfc3339(user.deleted_at))
  out.is_anonymous = user.is_anonymous === true
  return out
}
