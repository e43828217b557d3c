/**
 * Refresh-token rotation (GoTrue's v1 algorithm, auth-api.md §5.1). All refreshes of one session
 * serialise on its row (`FOR UPDATE SKIP LOCKED`, retried for up to 5 s, then 409), so two
 * concurrent refreshes of one token never fork the session: the second one finds the token
 * revoked and the parent of the active one, and gets the active one back — but only inside
 * `AUTH_REFRESH_TOKEN_REUSE_INTERVAL`; any revoked token presented later revokes the session's
 * whole family (stricter than GoTrue, which hands the active token to its parent at any age).
 * @module
 */
import { queryNamed } from '../db/named.ts'
import type { Database, Queryable } from '../db/types.ts'
import { newRefreshToken } from './crypto.ts'
import { auditPayload } from './models/audit.ts'
import type { IdentityRow } from './models/identity.ts'
import type { AmrEntry } from './models/session.ts'
import { NIL_INSTANCE, USER_SELECT, type UserRow } from './models/user.ts'
import { authError, badRequest, type AuthError } from './errors.ts'
import { unixSeconds } from './time.ts'

export interface RefreshInput {
  token: string
  reuseIntervalSeconds: number
  ip: string
  userAgent: string
}

export interface Refreshed {
  user: UserRow
  identities: IdentityRow[]
  sessionId: string
  aal: string | null
  amr: AmrEntry[]
  refreshToken: string
}

type Attempt = { kind: 'ok'; value: Refreshed } | { kind: 'locked' } | { kind: 'failed'; error: AuthError }

const LOCK_WAIT_MS = 5000

/** The presented token with its (locked) session, user and identities: one round trip. */
export interface Locked extends UserRow {
  s_id: string
  s_aal: string | null
  s_expired: boolean
  rt_id: string
  rt_revoked: boolean
  rt_reusable: boolean
  identities_json: IdentityRow[]
}

/**
 * Tokens are looked up by `token` alone (unique, as GoTrue does): with `instance_id` in the
 * condition too, a plan cached while the table was small may pick the (instance_id, user_id)
 * index — every row shares the instance — and scan all tokens once the table has grown.
 *
 * Locks the token's session and token rows (`SKIP LOCKED`: a concurrent refresh of the same
 * session makes us retry, never wait). Under READ COMMITTED the locked rows are re-read at
 * their newest version, so `revoked` is never stale.
 */
async function lockToken(tx: Queryable, input: RefreshInput): Promise<{ kind: 'locked'; row: Locked } | { kind: 'busy' } | { kind: 'failed'; error: AuthError }> {
  const { rows } = await tx.query<Locked>(
    `SELECT s.id AS s_id, s.aal::text AS s_aal, coalesce(s.not_after <= now(), false) AS s_expired,
            rt.id AS rt_id, coalesce(rt.revoked, false) AS rt_revoked, rt.updated_at + make_interval(secs => $2) > now() AS rt_reusable,
            ${USER_SELECT},
            (SELECT coalesce(json_agg(i ORDER BY i.created_at, i.id), '[]') FROM auth.identities i WHERE i.user_id = u.id) AS identities_json
       FROM auth.refresh_tokens rt
       JOIN auth.sessions s ON s.id = rt.session_id
       JOIN auth.users u ON u.id = s.user_id
      WHERE rt.token = $1
      FOR UPDATE OF s, rt SKIP LOCKED`,
    [input.token, input.reuseIntervalSeconds],
  )
  if (rows[0]) return { kind: 'locked', row: rows[0] }
  // Either the token or its session does not exist, or another refresh holds them.
  const probe = await tx.query<{ has_session: boolean }>(
    `SELECT rt.session_id IS NOT NULL AND EXISTS (SELECT 1 FROM auth.sessions s WHERE s.id = rt.session_id) AS has_session
       FROM auth.refresh_tokens rt WHERE rt.token = $1`,
    [input.token],
  )
  if (!probe.rows[0]) return { kind: 'failed', error: badRequest('refresh_token_not_found', 'Invalid Refresh Token: Refresh Token Not Found') }
  if (probe.rows[0].has_session) return { kind: 'busy' }
  return { kind: 'failed', error: badRequest('session_not_found', 'Invalid Refresh Token: No Valid Session Found') }
}

