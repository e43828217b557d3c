/**
 * WebAuthn (security key) MFA factors, as GoTrue serves them behind
 * `AUTH_MFA_WEBAUTHN_ENROLL_ENABLED` / `_VERIFY_ENABLED`: enrolling makes an unverified factor
 * with no credential; its first challenge is a `create` ceremony whose verified response stores
 * the credential and verifies the factor; later challenges are `request` ceremonies against that
 * credential. A verified response steps the session up to aal2 with an `mfa/webauthn` amr.
 * @module
 */
import type { AuthContext, AuthDeps } from '../context.ts'
import { UUID_PATTERN } from '../crypto.ts'
import { notFound, unprocessable, validationFailed } from '../errors.ts'
import { writeAudit } from '../models/audit.ts'
import {
  deleteUnverifiedFactors,
  insertChallenge,
  insertWebAuthnFactor,
  listFactors,
  lockChallenge,
  saveWebAuthnCredential,
  type FactorRow,
  type WebAuthnFactorCredential,
} from '../models/factor.ts'
import type { UserRow } from '../models/user.ts'
import { clientIp, obj, str, type Body } from '../request.ts'
import { creationOptions, requestOptions, verificationFailed, verifyAssertion, verifyCreation, type CeremonySession, type RegisteredCredential, type StoredCredential } from '../webauthn.ts'
import { CHALLENGE_EXPIRY_SECONDS, checkNewFactor, sessionOf, stepUp } from './mfa-common.ts'

const b64 = (bytes: Buffer) => bytes.toString('base64')

function factorCredential(row: FactorRow): StoredCredential | undefined {
  const stored = row.web_authn_credential
  if (!stored?.id || !stored.publicKey) return undefined
  return {
    credentialId: Buffer.from(stored.id, 'base64'),
    publicKey: Buffer.from(stored.publicKey, 'base64'),
    signCount: stored.authenticator?.signCount ?? 0,
    transports: stored.transport ?? [],
  }
}

function credentialJson(registered: RegisteredCredential): WebAuthnFactorCredential {
  return {
    id: b64(registered.credentialId),
    publicKey: b64(registered.publicKey),
    attestationType: registered.attestationType,
    transport: registered.transports,
    flags: { userPresent: true, userVerified: false, backupEligible: registered.backupEligible, backupState: registered.backedUp },
    authenticator: { AAGUID: b64(Buffer.from(registered.aaguid.replace(/-/g, ''), 'hex')), signCount: registered.signCount, cloneWarning: false },
  }
}

function requireVerifyEnabled(deps: AuthDeps): void {
  if (!deps.config.mfaWebAuthnVerify) throw unprocessable('mfa_webauthn_verify_not_enabled', 'MFA verification is disabled for WebAuthn')
}

export async function enrollWebAuthn(c: AuthContext, deps: AuthDeps, body: Body): Promise<Response> {
  if (!deps.config.mfaWebAuthnEnroll) throw unprocessable('mfa_webauthn_enroll_not_enabled', 'MFA enroll is disabled for WebAuthn')
  const user = c.get('user')
  const friendlyName = (str(body, 'friendly_name') ?? '').trim()
  const factor = await deps.transaction(async (tx) => {
    await checkNewFactor(tx, c, user, friendlyName)
    const created = await insertWebAuthnFactor(tx, { userId: user.id, friendlyName })
    await writeAudit(tx, { action: 'factor_in_progress', actorId: user.id, actorUsername: user.email || user.phone || user.id, ip: clientIp(c), traits: { factor_id: created.id, factor_type: 'webauthn' } })
    return created
  })
  return c.json({ id: factor.id, type: 'webauthn', friendly_name: factor.friendly_name ?? '' })
}

async function ceremonyFor(deps: AuthDeps, user: UserRow, factor: FactorRow): Promise<{ type: 'create' | 'request'; options: object; session: CeremonySession }> {
  const rp = deps.config.webauthn
  if (factor.status === 'unverified') {
    const others = await deps.transaction((tx) => listFactors(tx, [user.id]))
    const exclude = others.map(factorCredential).filter((s): s is StoredCredential => s !== undefined)
    const name = user.email || user.phone || user.id
    const { options, session } = await creationOptions(rp, { id: user.id, name, displayName: name }, exclude, 'discouraged')
    return { type: 'create', options, session }
  }
  const credential = factorCredential(factor)
  if (!credential) throw validationFailed('WebAuthn factor has no credential')
  const { options, session } = await requestOptions(rp, [credential], user.id)
  return { type: 'request', options, session }
}

