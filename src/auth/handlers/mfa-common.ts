/**
 * What the TOTP and WebAuthn factor handlers share: the session and factor a request names, the
 * checks before a new factor (GoTrue's validateFactors), and the step up to aal2 after a
 * successful verification.
 * @module
 */
import type { Queryable } from '../../db/types.ts'
import type { AuthContext, AuthDeps } from '../context.ts'
import { UUID_PATTERN } from '../crypto.ts'
import { authError, notFound, unprocessable } from '../errors.ts'
import { customAccessTokenHook } from '../hooks.ts'
import { writeAudit } from '../models/audit.ts'
import { completeChallenge, findFactor, listFactors, type FactorRow } from '../models/factor.ts'
import { sessionAmr, swapRefreshToken } from '../models/session.ts'
import { findUserById, type UserRow } from '../models/user.ts'
import { clientIp } from '../request.ts'
import { loadUserJson } from '../sign-in.ts'
import { sessionJson, type SessionJson } from '../tokens.ts'

/** GoTrue's defaults: `GOTRUE_MFA_MAX_ENROLLED_FACTORS`, `GOTRUE_MFA_CHALLENGE_EXPIRY_DURATION`. */
export const MAX_ENROLLED_FACTORS = 10
export const CHALLENGE_EXPIRY_SECONDS = 300

export function sessionOf(c: AuthContext): string {
  const sessionId = c.get('sessionId')
  if (!sessionId) throw authError(401, 'no_authorization', 'This endpoint requires a valid Bearer token with a session')
  return sessionId
}

export const aal2 = (c: AuthContext): boolean => c.get('claims').aal === 'aal2'

export function factorIdParam(c: AuthContext): string {
  const id = c.req.param('factorId') ?? ''
  if (!UUID_PATTERN.test(id)) throw notFound('mfa_factor_not_found', 'Factor not found')
  return id.toLowerCase()
}

export async function ownFactor(tx: Queryable, user: UserRow, factorId: string): Promise<FactorRow> {
  const factor = await findFactor(tx, user.id, factorId)
  if (!factor) throw notFound('mfa_factor_not_found', 'Factor not found')
  return factor
}

/**
 * Before enrolling: one enrolment at a time per user (the user row is locked, so the counts stay
 * true until commit), at most MAX_ENROLLED_FACTORS, aal2 once a factor is verified, unique names.
 */
export async function checkNewFactor(tx: Queryable, c: AuthContext, user: UserRow, friendlyName: string): Promise<void> {
  if (user.is_anonymous) throw authError(403, 'no_authorization', 'Anonymous users cannot enroll MFA factors')
  await findUserById(tx, user.id, { forUpdate: true })
  const factors = await listFactors(tx, [user.id])
  if (factors.length >= MAX_ENROLLED_FACTORS) throw unprocessable('too_many_enrolled_mfa_factors', 'Maximum number of verified factors reached, unenroll to continue')
  if (factors.some((f) => f.status === 'verified') && !aal2(c)) throw unprocessable('insufficient_aal', 'AAL2 required to enroll a new factor')
  if (friendlyName && factors.some((f) => f.friendly_name === friendlyName)) {
    throw unprocessable('mfa_factor_name_conflict', `A factor with the friendly name "${friendlyName}" for this user already exists`)
  }
}

/** A verified factor: challenge used up, session at aal2 with the factor's amr, new tokens. */
export async function stepUp(
  c: AuthContext,
  deps: AuthDeps,
  tx: Queryable,
  input: { user: UserRow; sessionId: string; factor: FactorRow; challengeId: string; method: 'totp' | 'mfa/webauthn' },
): Promise<SessionJson> {
  const { user, sessionId, factor } = input
  await completeChallenge(tx, { challengeId: input.challengeId, factorId: factor.id, sessionId, method: input.method })
  await writeAudit(tx, { action: 'verification_attempted', actorId: user.id, actorUsername: user.email ?? '', ip: clientIp(c), traits: { factor_id: factor.id, status: 'verified' } })
  const refreshToken = await swapRefreshToken(tx, user.id, sessionId)
  const fresh = (await findUserById(tx, user.id))!
  return sessionJson(deps.services, {
    user: fresh,
    userJson: await loadUserJson(tx, fresh),
    sessionId,
    aal: 'aal2',
    amr: await sessionAmr(tx, sessionId),
    refreshToken,
    audience: c.req.header('x-jwt-aud') || undefined,
  }, customAccessTokenHook(deps.config.customAccessTokenHook, tx, user.id, input.method))
}
