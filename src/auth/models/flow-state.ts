/**
 * `auth.flow_state`: the PKCE half of an email flow. A row is created when a mail goes out with a
 * code challenge, gets its `auth_code` issued when the link is followed, and is deleted when the
 * client exchanges that code with its verifier (`grant_type=pkce`).
 * @module
 */
import type { Queryable } from '../../db/types.ts'
import { newId, type ChallengeMethod } from '../crypto.ts'

/** A flow state as the PKCE grant reads it. */
export interface FlowStateRow {
  id: string
  user_id: string | null
  code_challenge: string
  code_challenge_method: ChallengeMethod
  authentication_method: string
  /** Whether the code was issued (or the row created) more than the lifetime ago. */
  expired: boolean
}

export async function createFlowState(
  tx: Queryable,
  userId: string,
  pkce: { challenge: string; method: ChallengeMethod },
  providerType: string,
  method: string,
): Promise<void> {
  await tx.query(
    `INSERT INTO auth.flow_state (id, user_id, auth_code, code_challenge_method, code_challenge, provider_type,
        provider_access_token, provider_refresh_token, created_at, updated_at, authentication_method)
     VALUES ($1, $2, $3, $4::auth.code_challenge_method, $5, $6, '', '', now(), now(), $7)`,
    [newId(), userId, newId(), pkce.method, pkce.challenge, providerType, method],
  )
}

/** Marks the user's newest flow state's code as issued now and returns it (undefined: no flow state). */
export async function issueLatestAuthCode(tx: Queryable, userId: string): Promise<string | undefined> {
  const { rows } = await tx.query<{ auth_code: string }>(
    `UPDATE auth.flow_state SET auth_code_issued_at = now(), updated_at = now()
      WHERE id = (SELECT id FROM auth.flow_state WHERE user_id = $1 ORDER BY created_at DESC LIMIT 1) RETURNING auth_code`,
    [userId],
  )
  return rows[0]?.auth_code
}

/** The flow state holding `authCode`, locked for the exchange; `expired` judged against `lifetimeSeconds`. */
export async function lockFlowStateByAuthCode(tx: Queryable, authCode: string, lifetimeSeconds: number): Promise<FlowStateRow | undefined> {
  const { rows } = await tx.query<FlowStateRow>(
    `SELECT id, user_id, code_challenge, code_challenge_method::text AS code_challenge_method, authentication_method,
            coalesce(auth_code_issued_at, created_at) + make_interval(secs => $2) < now() AS expired
       FROM auth.flow_state WHERE auth_code = $1 FOR UPDATE`,
    [authCode, lifetimeSeconds],
  )
  return rows[0]
}

export async function deleteFlowState(tx: Queryable, id: string): Promise<void> {
  await tx.query('DELETE FROM auth.flow_state WHERE id = $1', [id])
}