/** Revokes `parentId`, inserts its child, touches the session, writes the audit rows; returns the amr. */
async function rotate(tx: Queryable, input: RefreshInput, user: UserRow, sessionId: string, parent: { id: string; token: string }): Promise<{ token: string; amr: AmrEntry[] }> {
  const child = newRefreshToken()
  const audit = (action: 'token_revoked' | 'token_refreshed') =>
    auditPayload({ action, actorId: user.id, actorUsername: user.email ?? user.phone ?? '', ip: input.ip })
  const { rows } = await tx.query<{ authentication_method: string; updated_at: string }>(
    `WITH revoked AS (
       UPDATE auth.refresh_tokens SET revoked = true, updated_at = now() WHERE id = $1 AND revoked = false RETURNING id
     ), child AS (
       INSERT INTO auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, parent, session_id)
       VALUES ($2, $3, $4, false, now(), now(), $5, $6) RETURNING id
     ), touched AS (
       UPDATE auth.sessions SET refreshed_at = timezone('UTC', now()), updated_at = now(), user_agent = $7, ip = $8::inet
        WHERE id = $6 RETURNING id
     ), audited AS (
       INSERT INTO auth.audit_log_entries (instance_id, id, payload, created_at, ip_address)
       VALUES ($2, gen_random_uuid(), $9::json, now(), $11), ($2, gen_random_uuid(), $10::json, now(), $11) RETURNING id
     )
     SELECT authentication_method, updated_at FROM auth.mfa_amr_claims WHERE session_id = $6 ORDER BY updated_at DESC`,
    [parent.id, NIL_INSTANCE, child, user.id, parent.token, sessionId, input.userAgent || null, input.ip || null, audit('token_revoked'), audit('token_refreshed'), input.ip.slice(0, 64)],
  )
  return { token: child, amr: rows.map((r) => ({ method: r.authentication_method, timestamp: unixSeconds(r.updated_at) })) }
}

async function attempt(tx: Queryable, input: RefreshInput): Promise<Attempt> {
  const locked = await lockToken(tx, input)
  if (locked.kind === 'busy') return { kind: 'locked' }
  if (locked.kind === 'failed') return locked
  const row = locked.row
  const session = { id: row.s_id, aal: row.s_aal }
  const { s_id: _s, s_aal: _a, s_expired: expired, rt_id: _r, rt_revoked: _v, rt_reusable: _u, identities_json: identities, ...user } = row
  if (user.banned) return { kind: 'failed', error: badRequest('user_banned', 'Invalid Refresh Token: User Banned') }
  if (user.deleted_at) return { kind: 'failed', error: badRequest('session_not_found', 'Invalid Refresh Token: No Valid Session Found') }
  if (expired) return { kind: 'failed', error: badRequest('session_expired', 'Invalid Refresh Token: Session Expired') }

  if (row.rt_revoked) {
    if (!row.rt_reusable) {
      // Reuse outside the interval, even of the active token's parent: treat the session as
      // stolen and revoke its whole family (a thief holding an old token must not get the
      // current one). The caller commits this before reporting the error.
      await tx.query('UPDATE auth.refresh_tokens SET revoked = true, updated_at = now() WHERE session_id = $1 AND revoked = false', [session.id])
      return { kind: 'failed', error: badRequest('refresh_token_already_used', 'Invalid Refresh Token: Already Used') }
    }
    const active = await tx.query<{ token: string; parent: string | null }>(
      'SELECT token, parent FROM auth.refresh_tokens WHERE session_id = $1 AND revoked = false ORDER BY id DESC',
      [session.id],
    )
    // Rotation always leaves one active token: none means the family was revoked, and no token
    // of it, however recent, may bring the session back.
    if (active.rows.length === 0) return { kind: 'failed', error: badRequest('refresh_token_already_used', 'Invalid Refresh Token: Already Used') }
    const child = active.rows.find((r) => r.parent === input.token)
    if (child) {
      // The client lost the response of its last refresh: give it the token it missed.
      const amr = await tx.query<{ authentication_method: string; updated_at: string }>(
        'SELECT authentication_method, updated_at FROM auth.mfa_amr_claims WHERE session_id = $1 ORDER BY updated_at DESC',
        [session.id],
      )
      return {
        kind: 'ok',
        value: {
          user,
          identities,
          sessionId: session.id,
          aal: session.aal,
          amr: amr.rows.map((r) => ({ method: r.authentication_method, timestamp: unixSeconds(r.updated_at) })),
          refreshToken: child.token,
        },
      }
    }
  }
  const rotated = await rotate(tx, input, user, session.id, { id: row.rt_id, token: input.token })
  return { kind: 'ok', value: { user, identities, sessionId: session.id, aal: session.aal, amr: rotated.amr, refreshToken: rotated.token } }
}

const auditJson = (actionParam: string) =>
  `json_build_object('actor_id', ok.id, 'actor_username', coalesce(ok.email, ok.phone, ''), 'actor_via_sso', false, 'action', ${actionParam}::text, 'log_type', 'token')`