export async function challengeWebAuthn(c: AuthContext, deps: AuthDeps, factor: FactorRow): Promise<Response> {
  requireVerifyEnabled(deps)
  const user = c.get('user')
  const ceremony = await ceremonyFor(deps, user, factor)
  const row = await deps.transaction(async (tx) => {
    const created = await insertChallenge(tx, factor.id, clientIp(c), ceremony.session)
    await writeAudit(tx, { action: 'challenge_created', actorId: user.id, actorUsername: user.email ?? '', ip: clientIp(c), traits: { factor_id: factor.id, challenge_id: created.id } })
    return created
  })
  return c.json({
    id: row.id,
    type: 'webauthn',
    expires_at: Math.floor(new Date(row.created_at).getTime() / 1000) + CHALLENGE_EXPIRY_SECONDS,
    webauthn: { type: ceremony.type, credential_options: { publicKey: ceremony.options } },
  })
}

function webauthnParams(body: Body): { type: 'create' | 'request'; response: unknown; challengeId: string } {
  const params = obj(body, 'webauthn')
  if (!params) throw validationFailed('WebAuthn config required')
  const type = str(params, 'type')
  if (type !== 'create' && type !== 'request') throw validationFailed('WebAuthn type must be create or request')
  if (params.credential_response === undefined || params.credential_response === null) throw validationFailed('credential_response required')
  const challengeId = str(body, 'challenge_id') ?? ''
  if (!UUID_PATTERN.test(challengeId)) throw notFound('mfa_factor_not_found', 'MFA factor with the provided challenge ID not found')
  return { type, response: params.credential_response, challengeId: challengeId.toLowerCase() }
}

/** The stored ceremony of a live challenge from this client, locked until the caller's transaction ends. */
async function openChallenge(c: AuthContext, deps: AuthDeps, factor: FactorRow, challengeId: string): Promise<CeremonySession> {
  return deps.transaction(async (tx) => {
    const row = await lockChallenge(tx, factor.id, challengeId, clientIp(c))
    const data = row?.web_authn_session_data
    if (!row || !data) throw notFound('mfa_factor_not_found', 'MFA factor with the provided challenge ID not found')
    if (row.verified_at || row.age_seconds > CHALLENGE_EXPIRY_SECONDS) {
      throw unprocessable('mfa_challenge_expired', `MFA challenge ${row.id} has expired, verify against another challenge or create a new challenge.`)
    }
    if (!row.same_ip) throw unprocessable('mfa_ip_address_mismatch', 'Challenge and verify IP addresses mismatch')
    return (typeof data === 'string' ? JSON.parse(data) : data) as CeremonySession
  })
}

export async function verifyWebAuthn(c: AuthContext, deps: AuthDeps, factor: FactorRow, body: Body): Promise<Response> {
  requireVerifyEnabled(deps)
  const user = c.get('user')
  const sessionId = sessionOf(c)
  const params = webauthnParams(body)
  if ((params.type === 'create') !== (factor.status === 'unverified')) throw validationFailed(`WebAuthn type ${params.type} does not fit a ${factor.status} factor`)
  const session = await openChallenge(c, deps, factor, params.challengeId)
  // Counted before the response is checked, as wrong TOTP codes are.
  await deps.limits.mfa.take(`factor:${factor.id}`, 'Too many MFA verification attempts for this factor. Try again in {seconds} seconds.')
  const rp = deps.config.webauthn
  let credential: WebAuthnFactorCredential
  let aaguid: string | null = null
  if (params.type === 'create') {
    const registered = await verifyCreation(rp, params.response, session)
    credential = credentialJson(registered)
    aaguid = registered.aaguid
  } else {
    const stored = factorCredential(factor)
    if (!stored) throw verificationFailed()
    const signCount = await verifyAssertion(rp, params.response, session, stored)
    credential = { ...factor.web_authn_credential!, authenticator: { ...factor.web_authn_credential!.authenticator, signCount } }
  }
  const issued = await deps.transaction(async (tx) => {
    // Two verifies of one challenge: the second finds it used.
    const row = await lockChallenge(tx, factor.id, params.challengeId, clientIp(c))
    if (!row || row.verified_at) throw unprocessable('mfa_challenge_expired', `MFA challenge ${params.challengeId} has expired, verify against another challenge or create a new challenge.`)
    await saveWebAuthnCredential(tx, factor.id, { credential, aaguid, lastChallenge: { type: params.type, challenge_id: params.challengeId } })
    const out = await stepUp(c, deps, tx, { user, sessionId, factor, challengeId: params.challengeId, method: 'mfa/webauthn' })
    await deleteUnverifiedFactors(tx, user.id, 'webauthn')
    return out
  })
  await deps.limits.mfa.reset(`factor:${factor.id}`)
  return c.json(issued)
}
