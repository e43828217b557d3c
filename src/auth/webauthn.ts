/**
 * The WebAuthn relying party shared by passkeys and WebAuthn MFA factors: ceremony options and
 * response verification through @simplewebauthn/server, configured as GoTrue configures
 * go-webauthn (no attestation, user verification preferred, the RP of `AUTH_WEBAUTHN_RP_*`).
 * Every failure of a response — malformed, wrong origin, challenge, RP, signature — is a 400
 * `webauthn_verification_failed`, never a 500.
 * @module
 */
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
  VerifiedRegistrationResponse,
} from '@simplewebauthn/server'
import type { WebAuthnRelyingParty } from '../config/config.ts'
import { authError } from './errors.ts'

// Loaded on the first ceremony: the library and its X.509/ASN.1 dependencies would otherwise weigh
// on every cold start (Lambda), as nodemailer would (mailer.ts).
let loaded: Promise<typeof import('@simplewebauthn/server')> | undefined
const library = () => (loaded ??= import('@simplewebauthn/server'))

/** GoTrue's `GOTRUE_WEBAUTHN_CHALLENGE_EXPIRY_DURATION` default. */
export const CHALLENGE_EXPIRY_SECONDS = 300

/** What a stored challenge remembers (go-webauthn's SessionData field names, so GoTrue can read it). */
export interface CeremonySession {
  challenge: string
  rp_id: string
  /** base64url of the user handle; absent for discoverable sign-in. */
  user_id?: string
  userVerification: 'preferred'
  expires: string
}

/** A stored credential, as verification needs it. */
export interface StoredCredential {
  /** The raw credential id. */
  credentialId: Buffer
  /** The COSE public key. */
  publicKey: Buffer
  signCount: number
  transports: string[]
}

/** A verified new credential. */
export interface RegisteredCredential extends StoredCredential {
  aaguid: string
  attestationType: string
  backupEligible: boolean
  backedUp: boolean
}

export const verificationFailed = (message = 'Credential verification failed') => authError(400, 'webauthn_verification_failed', message)

/** GoTrue's user handle: the user id's text, as bytes. */
export const userHandle = (userId: string): Uint8Array<ArrayBuffer> => new Uint8Array(Buffer.from(userId, 'utf8'))

function session(rp: WebAuthnRelyingParty, challenge: string, userId: string | undefined): CeremonySession {
  const expires = new Date(Date.now() + CHALLENGE_EXPIRY_SECONDS * 1000).toISOString()
  const out: CeremonySession = { challenge, rp_id: rp.id, userVerification: 'preferred', expires }
  if (userId) out.user_id = Buffer.from(userId, 'utf8').toString('base64url')
  return out
}

export async function creationOptions(
  rp: WebAuthnRelyingParty,
  user: { id: string; name: string; displayName: string },
  exclude: readonly StoredCredential[],
  residentKey: 'required' | 'discouraged',
): Promise<{ options: PublicKeyCredentialCreationOptionsJSON; session: CeremonySession }> {
  const options = await (await library()).generateRegistrationOptions({
    rpName: rp.displayName,
    rpID: rp.id,
    userID: userHandle(user.id),
    userName: user.name,
    userDisplayName: user.displayName,
    timeout: CHALLENGE_EXPIRY_SECONDS * 1000,
    attestationType: 'none',
    excludeCredentials: exclude.map((c) => ({ id: c.credentialId.toString('base64url'), transports: c.transports })),
    authenticatorSelection: { residentKey, requireResidentKey: residentKey === 'required', userVerification: 'preferred' },
  })
  return { options, session: session(rp, options.challenge, user.id) }
}

/** Request options; no `allowCredentials` for discoverable (passkey) sign-in. */
export async function requestOptions(
  rp: WebAuthnRelyingParty,
  allow: readonly StoredCredential[],
  userId?: string,
): Promise<{ options: PublicKeyCredentialRequestOptionsJSON; session: CeremonySession }> {
  const options = await (await library()).generateAuthenticationOptions({
    rpID: rp.id,
    timeout: CHALLENGE_EXPIRY_SECONDS * 1000,
    userVerification: 'preferred',
    allowCredentials: allow.map((c) => ({ id: c.credentialId.toString('base64url'), transports: c.transports as never })),
  })
  return { options, session: session(rp, options.challenge, userId) }
}

function asResponse<T>(credential: unknown, member: string): T {
  const response = (credential as { response?: Record<string, unknown> } | null)?.response
  if (typeof credential !== 'object' || credential === null || typeof (credential as { id?: unknown }).id !== 'string' || typeof response?.[member] !== 'string') {
    throw verificationFailed('Invalid credential response')
  }
  return credential as T
}

export async function verifyCreation(rp: WebAuthnRelyingParty, credential: unknown, session: CeremonySession): Promise<RegisteredCredential> {
  const response = asResponse<RegistrationResponseJSON>(credential, 'attestationObject')
  const { verifyRegistrationResponse } = await library()
  let result: VerifiedRegistrationResponse
  try {
    result = await verifyRegistrationResponse({
      response,
      expectedChallenge: session.challenge,
      expectedOrigin: rp.origins,
      expectedRPID: rp.id,
      requireUserVerification: false,
    })
  } catch {
    throw verificationFailed()
  }
  if (!result.verified) throw verificationFailed()
  const info = result.registrationInfo
  return {
    credentialId: Buffer.from(info.credential.id, 'base64url'),
    publicKey: Buffer.from(info.credential.publicKey),
    signCount: info.credential.counter,
    transports: info.credential.transports ?? response.response.transports ?? [],
    aaguid: info.aaguid,
    attestationType: info.fmt,
    backupEligible: info.credentialDeviceType === 'multiDevice',
    backedUp: info.credentialBackedUp,
  }
}

/** The raw id an assertion names (base64url `rawId`/`id`), before any lookup. */
export function assertionCredentialId(credential: unknown): Buffer {
  const response = asResponse<AuthenticationResponseJSON>(credential, 'signature')
  return Buffer.from(response.rawId || response.id, 'base64url')
}

/** The user handle an assertion carries (discoverable sign-in), as text. */
export function assertionUserHandle(credential: unknown): string | undefined {
  const handle = asResponse<AuthenticationResponseJSON>(credential, 'signature').response.userHandle
  return handle ? Buffer.from(handle, 'base64url').toString('utf8') : undefined
}

/** Verifies an assertion against the stored credential; returns the new signature counter. */
export async function verifyAssertion(rp: WebAuthnRelyingParty, credential: unknown, session: CeremonySession, stored: StoredCredential): Promise<number> {
  const response = asResponse<AuthenticationResponseJSON>(credential, 'signature')
  const { verifyAuthenticationResponse } = await library()
  try {
    const result = await verifyAuthenticationResponse({
      response,
      expectedChallenge: session.challenge,
      expectedOrigin: rp.origins,
      expectedRPID: rp.id,
      credential: { id: stored.credentialId.toString('base64url'), publicKey: new Uint8Array(stored.publicKey), counter: stored.signCount, transports: stored.transports },
      requireUserVerification: false,
    })
    if (!result.verified) throw verificationFailed()
    return result.authenticationInfo.newCounter
  } catch {
    throw verificationFailed()
  }
}
