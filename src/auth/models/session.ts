/**
 * `auth.sessions`, `auth.mfa_amr_claims` and the first refresh token of a session. A sign-in is
 * one statement: session (aal1), one amr row, the first token (`parent` NULL, `user_id` as
 * text) and the user's `last_sign_in_at`.
 * @module
 */
import type { Queryable } from '../../db/types.ts'
import { newId, newRefreshToken } from '../crypto.ts'
import { unixSeconds } from '../time.ts'
import { NIL_INSTANCE, USER_SELECT, type UserRow } from './user.ts'

export type AuthMethod = 'password' | 'passkey' | 'otp' | 'magiclink' | 'email/signup' | 'recovery' | 'invite' | 'email_change' | 'anonymous' | 'token_refresh'

export interface AmrEntry {
  method: string
  timestamp: number
}

export interface NewSession {
  sessionId: string
  refreshToken: string
  user: UserRow
}

export async function createSession(
  tx: Queryable,
  input: { userId: string; method: AuthMethod; ip: string; userAgent: string },
): Promise<NewSession> {
  const sessionId = newId()
  const refreshToken = newRefreshToken()
  const { rows } = await tx.query<UserRow>(
    `WITH s AS (
       INSERT INTO auth.sessions (id, user_id, created_at, updated_at, aal, user_agent, ip)
       VALUES ($1, $2, now(), now(), 'aal1', $3, $4::inet) RETURNING id
     ), a AS (
       INSERT INTO auth.mfa_amr_claims (id, session_id, created_at, updated_at, authentication_method)
       SELECT gen_random_uuid(), s.id, now(), now(), $5 FROM s
     ), r AS (
       INSERT INTO auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, parent, session_id)
       SELECT $6, $7, $2::text, false, now(), now(), NULL, s.id FROM s
     )
     UPDATE auth.users AS u SET last_sign_in_at = now() WHERE u.instance_id = $6 AND u.id = $2 RETURNING ${USER_SELECT}`,
    [sessionId, input.userId, input.userAgent || null, input.ip || null, input.method, NIL_INSTANCE, refreshToken],
  )
  if (!rows[0]) throw new Error('createSession: user vanished')
  return { sessionId, refreshToken, user: rows[0] }
}

/** The session's amr claims, newest first (as GoTrue sorts them). */
export async function sessionAmr(tx: Queryable, sessionId: string): Promise<AmrEntry[]> {
  const { rows } = await tx.query<{ authentication_method: string; updated_at: string }>(
    'SELECT authentication_method, updated_at FROM auth.mfa_amr_claims WHERE session_id = $1 ORDER BY updated_at DESC',
    [sessionId],
  )
  return rows.map((r) => ({ method: r.authentication_method, timestamp: unixSeconds(r.updated_at) }))
}

export interface SessionRow {
  id: string
  user_id: string
  aal: string | null
  not_after: string | null
  expired: boolean
}

export async function findSession(tx: Queryable, id: string): Promise<SessionRow | undefined> {
  const { rows } = await tx.query<SessionRow>(
    'SELECT id, user_id, aal, not_after, coalesce(not_after <= now(), false) AS expired FROM auth.sessions WHERE id = $1',
    [id],
  )
  return rows[0]
}

/** Deletes sessions (their refresh tokens and amr rows go by cascade). */
export async function deleteSessions(tx: Queryable, userId: string, scope: 'global' | 'local' | 'others', sessionId?: string): Promise<number> {
  if (scope === 'global' || !sessionId) {
    const r = await tx.query('DELETE FROM auth.sessions WHERE user_id = $1', [userId])
    return r.rowCount
  }
  const op = scope === 'local' ? '=' : '<>'
  const r = await tx.query(`DELETE FROM auth.sessions WHERE user_id = $1 AND id ${op} $2`, [userId, sessionId])
  return r.rowCount
}

/** The session's live refresh token is revoked and succeeded by a new one (GoTrue's swap, after MFA). */
export async function swapRefreshToken(tx: Queryable, userId: string, sessionId: string): Promise<string> {
  const token = newRefreshToken()
  await tx.query(
    `WITH old AS (
       UPDATE auth.refresh_tokens SET revoked = true, updated_at = now() WHERE session_id = $1 AND NOT revoked RETURNING token, id
     )
     INSERT INTO auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, parent, session_id)
     VALUES ($2, $3, $4::text, false, now(), now(), (SELECT token FROM old ORDER BY id DESC LIMIT 1), $1)`,
    [sessionId, NIL_INSTANCE, token, userId],
  )
  return token
}
