/**
 * `auth.webauthn_credentials` (passkeys) and `auth.webauthn_challenges` (pending ceremonies),
 * written as GoTrue writes them, so a dump restored into Supabase keeps its passkeys.
 * @module
 */
import type { Queryable } from '../../db/types.ts'
import type { CeremonySession, RegisteredCredential, StoredCredential } from '../webauthn.ts'

export interface PasskeyRow {
  id: string
  user_id: string
  credential_id: Buffer
  public_key: Buffer
  sign_count: string | number
  transports: string[]
  friendly_name: string
  created_at: string
  last_used_at: string | null
}

const COLUMNS = 'id, user_id, credential_id, public_key, sign_count, transports, friendly_name, created_at, last_used_at'

export const storedCredential = (row: PasskeyRow): StoredCredential => ({
  credentialId: Buffer.from(row.credential_id),
  publicKey: Buffer.from(row.public_key),
  signCount: Number(row.sign_count),
  transports: Array.isArray(row.transports) ? row.transports : [],
})

export async function listPasskeys(tx: Queryable, userId: string): Promise<PasskeyRow[]> {
  const { rows } = await tx.query<PasskeyRow>(`SELECT ${COLUMNS} FROM auth.webauthn_credentials WHERE user_id = $1 ORDER BY created_at, id`, [userId])
  return rows
}

export async function findPasskey(tx: Queryable, userId: string, id: string): Promise<PasskeyRow | undefined> {
  const { rows } = await tx.query<PasskeyRow>(`SELECT ${COLUMNS} FROM auth.webauthn_credentials WHERE id = $1 AND user_id = $2`, [id, userId])
  return rows[0]
}

/** The credential an assertion names, locked so two sign-ins update its counter in turn. */
export async function lockPasskeyByCredentialId(tx: Queryable, credentialId: Buffer): Promise<PasskeyRow | undefined> {
  const { rows } = await tx.query<PasskeyRow>(`SELECT ${COLUMNS} FROM auth.webauthn_credentials WHERE credential_id = $1 FOR UPDATE`, [credentialId])
  return rows[0]
}

export async function insertPasskey(tx: Queryable, userId: string, credential: RegisteredCredential, friendlyName: string): Promise<PasskeyRow> {
  const { rows } = await tx.query<PasskeyRow>(
    `INSERT INTO auth.webauthn_credentials (user_id, credential_id, public_key, attestation_type, aaguid, sign_count, transports, backup_eligible, backed_up, friendly_name)
     VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10) RETURNING ${COLUMNS}`,
    [
      userId,
      credential.credentialId,
      credential.publicKey,
      credential.attestationType,
      credential.aaguid,
      credential.signCount,
      JSON.stringify(credential.transports),
      credential.backupEligible,
      credential.backedUp,
      friendlyName,
    ],
  )
  return rows[0]!
}

export async function renamePasskey(tx: Queryable, userId: string, id: string, friendlyName: string): Promise<PasskeyRow | undefined> {
  const { rows } = await tx.query<PasskeyRow>(
    `UPDATE auth.webauthn_credentials SET friendly_name = $3, updated_at = now() WHERE id = $1 AND user_id = $2 RETURNING ${COLUMNS}`,
    [id, userId, friendlyName],
  )
  return rows[0]
}

export async function recordPasskeyUse(tx: Queryable, id: string, signCount: number): Promise<void> {
  await tx.query('UPDATE auth.webauthn_credentials SET sign_count = $2, last_used_at = now(), updated_at = now() WHERE id = $1', [id, signCount])
}

export async function deletePasskey(tx: Queryable, userId: string, id: string): Promise<boolean> {
  const { rows } = await tx.query('DELETE FROM auth.webauthn_credentials WHERE id = $1 AND user_id = $2 RETURNING id', [id, userId])
  return rows.length > 0
}

export type ChallengeType = 'registration' | 'authentication'

/** Stores a ceremony's challenge; returns its id and expiry (unix seconds). */
export async function insertWebAuthnChallenge(
  tx: Queryable,
  input: { userId: string | null; type: ChallengeType; session: CeremonySession; ttlSeconds: number },
): Promise<{ id: string; expires_at: number }> {
  const { rows } = await tx.query<{ id: string; expires_at: number }>(
    `INSERT INTO auth.webauthn_challenges (user_id, challenge_type, session_data, expires_at)
     VALUES ($1, $2, $3::jsonb, now() + make_interval(secs => $4))
     RETURNING id, floor(extract(epoch FROM expires_at))::float8 AS expires_at`,
    [input.userId, input.type, JSON.stringify(input.session), input.ttlSeconds],
  )
  return rows[0]!
}

/**
 * Takes a challenge out (each is good for one attempt, as in GoTrue): only the named type and,
 * for registration, only the user who asked for it; sign-in challenges belong to no user.
 */
export async function consumeWebAuthnChallenge(
  tx: Queryable,
  id: string,
  type: ChallengeType,
  userId: string | null,
): Promise<{ session: CeremonySession; expired: boolean } | undefined> {
  const { rows } = await tx.query<{ session_data: CeremonySession | string; expired: boolean }>(
    `DELETE FROM auth.webauthn_challenges WHERE id = $1 AND challenge_type = $2 AND user_id IS NOT DISTINCT FROM $3
     RETURNING session_data, expires_at < now() AS expired`,
    [id, type, userId],
  )
  const row = rows[0]
  if (!row) return undefined
  const session = typeof row.session_data === 'string' ? (JSON.parse(row.session_data) as CeremonySession) : row.session_data
  return { session, expired: row.expired }
}

/** Expired challenges nobody finished (GoTrue sweeps them too). */
export async function sweepWebAuthnChallenges(tx: Queryable): Promise<void> {
  await tx.query('DELETE FROM auth.webauthn_challenges WHERE expires_at < now() - interval \'1 hour\'')
}
