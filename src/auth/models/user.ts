/**
 * `auth.users` rows, read and written the way GoTrue does: every query filters on the all-zero
 * `instance_id`, token columns hold `''` (never NULL), metadata `{}`, emails lower-case, and the
 * generated `confirmed_at` is never written.
 * @module
 */
import type { Queryable } from '../../db/types.ts'
import { ident } from '../../db/sql.ts'

export const NIL_INSTANCE = '00000000-0000-0000-0000-000000000000'

export interface UserRow {
  id: string
  aud: string | null
  role: string | null
  email: string | null
  encrypted_password: string | null
  email_confirmed_at: string | null
  invited_at: string | null
  confirmation_token: string | null
  confirmation_sent_at: string | null
  recovery_token: string | null
  recovery_sent_at: string | null
  email_change_token_new: string | null
  email_change: string | null
  email_change_sent_at: string | null
  email_change_token_current: string | null
  email_change_confirm_status: number | null
  last_sign_in_at: string | null
  raw_app_meta_data: Record<string, unknown> | null
  raw_user_meta_data: Record<string, unknown> | null
  created_at: string | null
  updated_at: string | null
  phone: string | null
  phone_confirmed_at: string | null
  phone_change: string | null
  phone_change_token: string | null
  phone_change_sent_at: string | null
  confirmed_at: string | null
  banned_until: string | null
  reauthentication_token: string | null
  reauthentication_sent_at: string | null
  is_anonymous: boolean
  deleted_at: string | null
  /** Computed in the query: `banned_until > now()`. */
  banned: boolean
}

/** The columns every user query selects (with `u` as the table alias). */
export const USER_SELECT = `u.id, u.aud, u.role, u.email, u.encrypted_password, u.email_confirmed_at, u.invited_at,
  u.confirmation_token, u.confirmation_sent_at, u.recovery_token, u.recovery_sent_at, u.email_change_token_new,
  u.email_change, u.email_change_sent_at, u.email_change_token_current, u.email_change_confirm_status,
  u.last_sign_in_at, u.raw_app_meta_data, u.raw_user_meta_data, u.created_at, u.updated_at, u.phone,
  u.phone_confirmed_at, u.phone_change, u.phone_change_token, u.phone_change_sent_at, u.confirmed_at,
  u.banned_until, u.reauthentication_token, u.reauthentication_sent_at, u.is_anonymous, u.deleted_at,
  coalesce(u.banned_until > now(), false) AS banned`

export async function findUserById(tx: Queryable, id: string, options: { forUpdate?: boolean } = {}): Promise<UserRow | undefined> {
  const { rows } = await tx.query<UserRow>(
    `SELECT ${USER_SELECT} FROM auth.users u WHERE u.instance_id = $1 AND u.id = $2${options.forUpdate ? ' FOR UPDATE' : ''}`,
    [NIL_INSTANCE, id],
  )
  return rows[0]
}

/** The non-SSO user with this email (stored lower-case). */
export async function findUserByEmail(tx: Queryable, email: string): Promise<UserRow | undefined> {
  const { rows } = await tx.query<UserRow>(
    `SELECT ${USER_SELECT} FROM auth.users u
      WHERE u.instance_id = $1 AND lower(u.email) = lower($2) AND u.is_sso_user = false
      ORDER BY u.created_at LIMIT 1`,
    [NIL_INSTANCE, email],
  )
  return rows[0]
}

export async function findUserByPhone(tx: Queryable, phone: string): Promise<UserRow | undefined> {
  const { rows } = await tx.query<UserRow>(
    `SELECT ${USER_SELECT} FROM auth.users u WHERE u.instance_id = $1 AND u.phone = $2 AND u.is_sso_user = false LIMIT 1`,
    [NIL_INSTANCE, phone],
  )
  return rows[0]
}

/** A user whose token column (`confirmation_token`, …) holds `hash` (with or without `pkce_`). */
export async function findUserByToken(tx: Queryable, column: TokenColumn, hash: string): Promise<UserRow | undefined> {
  const { rows } = await tx.query<UserRow>(
    `SELECT ${USER_SELECT} FROM auth.users u
      WHERE u.instance_id = $1 AND (u.${ident(column)} = $2 OR u.${ident(column)} = 'pkce_' || $2) AND $2 <> ''
      LIMIT 1 FOR UPDATE`,
    [NIL_INSTANCE, hash],
  )
  return rows[0]
}

export type TokenColumn =
  | 'confirmation_token'
  | 'recovery_token'
  | 'email_change_token_new'
  | 'email_change_token_current'
  | 'phone_change_token'
  | 'reauthentication_token'

export interface NewUser {
  id: string
  aud: string
  role: string
  email: string | null
  phone: string | null
  encryptedPassword: string
  emailConfirmed: boolean
  phoneConfirmed?: boolean
  appMetadata: Record<string, unknown>
  userMetadata: Record<string, unknown>
  isAnonymous: boolean
  bannedUntil?: string | null
}

