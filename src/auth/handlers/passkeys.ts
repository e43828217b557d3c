/**
 * Passkeys as GoTrue serves them (`AUTH_PASSKEY_ENABLED`): registration for a signed-in user
 * (`/passkeys/registration/options|verify`), discoverable sign-in for anyone
 * (`/passkeys/authentication/options|verify`, a session like a password sign-in's), the user's
 * own list / rename / delete, and the admin list / delete under `/admin/users/:id/passkeys`.
 *
 * Each challenge is good for one attempt (taken out before the response is checked); a sign-in
 * challenge belongs to no user, a registration challenge only to the user who asked for it.
 * @module
 */
import type { Queryable } from '../../db/types.ts'
import type { MiddlewareHandler } from 'hono'
import type { AuthContext, AuthDeps, AuthEnv } from '../context.ts'
import { UUID_PATTERN } from '../crypto.ts'
import { authError, forbidden, notFound, unprocessable, validationFailed } from '../errors.ts'
import { writeAudit } from '../models/audit.ts'
import { hasVerifiedFactor } from '../models/factor.ts'
import {
  consumeWebAuthnChallenge,
  deletePasskey,
  insertPasskey,
  insertWebAuthnChallenge,
  listPasskeys,
  lockPasskeyByCredentialId,
  recordPasskeyUse,
  renamePasskey,
  storedCredential,
  sweepWebAuthnChallenges,
  type ChallengeType,
  type PasskeyRow,
} from '../models/webauthn-credential.ts'
import { findUserById, type UserRow } from '../models/user.ts'
import { limitClient } from '../rate-limit.ts'
import { clientIp, readBody, str, type Body } from '../request.ts'
import { issueSession } from '../sign-in.ts'
import { rfc3339 } from '../time.ts'
import {
  assertionCredentialId,
  assertionUserHandle,
  CHALLENGE_EXPIRY_SECONDS,
  creationOptions,
  requestOptions,
  verificationFailed,
  verifyAssertion,
  verifyCreation,
  type CeremonySession,
} from '../webauthn.ts'

/** GoTrue's `GOTRUE_PASSKEY_MAX_PASSKEYS_PER_USER` default. */
const MAX_PASSKEYS_PER_USER = 10

/** Mounted before authentication on every passkey route, as GoTrue's requirePasskeyEnabled. */
export function passkeysEnabled(deps: AuthDeps): MiddlewareHandler<AuthEnv> {
  return async function passkeys(_c, next) {
    if (!deps.config.passkeys) throw notFound('passkey_disabled', 'Passkeys are disabled')
    await next()
  }
}

/** With MFA on, managing passkeys takes an aal2 session (GoTrue's requirePasskeyManagementAAL). */
async function requireManagementAal(c: AuthContext, tx: Queryable, user: UserRow): Promise<void> {
  if (c.get('claims').aal !== 'aal2' && (await hasVerifiedFactor(tx, user.id))) {
    throw forbidden('insufficient_aal', 'AAL2 session is required to manage passkeys when MFA is enabled')
  }
}

export function passkeyJson(row: PasskeyRow): Record<string, unknown> {
  const out: Record<string, unknown> = { id: row.id }
  if (row.friendly_name) out.friendly_name = row.friendly_name
  out.created_at = rfc3339(row.created_at)
  if (row.last_used_at) out.last_used_at = rfc3339(row.last_used_at)
  return out
}

function passkeyIdParam(c: AuthContext): string {
  const id = c.req.param('passkeyId') ?? ''
  if (!UUID_PATTERN.test(id)) throw notFound('validation_failed', 'Passkey not found')
  return id.toLowerCase()
}

/** `challenge_id` and `credential` of a verify body, checked as GoTrue checks them. */
function ceremonyBody(body: Body): { challengeId: string; credential: unknown } {
  const challengeId = str(body, 'challenge_id') ?? ''
  if (!challengeId) throw validationFailed('challenge_id is required')
  if (body.credential === undefined || body.credential === null) throw validationFailed('credential is required')
  if (!UUID_PATTERN.test(challengeId)) throw validationFailed('challenge_id must be a valid UUID')
  return { challengeId: challengeId.toLowerCase(), credential: body.credential }
}

