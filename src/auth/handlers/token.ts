/**
 * `POST /token?grant_type=password|refresh_token|pkce`.
 * @module
 */
import { createHash } from 'node:crypto'
import type { AuthContext, AuthDeps } from '../context.ts'
import { verifierMatches } from '../crypto.ts'
import { badRequest, notFound, OAuthError, unprocessable, validationFailed } from '../errors.ts'
import { customAccessTokenHook, passwordVerificationAttempt } from '../hooks.ts'
import { deleteFlowState, lockFlowStateByAuthCode } from '../models/flow-state.ts'
import { deleteSessions, type AuthMethod } from '../models/session.ts'
import { findUserByEmail, findUserById, findUserByPhone } from '../models/user.ts'
import { passwordWeakness, verifyPassword } from '../password.ts'
import { limitClient } from '../rate-limit.ts'
import { refreshSession } from '../refresh.ts'
import { clientIp, readBody, str, userAgent } from '../request.ts'
import { issueSession } from '../sign-in.ts'
import { idTokenGrant, unsupportedGrant } from './unsupported.ts'
import { sessionJson } from '../tokens.ts'
import { userJson } from '../user-json.ts'
import { validatePhone } from '../validate.ts'

// Compared against when the user does not exist, so a miss costs as much as a wrong password.
const DUMMY_HASH = '$2a$10$B2HKSLY1HMcXvFo2BxEjceAjjbTYpmaHsT76h4151q5V8zlT3.re6'

/** The password throttle's key: the address itself, or a digest of an overlong one (no address is that long; it must not bloat the table). */
function accountKey(account: string): string {
  return account.length <= 320 ? account : `sha256:${createHash('sha256').update(account).digest('hex')}`
}

export async function token(c: AuthContext, deps: AuthDeps): Promise<Response> {
  await limitClient(c, deps.limits.token)
  const grant = c.req.query('grant_type')
  switch (grant) {
    case 'password':
      return passwordGrant(c, deps)
    case 'refresh_token':
      return refreshGrant(c, deps)
    case 'pkce':
      return pkceGrant(c, deps)
    case 'id_token':
      return idTokenGrant(c)
    default:
      return unsupportedGrant(grant)
  }
}

async function passwordGrant(c: AuthContext, deps: AuthDeps): Promise<Response> {
  const body = await readBody(c)
  const email = str(body, 'email')?.trim()
  const phone = str(body, 'phone')?.trim()
  const password = str(body, 'password') ?? ''
  if (!email && !phone) throw validationFailed('missing email or phone')
  const invalid = () => badRequest('invalid_credentials', 'Invalid login credentials')
  const phoneNumber = email ? undefined : validatePhone(phone)
  // Per account, known or not (so the answer tells nothing about who exists), counted before the
  // password is checked so a burst cannot outrun the count; the right password clears it.
  const account = accountKey(email ? `email:${email.toLowerCase()}` : `phone:${phoneNumber}`)
  await deps.limits.password.take(account, 'Too many sign-in attempts for this account. Try again in {seconds} seconds.')

  const user = await deps.transaction((tx) => (email ? findUserByEmail(tx, email) : findUserByPhone(tx, phoneNumber!)))
  if (!user) {
    await verifyPassword(password, DUMMY_HASH)
    throw invalid()
  }
  const valid = await verifyPassword(password, user.encrypted_password)
  const decision = await passwordVerificationAttempt(deps.config.passwordVerificationAttemptHook, await deps.services.database(), user.id, valid)
  if (decision.reject) {
    if (decision.logoutUser) await deps.transaction((tx) => deleteSessions(tx, user.id, 'global'))
    throw badRequest('invalid_credentials', decision.message)
  }
  if (!valid) throw invalid()
  // Only after the password: a ban is news for the account holder, not for whoever guesses emails.
  if (user.banned) throw badRequest('user_banned', 'User is banned')
  await deps.limits.password.reset(account)
  if (email && !user.email_confirmed_at) throw badRequest('email_not_confirmed', 'Email not confirmed')
  if (!email && !user.phone_confirmed_at) throw badRequest('phone_not_confirmed', 'Phone not confirmed')

  const session = await deps.transaction((tx) => issueSession(deps, tx, c, user, 'password'))
  const weak = passwordWeakness(password, deps.config)
  return c.json(weak ? { ...session, weak_password: weak } : session)
}

async function refreshGrant(c: AuthContext, deps: AuthDeps): Promise<Response> {
  const body = await readBody(c)
  const refreshToken = str(body, 'refresh_token')
  if (!refreshToken) throw new OAuthError(400, 'invalid_request', 'refresh_token required')
  const database = await deps.services.database()
  const refreshed = await refreshSession(database, {
    token: refreshToken,
    reuseIntervalSeconds: deps.config.refreshTokenReuseInterval,
    ip: clientIp(c),
    userAgent: userAgent(c),
  })
  const user = refreshed.user
  return c.json(
    await sessionJson(deps.services, {
      user,
      userJson: userJson(user, refreshed.identities),
      sessionId: refreshed.sessionId,
      aal: refreshed.aal,
      amr: refreshed.amr,
      refreshToken: refreshed.refreshToken,
      audience: c.req.header('x-jwt-aud') || undefined,
    }, customAccessTokenHook(deps.config.customAccessTokenHook, database, user.id, 'token_refresh')),
  )
}

/** Flow states live `FLOW_STATE_TTL` seconds (GoTrue's minimum, 300). */
const FLOW_STATE_TTL = 300

async function pkceGrant(c: AuthContext, deps: AuthDeps): Promise<Response> {
  const body = await readBody(c)
  const authCode = str(body, 'auth_code') ?? ''
  const verifier = str(body, 'code_verifier') ?? ''
  if (!authCode || !verifier) throw validationFailed('invalid request: both auth code and code verifier should be non-empty')
  const session = await deps.transaction(async (tx) => {
    const flow = await lockFlowStateByAuthCode(tx, authCode, FLOW_STATE_TTL)
    if (!flow || !flow.user_id) throw notFound('flow_state_not_found', 'invalid flow state, no valid flow state found')
    if (flow.expired) throw unprocessable('flow_state_expired', 'invalid flow state, flow state has expired')
    if (!verifierMatches(verifier, flow.code_challenge, flow.code_challenge_method)) {
      throw badRequest('bad_code_verifier', 'code challenge does not match previously saved code verifier')
    }
    await deleteFlowState(tx, flow.id)
    const user = await findUserById(tx, flow.user_id)
    if (!user) throw notFound('user_not_found', 'User not found')
    if (user.banned) throw badRequest('user_banned', 'User is banned')
    return issueSession(deps, tx, c, user, amrOfFlow(flow.authentication_method))
  })
  return c.json(session)
}

function amrOfFlow(method: string): AuthMethod {
  const known: AuthMethod[] = ['magiclink', 'email/signup', 'recovery', 'invite', 'email_change', 'otp']
  return (known as string[]).includes(method) ? (method as AuthMethod) : 'otp'
}