/** Inserts a user row with every token column `''` and metadata objects never NULL. */
export async function insertUser(tx: Queryable, user: NewUser): Promise<UserRow> {
  const { rows } = await tx.query<UserRow>(
    `INSERT INTO auth.users AS u (instance_id, id, aud, role, email, phone, encrypted_password,
        email_confirmed_at, phone_confirmed_at, raw_app_meta_data, raw_user_meta_data, is_anonymous,
        confirmation_token, recovery_token, email_change_token_new, email_change_token_current, email_change,
        phone_change, phone_change_token, reauthentication_token, email_change_confirm_status,
        is_super_admin, is_sso_user, banned_until, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7,
        CASE WHEN $8::boolean THEN now() END, CASE WHEN $9::boolean THEN now() END, $10::jsonb, $11::jsonb, $12,
        '', '', '', '', '', '', '', '', 0, false, false, $13::timestamptz, now(), now())
     RETURNING ${USER_SELECT}`,
    [
      NIL_INSTANCE,
      user.id,
      user.aud,
      user.role,
      user.email,
      user.phone,
      user.encryptedPassword,
      user.emailConfirmed,
      user.phoneConfirmed ?? false,
      JSON.stringify(user.appMetadata),
      JSON.stringify(user.userMetadata),
      user.isAnonymous,
      user.bannedUntil ?? null,
    ],
  )
  return rows[0]!
}

/** Columns handlers may set; a closed list so no request value ever names a column. */
const WRITABLE = new Set([
  'aud',
  'role',
  'email',
  'phone',
  'encrypted_password',
  'email_confirmed_at',
  'phone_confirmed_at',
  'invited_at',
  'confirmation_token',
  'confirmation_sent_at',
  'recovery_token',
  'recovery_sent_at',
  'email_change_token_new',
  'email_change_token_current',
  'email_change',
  'email_change_sent_at',
  'email_change_confirm_status',
  'phone_change',
  'phone_change_token',
  'phone_change_sent_at',
  'reauthentication_token',
  'reauthentication_sent_at',
  'last_sign_in_at',
  'raw_app_meta_data',
  'raw_user_meta_data',
  'is_anonymous',
  'banned_until',
  'deleted_at',
])

/** `NOW` as a value means the database clock. */
export const NOW = Symbol('now')
export type UserPatch = Record<string, unknown | typeof NOW>

/** Updates the given columns (and `updated_at`) and returns the fresh row. */
export async function updateUser(tx: Queryable, id: string, patch: UserPatch): Promise<UserRow> {
  const params: unknown[] = [NIL_INSTANCE, id]
  const sets = ['updated_at = now()']
  for (const [column, value] of Object.entries(patch)) {
    if (!WRITABLE.has(column)) throw new Error(`updateUser: ${column} is not writable`)
    if (value === NOW) {
      sets.push(`${ident(column)} = now()`)
      continue
    }
    const json = column === 'raw_app_meta_data' || column === 'raw_user_meta_data'
    params.push(json ? JSON.stringify(value) : value)
    sets.push(`${ident(column)} = $${params.length}${json ? '::jsonb' : ''}`)
  }
  const { rows } = await tx.query<UserRow>(
    `UPDATE auth.users AS u SET ${sets.join(', ')} WHERE u.instance_id = $1 AND u.id = $2 RETURNING ${USER_SELECT}`,
    params,
  )
  if (!rows[0]) throw new Error('updateUser: user vanished')
  return rows[0]
}

export async function deleteUser(tx: Queryable, id: string): Promise<void> {
  await tx.query('DELETE FROM auth.users WHERE instance_id = $1 AND id = $2', [NIL_INSTANCE, id])
}

/** Whether a phone confirmation (`sms`: an unconfirmed phone) or phone change to `phone` is pending. */
export async function hasPendingPhoneCode(tx: Queryable, type: 'sms' | 'phone_change', phone: string): Promise<boolean> {
  const { rows } = await tx.query(
    type === 'sms'
      ? 'SELECT 1 FROM auth.users WHERE instance_id = $1 AND phone = $2 AND phone_confirmed_at IS NULL LIMIT 1'
      : 'SELECT 1 FROM auth.users WHERE instance_id = $1 AND phone_change = $2 LIMIT 1',
    [NIL_INSTANCE, phone],
  )
  return rows.length > 0
}

/** A `*_sent_at` column dating a one-time token; a closed list so no request value names a column. */
export type SentAtColumn = 'confirmation_sent_at' | 'recovery_sent_at' | 'email_change_sent_at' | 'reauthentication_sent_at'

/** Whether the user's token dated by `column` was sent less than `lifetimeSeconds` ago (never sent: false). */
export async function tokenSentWithin(tx: Queryable, id: string, column: SentAtColumn, lifetimeSeconds: number): Promise<boolean> {
  const { rows } = await tx.query<{ fresh: boolean }>(
    `SELECT coalesce(${ident(column)} + make_interval(secs => $2) > now(), false) AS fresh FROM auth.users WHERE id = $1`,
    [id, lifetimeSeconds],
  )
  return rows[0]?.fresh === true
}

/** The id of the user with an email change pending from or to `email` (stored lower-case). */
export async function findUserIdWithPendingEmailChange(tx: Queryable, email: string): Promise<string | undefined> {
  const { rows } = await tx.query<{ id: string }>(
    `SELECT id FROM auth.users WHERE instance_id = $2 AND (lower(email) = $1 OR lower(email_change) = $1) AND email_change <> '' LIMIT 1`,
    [email, NIL_INSTANCE],
  )
  return rows[0]?.id
}