async function takeChallenge(deps: AuthDeps, id: string, type: ChallengeType, userId: string | null): Promise<CeremonySession> {
  const taken = await deps.transaction((tx) => consumeWebAuthnChallenge(tx, id, type, userId))
  if (!taken) throw authError(400, 'webauthn_challenge_not_found', 'Challenge not found or already used')
  if (taken.expired) throw authError(400, 'webauthn_challenge_expired', 'Challenge has expired')
  return taken.session
}

function displayName(user: UserRow): string {
  const name = user.raw_user_meta_data?.name
  return typeof name === 'string' && name !== '' ? name : user.email || user.phone || ''
}

export async function registrationOptions(c: AuthContext, deps: AuthDeps): Promise<Response> {
  const user = c.get('user')
  const created = await deps.transaction(async (tx) => {
    await requireManagementAal(c, tx, user)
    const existing = await listPasskeys(tx, user.id)
    if (existing.length >= MAX_PASSKEYS_PER_USER) throw unprocessable('too_many_passkeys', 'Maximum number of passkeys reached')
    const name = user.email || user.phone || ''
    const { options, session } = await creationOptions(deps.config.webauthn, { id: user.id, name, displayName: displayName(user) }, existing.map(storedCredential), 'required')
    await sweepWebAuthnChallenges(tx)
    const challenge = await insertWebAuthnChallenge(tx, { userId: user.id, type: 'registration', session, ttlSeconds: CHALLENGE_EXPIRY_SECONDS })
    return { options, challenge }
  })
  return c.json({ challenge_id: created.challenge.id, options: created.options, expires_at: created.challenge.expires_at })
}

export async function registrationVerify(c: AuthContext, deps: AuthDeps): Promise<Response> {
  const user = c.get('user')
  const { challengeId, credential } = ceremonyBody(await readBody(c))
  await deps.transaction((tx) => requireManagementAal(c, tx, user))
  const session = await takeChallenge(deps, challengeId, 'registration', user.id)
  const verified = await verifyCreation(deps.config.webauthn, credential, session)
  const row = await deps.transaction(async (tx) => {
    await findUserById(tx, user.id, { forUpdate: true })
    if ((await listPasskeys(tx, user.id)).length >= MAX_PASSKEYS_PER_USER) throw unprocessable('too_many_passkeys', 'Maximum number of passkeys reached')
    const { rows } = await tx.query('SELECT 1 FROM auth.webauthn_credentials WHERE credential_id = $1', [verified.credentialId])
    if (rows.length > 0) throw unprocessable('webauthn_credential_exists', 'This credential is already registered')
    const inserted = await insertPasskey(tx, user.id, verified, '')
    await writeAudit(tx, { action: 'passkey_created', actorId: user.id, actorUsername: user.email ?? user.phone ?? '', ip: clientIp(c), traits: { passkey_id: inserted.id } })
    return inserted
  })
  return c.json(passkeyJson({ ...row, last_used_at: null }))
}

export async function authenticationOptions(c: AuthContext, deps: AuthDeps): Promise<Response> {
  // Unauthenticated and writes a row: bounded per client like the other sign-in steps.
  await limitClient(c, deps.limits.verify)
  const { options, session } = await requestOptions(deps.config.webauthn, [])
  const challenge = await deps.transaction(async (tx) => {
    await sweepWebAuthnChallenges(tx)
    return insertWebAuthnChallenge(tx, { userId: null, type: 'authentication', session, ttlSeconds: CHALLENGE_EXPIRY_SECONDS })
  })
  return c.json({ challenge_id: challenge.id, options, expires_at: challenge.expires_at })
}

