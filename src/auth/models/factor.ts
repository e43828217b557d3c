/**
 * `auth.mfa_factors`, `auth.mfa_challenges` and the session's step up to aal2, written as GoTrue
 * writes them (so factors survive a dump and restore in either direction).
 * @module
 */
import type { Queryable } from '../../db/types.ts'
import { newId } from '../crypto.ts'

export interface FactorRow {
  id: string
  user_id: string
  friendly_name: string | null
  factor_type: string
  status: 'unverified' | 'verified'
  created_at: string
  updated_at: string
  secret: string | null
  phone: string | null
  last_challenged_at: string | null
  /** go-webauthn's Credential JSON, for WebAuthn factors once verified. */
  web_authn_credential: WebAuthnFactorCredential | null
}

/** The members of go-webauthn's `Credential` JSON this service reads and writes (bytes in std base64). */
export interface WebAuthnFactorCredential {
  id: string
  publicKey: string
  attestationType: string
  transport: string[]
  flags: { userPresent: boolean; userVerified: boolean; backupEligible: boolean; backupState: boolean }
  authenticator: { AAGUID: string; signCount: number; cloneWarning: boolean }
}

const FACTOR_SELECT = `id, user_id, friendly_name, factor_type::text AS factor_type, status::text AS status, created_at, updated_at, secret, phone,
  last_challenged_at, web_authn_credential`

export async function listFactors(tx: Queryable, userIds: readonly string[]): Promise<FactorRow[]> {
  if (userIds.length === 0) return []
  const { rows } = await tx.query<FactorRow>(`SELECT ${FACTOR_SELECT} FROM auth.mfa_factors WHERE user_id = ANY($1::uuid[]) ORDER BY created_at`, [userIds])
  return rows
}

export async function hasVerifiedFactor(tx: Queryable, userId: string): Promise<boolean> {
  const { rows } = await tx.query("SELECT 1 FROM auth.mfa_factors WHERE user_id = $1 AND status = 'verified' LIMIT 1", [userId])
  return rows.length > 0
}

export async function findFactor(tx: Queryable, userId: string, factorId: string): Promise<FactorRow | undefined> {
  const { rows } = await tx.query<FactorRow>(`SELECT ${FACTOR_SELECT} FROM auth.mfa_factors WHERE id = $1 AND user_id = $2`, [factorId, userId])
  return rows[0]
}

export async function insertTotpFactor(tx: Queryable, input: { userId: string; friendlyName: string; secret: string }): Promise<FactorRow> {
  const { rows } = await tx.query<FactorRow>(
    `INSERT INTO auth.mfa_factors (id, user_id, friendly_name, factor_type, status, created_at, updated_at, secret)
     VALUES ($1, $2, $3, 'totp', 'unverified', now(), now(), $4) RETURNING ${FACTOR_SELECT}`,
    [newId(), input.userId, input.friendlyName, input.secret],
  )
  return rows[0]!
}

/** A WebAuthn factor starts with no credential; its first verified `create` ceremony brings one. */
export async function insertWebAuthnFactor(tx: Queryable, input: { userId: string; friendlyName: string }): Promise<FactorRow> {
  const { rows } = await tx.query<FactorRow>(
    `INSERT INTO auth.mfa_factors (id, user_id, friendly_name, factor_type, status, created_at, updated_at)
     VALUES ($1, $2, $3, 'webauthn', 'unverified', now(), now()) RETURNING ${FACTOR_SELECT}`,
    [newId(), input.userId, input.friendlyName],
  )
  return rows[0]!
}

/** Stores the credential (and its AAGUID) and the last ceremony, as GoTrue's SaveWebAuthnCredential / UpdateLastWebAuthnChallenge. */
export async function saveWebAuthnCredential(
  tx: Queryable,
  factorId: string,
  input: { credential: WebAuthnFactorCredential; aaguid: string | null; lastChallenge: Record<string, unknown> },
): Promise<void> {
  await tx.query(
    `UPDATE auth.mfa_factors SET web_authn_credential = $2::jsonb, web_authn_aaguid = coalesce($3::uuid, web_authn_aaguid),
       last_webauthn_challenge_data = $4::jsonb, updated_at = now() WHERE id = $1`,
    [factorId, JSON.stringify(input.credential), input.aaguid, JSON.stringify(input.lastChallenge)],
  )
}

