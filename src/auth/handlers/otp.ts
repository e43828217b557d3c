/**
 * `POST /otp` (and the older `POST /magiclink`): an email OTP / magic link. An unknown email with
 * `create_user` (the default) is signed up with a random password first; an unconfirmed user
 * gets a confirmation mail, a confirmed one a magic link (both verify as `type: email`).
 * @module
 */
import type { AuthContext, AuthDeps } from '../context.ts'
import { randomPassword } from '../crypto.ts'
import { sendFlowMail } from '../email-flows.ts'
import { badRequest, unprocessable } from '../errors.ts'
import { createEmailUser } from '../models/email-user.ts'
import { writeAudit } from '../models/audit.ts'
import { findUserByEmail } from '../models/user.ts'
import { hashPassword } from '../password.ts'
import { limitClient } from '../rate-limit.ts'
import { bool, clientIp, obj, pkceParams, readBody, str } from '../request.ts'
import { DEFAULT_AUD } from '../tokens.ts'
import { redirectTarget, validateEmail } from '../validate.ts'

export async function otp(c: AuthContext, deps: AuthDeps): Promise<Response> {
  await limitClient(c, deps.limits.otp)
  const body = await readBody(c)
  if (str(body, 'phone')) throw badRequest('phone_provider_disabled', 'Unsupported phone provider')
  return sendMagicLink(c, deps, body)
}

export async function magicLink(c: AuthContext, deps: AuthDeps): Promise<Response> {
  await limitClient(c, deps.limits.otp)
  return sendMagicLink(c, deps, await readBody(c))
}

async function sendMagicLink(c: AuthContext, deps: AuthDeps, body: Record<string, unknown>): Promise<Response> {
  const email = validateEmail(str(body, 'email'))
  const data = obj(body, 'data') ?? {}
  const createUser = bool(body, 'create_user') ?? true
  const pkce = pkceParams(body)
  const redirectTo = redirectTarget(deps.config, deps.services.config.siteUrl, c.req.query('redirect_to'))
  const ip = clientIp(c)
  const password = await hashPassword(randomPassword())
  await deps.transaction(async (tx) => {
    let user = await findUserByEmail(tx, email)
    if (!user) {
      if (!createUser) throw unprocessable('otp_disabled', 'Signups not allowed for otp')
      if (deps.config.disableSignup) throw unprocessable('signup_disabled', 'Signups not allowed for this instance')
      user = await createEmailUser(tx, { email, encryptedPassword: password, data, aud: c.req.header('x-jwt-aud') || DEFAULT_AUD })
      await writeAudit(tx, { action: 'user_signedup', actorId: user.id, actorUsername: email, ip, traits: { provider: 'email' } })
    }
    if (user.banned) return // no mail for a banned user, and no hint either
    const kind = user.email_confirmed_at ? 'magiclink' : 'signup'
    await sendFlowMail(deps, tx, user, kind, { redirectTo, pkce })
    await writeAudit(tx, { action: kind === 'signup' ? 'user_confirmation_requested' : 'user_recovery_requested', actorId: user.id, actorUsername: email, ip })
  })
  return c.json({})
}