export async function authenticationVerify(c: AuthContext, deps: AuthDeps): Promise<Response> {
  const { challengeId, credential } = ceremonyBody(await readBody(c))
  const session = await takeChallenge(deps, challengeId, 'authentication', null)
  const credentialId = assertionCredentialId(credential)
  const handle = assertionUserHandle(credential)
  const signedIn = await deps.transaction(async (tx) => {
    const passkey = await lockPasskeyByCredentialId(tx, credentialId)
    // The assertion's user handle must name the credential's owner (discoverable sign-in).
    if (!passkey || (handle !== undefined && handle !== passkey.user_id)) throw verificationFailed()
    const signCount = await verifyAssertion(deps.config.webauthn, credential, session, storedCredential(passkey))
    const user = await findUserById(tx, passkey.user_id)
    if (!user) throw verificationFailed()
    if (user.email && !user.email_confirmed_at) throw forbidden('email_not_confirmed', 'Email not confirmed')
    if (user.phone && !user.phone_confirmed_at) throw forbidden('phone_not_confirmed', 'Phone not confirmed')
    if (user.banned) throw forbidden('user_banned', 'User is banned')
    await recordPasskeyUse(tx, passkey.id, signCount)
    return issueSession(deps, tx, c, user, 'passkey')
  })
  return c.json(signedIn)
}

export async function listOwn(c: AuthContext, deps: AuthDeps): Promise<Response> {
  const rows = await deps.transaction((tx) => listPasskeys(tx, c.get('user').id))
  return c.json(rows.map(passkeyJson))
}

export async function rename(c: AuthContext, deps: AuthDeps): Promise<Response> {
  const user = c.get('user')
  const id = passkeyIdParam(c)
  const friendlyName = str(await readBody(c), 'friendly_name') ?? ''
  if (friendlyName === '') throw validationFailed('friendly_name is required')
  if (friendlyName.length > 120) throw validationFailed('friendly_name must be 120 characters or less')
  const row = await deps.transaction(async (tx) => {
    const renamed = await renamePasskey(tx, user.id, id, friendlyName)
    if (!renamed) throw notFound('validation_failed', 'Passkey not found')
    await writeAudit(tx, { action: 'passkey_updated', actorId: user.id, actorUsername: user.email ?? user.phone ?? '', ip: clientIp(c), traits: { passkey_id: id } })
    return renamed
  })
  return c.json(passkeyJson(row))
}

export async function removeOwn(c: AuthContext, deps: AuthDeps): Promise<Response> {
  const user = c.get('user')
  const id = passkeyIdParam(c)
  await deps.transaction(async (tx) => {
    await requireManagementAal(c, tx, user)
    if (!(await deletePasskey(tx, user.id, id))) throw notFound('validation_failed', 'Passkey not found')
    await writeAudit(tx, { action: 'passkey_deleted', actorId: user.id, actorUsername: user.email ?? user.phone ?? '', ip: clientIp(c), traits: { passkey_id: id } })
  })
  return c.body(null, 204)
}

async function adminTarget(c: AuthContext, tx: Queryable): Promise<UserRow> {
  const id = c.req.param('id') ?? ''
  const user = UUID_PATTERN.test(id) ? await findUserById(tx, id.toLowerCase()) : undefined
  if (!user) throw notFound('user_not_found', 'User not found')
  return user
}

export async function adminList(c: AuthContext, deps: AuthDeps): Promise<Response> {
  const rows = await deps.transaction(async (tx) => listPasskeys(tx, (await adminTarget(c, tx)).id))
  return c.json(rows.map(passkeyJson))
}

export async function adminRemove(c: AuthContext, deps: AuthDeps): Promise<Response> {
  const id = passkeyIdParam(c)
  await deps.transaction(async (tx) => {
    const user = await adminTarget(c, tx)
    if (!(await deletePasskey(tx, user.id, id))) throw notFound('validation_failed', 'Passkey not found')
    await writeAudit(tx, { action: 'passkey_deleted', actorId: user.id, actorUsername: user.email ?? user.phone ?? '', ip: clientIp(c), traits: { user_id: user.id, passkey_id: id } })
  })
  return c.body(null, 204)
}
