/**
 * `auth.identities`: email and phone identities use the user id as `provider_id`; `email` is a
 * generated column and never written.
 * @module
 */
import type { Queryable } from '../../db/types.ts'

export interface IdentityRow {
  id: string
  provider_id: string
  user_id: string
  identity_data: Record<string, unknown>
  provider: string
  last_sign_in_at: string | null
  created_at: string | null
  updated_at: string | null
  email: string | null
}

const IDENTITY_SELECT = 'i.id, i.provider_id, i.user_id, i.identity_data, i.provider, i.last_sign_in_at, i.created_at, i.updated_at, i.email'

export async function insertIdentity(
  tx: Queryable,
  identity: { userId: string; provider: string; providerId: string; data: Record<string, unknown> },
): Promise<void> {
  await tx.query(
    `INSERT INTO auth.identities (id, provider_id, user_id, identity_data, provider, last_sign_in_at, created_at, updated_at)
     VALUES (gen_random_uuid(), $1, $2, $3::jsonb, $4, now(), now(), now())`,
    [identity.providerId, identity.userId, JSON.stringify(identity.data), identity.provider],
  )
}

export async function listIdentities(tx: Queryable, userIds: readonly string[]): Promise<IdentityRow[]> {
  if (userIds.length === 0) return []
  const { rows } = await tx.query<IdentityRow>(
    `SELECT ${IDENTITY_SELECT} FROM auth.identities i WHERE i.user_id = ANY($1::uuid[]) ORDER BY i.created_at, i.id`,
    [userIds],
  )
  return rows
}

/** Merges `patch` into the identity data of the user's identity for `provider`. */
export async function mergeIdentityData(tx: Queryable, userId: string, provider: string, patch: Record<string, unknown>): Promise<void> {
  await tx.query(
    `UPDATE auth.identities SET identity_data = identity_data || $3::jsonb, updated_at = now() WHERE user_id = $1 AND provider = $2`,
    [userId, provider, JSON.stringify(patch)],
  )
}

export async function touchIdentitySignIn(tx: Queryable, userId: string, provider: string): Promise<void> {
  await tx.query('UPDATE auth.identities SET last_sign_in_at = now(), updated_at = now() WHERE user_id = $1 AND provider = $2', [userId, provider])
}
