/**
 * `POST /invite {email, data}` (admin): creates the user if needed and mails an invite link,
 * verified with `type=invite`. A confirmed address is refused with 422 `email_exists`.
 * @module
 */
import type { Queryable } from '../../db/types.ts'
import type { AuthContext, AuthDeps } from '../context.ts'
import { sendFlowMail } from '../email-flows.ts'
import { unprocessable } from '../errors.ts'
import { createEmailUser } from '../models/email-user.ts'
import { writeAudit } from '../models/audit.ts'
import { findUserByEmail, NOW, updateUser, type UserRow } from '../models/user.ts'
import { clientIp, obj, readBody, str } from '../request.ts'
import { loadUserJson } from '../sign-in.ts'
import { DEFAULT_AUD } from '../tokens.ts'
import { redirectTarget, validateEmail } from '../validate.ts'

/** The invited user (created without a password when new), with `invited_at` stamped. */
export async function invitedUser(c: AuthContext, tx: Queryable, email: string, data: Record<string, unknown>): Promise<UserRow> {
  let user = await findUserByEmail(tx, email)
  if (user?.email_confirmed_at) throw unprocessable('email_exists', 'A user with this email address has already been registered')
  user ??= await createEmailUser(tx, { email, encryptedPassword: '', data, aud: c.req.header('x-jwt-aud') || DEFAULT_AUD })
  return updateUser(tx, user.id, { invited_at: NOW })
}

export async function invite(c: AuthContext, deps: AuthDeps): Promise<Response> {
  const body = await readBody(c)
  const email = validateEmail(str(body, 'email'))
  const data = obj(body, 'data') ?? {}
  const redirectTo = redirectTarget(deps.config, deps.services.config.siteUrl, c.req.query('redirect_to'))
  const ip = clientIp(c)
  const json = await deps.transaction(async (tx) => {
    const user = await invitedUser(c, tx, email, data)
    const sent = await sendFlowMail(deps, tx, user, 'invite', { redirectTo, checkFrequency: false })
    await writeAudit(tx, { action: 'user_invited', actorId: user.id, actorUsername: email, ip, traits: { user_email: email } })
    return loadUserJson(tx, sent.user)
  })
  return c.json(json)
}
