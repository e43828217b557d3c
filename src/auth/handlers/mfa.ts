/**
 * MFA with TOTP (WebAuthn factors: mfa-webauthn.ts), as GoTrue serves it: `POST /factors` (enroll), `POST /factors/:id/challenge`,
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
import type { AuthContext, AuthDeps } from '../context.ts'
import { UUID_PATTERN } from '../crypto.ts'
import { notFound, unprocessable, validationFailed } from '../errors.ts'
import { writeAudit } from '../models/audit.ts'
import { deleteFactor, downgradeSessions, insertChallenge, insertTotpFactor, lastVerifiedAt, listFactors, lockChallenge } from '../models/factor.ts'
import { findUserById } from '../models/user.ts'
import { limitClient } from '../rate-limit.ts'
import { clientIp, readBody, str } from '../request.ts'
import { factorJson } from '../user-json.ts'
import { matchTotp, newTotpSecret, timeStep, totpUri } from '../totp.ts'
import { aal2, CHALLENGE_EXPIRY_SECONDS, checkNewFactor, factorIdParam, ownFactor, sessionOf, stepUp } from './mfa-common.ts'
import { challengeWebAuthn, enrollWebAuthn, verifyWebAuthn } from './mfa-webauthn.ts'

function unixNow(deps: AuthDeps): number {
  return (deps.services.clock ?? Date.now)() / 1000
}

export async function enroll(c: AuthContext, deps: AuthDeps): Promise<Response> {
  const user = c.get('user')
  sessionOf(c)
  const body = await readBody(c)
  const type = str(body, 'factor_type')
  if (type === 'phone') throw unprocessable('mfa_phone_enroll_not_enabled', 'MFA enroll is disabled for Phone')
  if (type === 'webauthn') return enrollWebAuthn(c, deps, body)
  if (type !== 'totp') throw validationFailed('factor_type needs to be totp, phone, or webauthn')
  const friendlyName = (str(body, 'friendly_name') ?? '').trim()
  const issuer = (str(body, 'issuer') ?? '').trim() || new URL(deps.services.config.siteUrl).hostname
  const account = user.email || user.phone || user.id

  const created = await deps.transaction(async (tx) => {
    await checkNewFactor(tx, c, user, friendlyName)
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
  const factor = await deps.transaction((tx) => ownFactor(tx, user, factorId))
  if (factor.factor_type === 'phone') throw unprocessable('mfa_phone_verify_not_enabled', 'MFA verification is disabled for Phone')
  if (factor.factor_type === 'webauthn') return challengeWebAuthn(c, deps, factor)
  const created = await deps.transaction(async (tx) => {
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
  const owned = await deps.transaction((tx) => ownFactor(tx, user, factorId))
  if (owned.factor_type === 'webauthn') return verifyWebAuthn(c, deps, owned, body)
  if (!code) throw validationFailed('MFA verification requires a code')
  if (!UUID_PATTERN.test(challengeId)) throw notFound('mfa_factor_not_found', 'MFA factor with the provided challenge ID not found')
  const ip = clientIp(c)

  const factor = owned
  await deps.transaction(async (tx) => {
    const row = await lockChallenge(tx, factor.id, challengeId.toLowerCase(), ip)
    if (!row) throw notFound('mfa_factor_not_found', 'MFA factor with the provided challenge ID not found')
    if (row.verified_at || row.age_seconds > CHALLENGE_EXPIRY_SECONDS) {
      throw unprocessable('mfa_challenge_expired', `MFA challenge ${row.id} has expired, verify against another challenge or create a new challenge.`)
    }
    if (!row.same_ip) throw unprocessable('mfa_ip_address_mismatch', 'Challenge and verify IP addresses mismatch')
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
    return stepUp(c, deps, tx, { user, sessionId, factor, challengeId: challengeId.toLowerCase(), method: 'totp' })
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