/** Unverified factors of one type go once one of that type is verified (GoTrue's DeleteUnverifiedFactors). */
export async function deleteUnverifiedFactors(tx: Queryable, userId: string, type: string): Promise<void> {
  await tx.query("DELETE FROM auth.mfa_factors WHERE user_id = $1 AND factor_type = $2::auth.factor_type AND status = 'unverified'", [userId, type])
}

export async function deleteFactor(tx: Queryable, userId: string, factorId: string): Promise<FactorRow | undefined> {
  const { rows } = await tx.query<FactorRow>(`DELETE FROM auth.mfa_factors WHERE id = $1 AND user_id = $2 RETURNING ${FACTOR_SELECT}`, [factorId, userId])
  return rows[0]
}

export interface ChallengeRow {
  id: string
  factor_id: string
  created_at: string
  verified_at: string | null
  ip_address: string
  age_seconds: number
  /** Whether the verifying request comes from the address that asked for the challenge. */
  same_ip: boolean
  /** The WebAuthn ceremony this challenge started (WebAuthn factors only). */
  web_authn_session_data: Record<string, unknown> | string | null
}

export async function insertChallenge(tx: Queryable, factorId: string, ip: string, webAuthnSession?: object): Promise<ChallengeRow> {
  const { rows } = await tx.query<ChallengeRow>(
    `WITH f AS (UPDATE auth.mfa_factors SET last_challenged_at = now(), updated_at = now() WHERE id = $2)
     INSERT INTO auth.mfa_challenges (id, factor_id, created_at, ip_address, web_authn_session_data)
     VALUES ($1, $2, now(), coalesce(nullif($3, '')::inet, '0.0.0.0'::inet), $4::jsonb)
     RETURNING id, factor_id, created_at, verified_at, host(ip_address) AS ip_address, 0 AS age_seconds, true AS same_ip, web_authn_session_data`,
    [newId(), factorId, ip, webAuthnSession ? JSON.stringify(webAuthnSession) : null],
  )
  return rows[0]!
}

/** The challenge, locked: two verifies of one challenge run one after the other. */
export async function lockChallenge(tx: Queryable, factorId: string, challengeId: string, ip: string): Promise<ChallengeRow | undefined> {
  const { rows } = await tx.query<ChallengeRow>(
    `SELECT id, factor_id, created_at, verified_at, host(ip_address) AS ip_address, extract(epoch FROM now() - created_at)::float8 AS age_seconds,
            ip_address = coalesce(nullif($3, '')::inet, '0.0.0.0'::inet) AS same_ip, web_authn_session_data
       FROM auth.mfa_challenges WHERE id = $1 AND factor_id = $2 FOR UPDATE`,
    [challengeId, factorId, ip],
  )
  return rows[0]
}

/** When this factor last verified a code (unix seconds), so a code cannot be replayed. */
export async function lastVerifiedAt(tx: Queryable, factorId: string): Promise<number | undefined> {
  const { rows } = await tx.query<{ at: number | null }>('SELECT extract(epoch FROM max(verified_at))::float8 AS at FROM auth.mfa_challenges WHERE factor_id = $1', [factorId])
  return rows[0]?.at ?? undefined
}

/**
 * A right code (or WebAuthn response): the challenge is used up, the factor verified, and the
 * session steps up to aal2 with a `totp` / `mfa/webauthn` amr entry (upserted on GoTrue's constraint, so a second verify renews its time).
 */
export async function completeChallenge(tx: Queryable, input: { challengeId: string; factorId: string; sessionId: string; method: 'totp' | 'mfa/webauthn' }): Promise<void> {
  await tx.query(
    `WITH c AS (UPDATE auth.mfa_challenges SET verified_at = now() WHERE id = $1),
          f AS (UPDATE auth.mfa_factors SET status = 'verified', updated_at = now() WHERE id = $2),
          s AS (UPDATE auth.sessions SET aal = 'aal2', factor_id = $2, updated_at = now() WHERE id = $3)
     INSERT INTO auth.mfa_amr_claims (id, session_id, created_at, updated_at, authentication_method)
     VALUES (gen_random_uuid(), $3, now(), now(), $4)
     ON CONFLICT ON CONSTRAINT mfa_amr_claims_session_id_authentication_method_pkey DO UPDATE SET updated_at = now()`,
    [input.challengeId, input.factorId, input.sessionId, input.method],
  )
}

/** Sessions stepped up with a removed factor fall back to aal1 (their next token says so). */
export async function downgradeSessions(tx: Queryable, factorId: string): Promise<void> {
  await tx.query("UPDATE auth.sessions SET aal = 'aal1', factor_id = NULL, updated_at = now() WHERE factor_id = $1", [factorId])
}
