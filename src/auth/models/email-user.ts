/** A new, unconfirmed email user with its `email` identity, written as GoTrue's sign-up writes it. */
import type { Queryable } from '../../db/types.ts'
import { newId } from '../crypto.ts'
import { DEFAULT_ROLE } from '../tokens.ts'
import { insertIdentity } from './identity.ts'
import { insertUser, type UserRow } from './user.ts'

export interface NewEmailUser {
  email: string
  /** A bcrypt hash, or '' for users who have no password yet (invites). */
  encryptedPassword: string
  data: Record<string, unknown>
  aud: string
  /** Sign-up copies the identity's claims (sub, email, …_verified) into user_metadata; admin-made users keep `data` alone. */
  identityInMetadata?: boolean
}

export async function createEmailUser(tx: Queryable, user: NewEmailUser): Promise<UserRow> {
  const id = newId()
  const identityData = { sub: id, email: user.email, email_verified: false, phone_verified: false }
  const created = await insertUser(tx, {
    id,
    aud: user.aud,
    role: DEFAULT_ROLE,
    email: user.email,
    phone: null,
    encryptedPassword: user.encryptedPassword,
    emailConfirmed: false,
    appMetadata: { provider: 'email', providers: ['email'] },
    userMetadata: user.identityInMetadata === false ? user.data : { ...user.data, ...identityData },
    isAnonymous: false,
  })
  await insertIdentity(tx, { userId: id, provider: 'email', providerId: id, data: identityData })
  return created
}
