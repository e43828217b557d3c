/**
 * MFA with TOTP, as GoTrue serves it: `POST /factors` (enroll), `POST /factors/:id/challenge`,
 * `POST /factors/:id/verify` (steps the session up to aal2 and hands out new tokens),
 * `DELETE /factors/:id`, and the admin `GET|DELETE /admin/users/:id/factors[/:factorId]`.
 *
 * Guessing is bounded three ways: per client (the `/verify` limit), per factor (wrong codes
 * counted before the code is compared, `AUTH_MFA_MAX_ATTEMPTS` per 5 minutes; a right code
 * clears the count), and per challenge (5 minutes, the address that asked for it). A code is
 * never accepted twice: after a verification, codes of every step that could have been
 * accepted then are refused.
 * @module
 */
import { renderSVG } from 'uqr'
import type { Queryable } from '../../db/types.ts'
import type { AuthContext, AuthDeps } from '../context.ts'
import { UUID_PATTERN } from '../crypto.ts'
import { authError, notFound, unprocessable, validationFailed } from '../errors.ts'
import { customAccessTokenHook } from '../hooks.ts'
import { writeAudit } from '../models/audit.ts'
import {
  completeChallenge,
  deleteFactor,
  downgradeSessions,
  findFactor,
  insertChallenge,
  insertTotpFactor,
  lastVerifiedAt,
  listFactors,
  lockChallenge,
  type FactorRow,
} from '../models/factor.ts'
import { sessionAmr, swapRefreshToken } from '../models/session.ts'
import { findUserById, type UserRow } from '../models/user.ts'
import { limitClient } from '../rate-limit.ts'
import { clientIp, readBody, str } from '../request.ts'
import { loadUserJson } from '../sign-in.ts'
import { sessionJson } from '../tokens.ts'
import { factorJson } from '../user-json.ts'
import { matchTotp, newTotpSecret, timeStep, totpUri } from '../totp.ts'

/** GoTrue's defaults: `GOTRUE_MFA_MAX_ENROLLED_FACTORS`, `GOTRUE_MFA_CHALLENGE_EXPIRY_DURATION`. */
const MAX_ENROLLED_FACTORS = 10
const CHALLENGE_EXPIRY_SECONDS = 300

function sessionOf(c: AuthContext): string {
  const sessionId = c.get('sessionId')
  if (!sessionId) throw authError(401, 'no_authorization', 'This endpoint requires a valid Bearer token with a session')
  return sessionId
}

const aal2 = (c: AuthContext): boolean => c.get('claims').aal === 'aal2'

function factorIdParam(c: AuthContext): string {
  const id = c.req.param('factorId') ?? ''
  if (!UUID_PATTERN.test(id)) throw notFound('mfa_factor_not_found', 'Factor not found')
  return id.toLowerCase()
}

async function ownFactor(tx: Queryable, user: UserRow, factorId: string): Promise<FactorRow> {
  const factor = await findFactor(tx, user.id, factorId)
  if (!factor) throw notFound('mfa_factor_not_found', 'Factor not found')
  return factor
}

function unixNow(deps: AuthDeps): number {
  return (deps.services.clock ?? Date.now)() / 1000
}

export async function enroll(c: AuthContext, deps: AuthDeps): Promise<Response> {
  const user = c.get('user')
  sessionOf(c)
  const body = await readBody(c)
  const type = str(body, 'factor_type')
  if (type === 'phone') throw unprocessable('mfa_phone_enroll_not_enabled', 'MFA enroll is disabled for Phone')
  if (type === 'webauthn') throw unprocessable('mfa_webauthn_enroll_not_enabled', 'MFA enroll is disabled for WebAuthn')
  if (type !== 'totp') throw validationFailed('factor_type needs to be totp, phone, or webauthn')
  if (user.is_anonymous) throw authError(403, 'no_authorization', 'Anonymous users cannot enroll MFA factors')
  const friendlyName = (str(body, 'friendly_name') ?? '').trim()
  const issuer = (str(body, 'issuer') ?? '').trim() || new URL(deps.services.config.siteUrl).hostname
  const account = user.email || user.phone || user.id

  const created = await deps.transaction(async (tx) => {
    // One enrolment at a time per user: the counts below stay true until commit.
    await findUserById(tx, user.id, { forUpdate: true })
    const factors = await listFactors(tx, [user.id])
    if (factors.length >= MAX_ENROLLED_FACTORS) throw unprocessable('too_many_enrolled_mfa_factors', 'Maximum number of verified factors reached, unenroll to continue')
    if (factors.some((f) => f.status === 'verified') && !aal2(c)) throw unprocessable('insufficient_aal', 'AAL2 required to enroll a new factor')
    if (friendlyName && factors.some((f) => f.friendly_name === friendlyName)) {
      throw unprocessable('mfa_factor_name_conflict', `A factor with the friendly name "${friendlyName}" for this user already exists`)
    }
    const secret = newTotpSecret()
    const factor = await insertTotpFactor(tx, { userId: user.id, friendlyName, secret })
    await writeAudit(tx, { action: 'factor_in_progress', actorId: user.id, actorUsername: account, ip: clientIp(c), traits: { factor_id: factor.id } })
    return { factor, secret }
  })
  const uri = totpUri(created.secret, issuer, account)
  return c.json({
    id: created.factor.id,
    type: 'totp',
    friendly_name: created.factor.friendly_name ?? '',
    totp: { qr_code: renderSVG(uri), secret: created.secret, uri },
  })
}

