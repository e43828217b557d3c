/**
 * The SQL of the admin user endpoints that no other flow shares: the filtered, paged user list,
 * bans, GoTrue's soft delete and the audit log page. Written the way GoTrue writes them.
 * @module
 */
import type { Queryable } from '../../db/types.ts'
import { sha256Base64Url } from '../crypto.ts'
import { deleteSessions } from './session.ts'
import { NIL_INSTANCE, USER_SELECT, type UserRow } from './user.ts'

// `filter` matches email or full name, case-insensitively, anywhere ('' = every user).
const LIST_WHERE = `u.instance_id = $1 AND ($2 = '' OR u.email ILIKE '%' || $2 || '%' OR u.raw_user_meta_data->>'full_name' ILIKE '%' || $2 || '%')`

/** The users matching `filter`, one page, by creation time; and how many match in all. */
export async function listUsersPage(tx: Queryable, page: { filter: string; direction: 'ASC' | 'DESC'; limit: number; offset: number }): Promise<{ users: UserRow[]; total: number }> {
  const count = await tx.query<{ n: string }>(`SELECT count(*)::text AS n FROM auth.users u WHERE ${LIST_WHERE}`, [NIL_INSTANCE, page.filter])
  // `direction` is typed to the two constants.
  const rows = await tx.query<UserRow>(
    `SELECT ${USER_SELECT} FROM auth.users u WHERE ${LIST_WHERE} ORDER BY u.created_at ${page.direction}, u.id ${page.direction} LIMIT $3 OFFSET $4`,
    [NIL_INSTANCE, page.filter, page.limit, page.offset],
  )
  return { users: rows.rows, total: Number(count.rows[0]!.n) }
}

/** Bans the user for `seconds` from now, or lifts the ban (null). */
export async function setBan(tx: Queryable, userId: string, seconds: number | null): Promise<UserRow> {
  const { rows } = await tx.query<UserRow>(
    `UPDATE auth.users AS u SET banned_until = CASE WHEN $2::float8 IS NULL THEN NULL ELSE now() + make_interval(secs => $2::float8) END, updated_at = now()
      WHERE u.id = $1 RETURNING ${USER_SELECT}`,
    [userId, seconds],
  )
  return rows[0]!
}

/** GoTrue's soft delete: obfuscated addresses, no password or tokens, no sessions, emptied metadata. */
export async function softDeleteUser(tx: Queryable, user: UserRow): Promise<void> {
  const obfuscate = (value: string | null, max?: number) => {
    if (!value) return value
    const hashed = sha256Base64Url(user.id + value)
    return max ? hashed.slice(0, max) : hashed
  }
  await deleteSessions(tx, user.id, 'global')
  await tx.query('DELETE FROM auth.mfa_factors WHERE user_id = $1', [user.id])
  await tx.query('DELETE FROM auth.one_time_tokens WHERE user_id = $1', [user.id])
  await tx.query(
    `UPDATE auth.identities SET identity_data = '{}'::jsonb, provider_id = encode(sha256(convert_to(user_id::text || provider_id, 'UTF8')), 'base64'), updated_at = now()
      WHERE user_id = $1`,
    [user.id],
  )
  await tx.query(
    `UPDATE auth.users SET email = $2, email_change = coalesce($3, ''), phone = $4, phone_change = coalesce($5, ''), encrypted_password = NULL,
        confirmation_token = '', recovery_token = '', email_change_token_new = '', email_change_token_current = '',
        phone_change_token = '', reauthentication_token = '', raw_app_meta_data = '{}'::jsonb, raw_user_meta_data = '{}'::jsonb,
        deleted_at = now(), updated_at = now()
      WHERE id = $1`,
    [user.id, obfuscate(user.email), obfuscate(user.email_change || null), obfuscate(user.phone, 15), obfuscate(user.phone_change || null, 15)],
  )
}

export interface AuditEntry {
  id: string
  payload: unknown
  created_at: string
  ip_address: string
}

/** One page of the audit log, newest first. */
export async function listAuditEntries(tx: Queryable, limit: number, offset: number): Promise<AuditEntry[]> {
  const { rows } = await tx.query<AuditEntry>(
    'SELECT id, payload, created_at, ip_address FROM auth.audit_log_entries WHERE instance_id = $1 ORDER BY created_at DESC, id LIMIT $2 OFFSET $3',
    [NIL_INSTANCE, limit, offset],
  )
  return rows
}