/**
 * The common case in one autocommitted statement: an active token of a live session of a
 * usable user is revoked and replaced, the session touched and the audit rows written, all
 * under the same row locks as the full path. Anything else (revoked token, busy or missing
 * session, ban, expiry) returns no new_token and takes the full path, which decides the answer.
 * Exported with its parameters for bench/auth-refresh-floor.ts, which runs it over bare `pg`.
 */
export const ROTATE_ACTIVE = {
  name: 'resolution_auth_refresh_rotate',
  sql: `WITH cur AS (
       SELECT s.id AS s_id, s.aal::text AS s_aal, coalesce(s.not_after <= now(), false) AS s_expired,
              rt.id AS rt_id, coalesce(rt.revoked, false) AS rt_revoked, false AS rt_reusable, ${USER_SELECT},
              (SELECT coalesce(json_agg(i ORDER BY i.created_at, i.id), '[]') FROM auth.identities i WHERE i.user_id = u.id) AS identities_json
         FROM auth.refresh_tokens rt
         JOIN auth.sessions s ON s.id = rt.session_id
         JOIN auth.users u ON u.id = s.user_id
        WHERE rt.token = $2
        FOR UPDATE OF s, rt SKIP LOCKED
     ), ok AS (
       SELECT * FROM cur WHERE NOT rt_revoked AND NOT s_expired AND NOT banned AND deleted_at IS NULL
     ), revoked AS (
       UPDATE auth.refresh_tokens t SET revoked = true, updated_at = now() FROM ok WHERE t.id = ok.rt_id RETURNING t.id
     ), child AS (
       INSERT INTO auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at, parent, session_id)
       SELECT $1, $3, ok.id::text, false, now(), now(), $2, ok.s_id FROM ok RETURNING token
     ), touched AS (
       UPDATE auth.sessions x SET refreshed_at = timezone('UTC', now()), updated_at = now(), user_agent = $4, ip = $5::inet
         FROM ok WHERE x.id = ok.s_id RETURNING x.id
     ), audited AS (
       INSERT INTO auth.audit_log_entries (instance_id, id, payload, created_at, ip_address)
       SELECT $1, gen_random_uuid(), p.payload, now(), $6
         FROM ok CROSS JOIN LATERAL (VALUES (${auditJson('$7')}), (${auditJson('$8')})) AS p(payload)
       RETURNING id
     )
     SELECT cur.*, (SELECT token FROM child) AS new_token,
            (SELECT coalesce(json_agg(json_build_object('method', m.authentication_method, 'timestamp', floor(extract(epoch FROM m.updated_at))::bigint)
                     ORDER BY m.updated_at DESC), '[]')
               FROM auth.mfa_amr_claims m WHERE m.session_id = cur.s_id) AS amr_json
       FROM cur`,
  params: (input: RefreshInput): unknown[] => [NIL_INSTANCE, input.token, newRefreshToken(), input.userAgent || null, input.ip || null, input.ip.slice(0, 64), 'token_revoked', 'token_refreshed'],
}

export interface RotatedRow extends Locked {
  new_token: string | null
  amr_json: AmrEntry[]
}

/** The fast path's answer, or undefined when the full path must decide. */
export function rotatedActive(row: RotatedRow | undefined): Refreshed | undefined {
  if (!row?.new_token) return undefined
  const { s_id: sessionId, s_aal: aal, s_expired: _e, rt_id: _r, rt_revoked: _v, rt_reusable: _u, identities_json: identities, new_token, amr_json: amr, ...user } = row
  return { user, identities, sessionId, aal, amr, refreshToken: new_token }
}

async function rotateActive(database: Database, input: RefreshInput): Promise<Refreshed | undefined> {
  const { rows } = await queryNamed<RotatedRow>(database, ROTATE_ACTIVE.name, ROTATE_ACTIVE.sql, ROTATE_ACTIVE.params(input))
  return rotatedActive(rows[0])
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Runs the grant; errors that must persist their writes (family revocation) commit first. */
export async function refreshSession(database: Database, input: RefreshInput): Promise<Refreshed> {
  // v1 tokens are 12 base32 characters; older GoTrue versions issued longer ones, still accepted.
  if (!/^[A-Za-z0-9_-]{12,255}$/.test(input.token)) throw authError(400, 'validation_failed', 'Refresh token is not valid')
  const fast = await rotateActive(database, input)
  if (fast) return fast
  const started = Date.now()
  for (;;) {
    const result = await database.transaction((tx) => attempt(tx, input))
    if (result.kind === 'ok') return result.value
    if (result.kind === 'failed') throw result.error
    if (Date.now() - started > LOCK_WAIT_MS) {
      throw authError(409, 'conflict', 'Too many concurrent token refresh requests on the same session or refresh token')
    }
    await sleep(10 + Math.floor(Math.random() * 20))
  }
}