export async function challenge(c: AuthContext, deps: AuthDeps): Promise<Response> {
  await limitClient(c, deps.limits.verify)
  const user = c.get('user')
  sessionOf(c)
  const factorId = factorIdParam(c)
  const created = await deps.transaction(async (tx) => {
    const factor = await ownFactor(tx, user, factorId)
    if (factor.factor_type === 'phone') throw unprocessable('mfa_phone_verify_not_enabled', 'MFA verification is disabled for Phone')
    if (factor.factor_type !== 'totp') throw unprocessable('mfa_webauthn_verify_not_enabled', 'MFA verification is disabled for WebAuthn')
    const row = await insertChallenge(tx, factor.id, clientIp(c))
    await writeAudit(tx, { action: 'challenge_created', actorId: user.id, actorUsername: user.email ?? '', ip: clientIp(c), traits: { factor_id: factor.id, challenge_id: row.id } })
    return row
  })
  return c.json({ id: created.id, type: 'totp', expires_at: Math.floor(new Date(created.created_at).getTime() / 1000) + CHALLENGE_EXPIRY_SECONDS })
}

export async function verify(c: AuthContext, deps: AuthDeps): Promise<Response> {
  await limitClient(c, deps.limits.verify)
  const user = c.get('user')
  const sessionId = sessionOf(c)
  const factorId = factorIdParam(c)
  const body = await readBody(c)
  const challengeId = str(body, 'challenge_id') ?? ''
  const code = (str(body, 'code') ?? '').trim()
  if (!code) throw validationFailed('MFA verification requires a code')
  if (!UUID_PATTERN.test(challengeId)) throw notFound('mfa_factor_not_found', 'MFA factor with the provided challenge ID not found')
  const ip = clientIp(c)

  const factor = await deps.transaction(async (tx) => {
    const found = await ownFactor(tx, user, factorId)
    const row = await lockChallenge(tx, found.id, challengeId.toLowerCase(), ip)
    if (!row) throw notFound('mfa_factor_not_found', 'MFA factor with the provided challenge ID not found')
    if (row.verified_at || row.age_seconds > CHALLENGE_EXPIRY_SECONDS) {
      throw unprocessable('mfa_challenge_expired', `MFA challenge ${row.id} has expired, verify against another challenge or create a new challenge.`)
    }
    if (!row.same_ip) throw unprocessable('mfa_ip_address_mismatch', 'Challenge and verify IP addresses mismatch')
    return found
  })
  // Counted before the comparison, outside the transaction, so a refused guess still counts.
  await deps.limits.mfa.take(`factor:${factor.id}`, 'Too many MFA verification attempts for this factor. Try again in {seconds} seconds.')

  const session = await deps.transaction(async (tx) => {
    const now = unixNow(deps)
    const step = matchTotp(factor.secret ?? '', code, now)
    const last = await lastVerifiedAt(tx, factor.id)
    // Any code accepted at the last verification had a step ≤ its step + 1: none of those again.
    const replayed = step !== undefined && last !== undefined && step <= timeStep(last) + 1
    if (step === undefined || replayed) {
      await writeAudit(tx, { action: 'verification_attempted', actorId: user.id, actorUsername: user.email ?? '', ip, traits: { factor_id: factor.id, status: 'failed' } })
      return undefined
    }
    await completeChallenge(tx, { challengeId: challengeId.toLowerCase(), factorId: factor.id, sessionId })
    await writeAudit(tx, { action: 'verification_attempted', actorId: user.id, actorUsername: user.email ?? '', ip, traits: { factor_id: factor.id, status: 'verified' } })
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
    }, customAccessTokenHook(deps.config.customAccessTokenHook, tx, user.id, 'totp'))
  })
  if (!session) throw unprocessable('mfa_verification_failed', 'Invalid TOTP code entered')
  await deps.limits.mfa.reset(`factor:${factor.id}`)
  return c.json(session)
}

export async function unenroll(c: AuthContext, deps: AuthDeps): Promise<Response> {
  const user = c.get('user')
  sessionOf(c)
  const factorId = factorIdParam(c)
  await deps.transaction(async (tx) => {
    const factor = await ownFactor(tx, user, factorId)
    if (factor.status === 'verified' && !aal2(c)) throw unprocessable('insufficient_aal', 'AAL2 required to unenroll verified factor')
    await deleteFactor(tx, user.id, factor.id)
    await downgradeSessions(tx, factor.id)
    await writeAudit(tx, { action: 'factor_unenrolled', actorId: user.id, actorUsername: user.email ?? '', ip: clientIp(c), traits: { factor_id: factor.id } })
  })
  return c.json({ id: factorId })
}

function userIdParam(c: AuthContext): string {
  const id = c.req.param('id') ?? ''
  if (!UUID_PATTERN.test(id)) throw notFound('user_not_found', 'User not found')
  return id.toLowerCase()
}

export async function adminListFactors(c: AuthContext, deps: AuthDeps): Promise<Response> {
  const userId = userIdParam(c)
  const factors = await deps.transaction(async (tx) => {
    if (!(await findUserById(tx, userId))) throw notFound('user_not_found', 'User not found')
    return listFactors(tx, [userId])
  })
  return c.json(factors.map(factorJson))
}

export async function adminDeleteFactor(c: AuthContext, deps: AuthDeps): Promise<Response> {
  const userId = userIdParam(c)
  const factorId = factorIdParam(c)
  const deleted = await deps.transaction(async (tx) => {
    const user = await findUserById(tx, userId)
    if (!user) throw notFound('user_not_found', 'User not found')
    const factor = await deleteFactor(tx, userId, factorId)
    if (!factor) throw notFound('mfa_factor_not_found', 'Factor not found')
    await downgradeSessions(tx, factor.id)
    await writeAudit(tx, { action: 'factor_deleted', actorId: user.id, actorUsername: user.email ?? '', ip: clientIp(c), traits: { factor_id: factor.id } })
    return factor
  })
  return c.json(factorJson(deleted))
}
