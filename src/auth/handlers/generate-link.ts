/**
 * `POST /admin/generate_link`: builds the link (and OTP) of an email flow without sending it, and
 * returns the user flattened with `action_link, email_otp, hashed_token, verification_type,
 * redirect_to` (the client splits them into `{properties, user}`).
 * @module
 */
import type { AuthContext, AuthDeps } from '../context.ts'
import { randomPassword } from '../crypto.ts'
import { sendEmailChange, sendFlowMail, verifyLink } from '../email-flows.ts'
import { notFound, unprocessable, validationFailed } from '../errors.ts'
import { createEmailUser } from '../models/email-user.ts'
import { findUserByEmail, type UserRow } from '../models/user.ts'
import { assertStrongPassword, hashPassword } from '../password.ts'
import { obj, readBody, str } from '../request.ts'
import { loadUserJson } from '../sign-in.ts'
import { DEFAULT_AUD } from '../tokens.ts'
import { redirectTarget, validateEmail } from '../validate.ts'
import { invitedUser } from './invite.ts'

const TYPES = ['signup', 'invite', 'magiclink', 'recovery', 'email_change_current', 'email_change_new'] as const

export async function generateLink(c: AuthContext, deps: AuthDeps): Promise<Response> {
  const body = await readBody(c)
  const type = TYPES.find((t) => t === str(body, 'type'))
  if (!type) throw validationFailed(`Invalid type: must be one of ${TYPES.join(', ')}`)
  const email = validateEmail(str(body, 'email'))
  const password = str(body, 'password')
  const newEmailRaw = str(body, 'new_email')
  const data = obj(body, 'data') ?? {}
  const redirectTo = redirectTarget(deps.config, deps.services.config.siteUrl, c.req.query('redirect_to') ?? str(body, 'redirect_to'))
  if (type === 'signup') {
    if (!password) throw validationFailed('Signup requires a valid password')
    assertStrongPassword(password, deps.config)
  }
  const newEmail = type.startsWith('email_change') ? validateEmail(newEmailRaw) : undefined
  const encrypted = await hashPassword(password ?? randomPassword())

  const result = await deps.transaction(async (tx) => {
    let user = await findUserByEmail(tx, email)
    const create = (): Promise<UserRow> => createEmailUser(tx, { email, encryptedPassword: encrypted, data, aud: c.req.header('x-jwt-aud') || DEFAULT_AUD, identityInMetadata: false })
    const options = { redirectTo, deliver: false, checkFrequency: false }
    switch (type) {
      case 'signup': {
        if (user?.email_confirmed_at) throw unprocessable('email_exists', 'A user with this email address has already been registered')
        user ??= await create()
        const sent = await sendFlowMail(deps, tx, user, 'signup', options)
        return { user: sent.user, otp: sent.otp, hash: sent.hash, link: sent.link, verification: 'signup' }
      }
      case 'invite': {
        user = await invitedUser(c, tx, email, data)
        const sent = await sendFlowMail(deps, tx, user, 'invite', options)
        return { user: sent.user, otp: sent.otp, hash: sent.hash, link: sent.link, verification: 'invite' }
      }
      case 'magiclink': {
        // Unknown email: the link signs the user up.
        const kind = !user ? 'signup' : 'magiclink'
        user ??= await create()
        const sent = await sendFlowMail(deps, tx, user, kind, options)
        return { user: sent.user, otp: sent.otp, hash: sent.hash, link: sent.link, verification: kind }
      }
      case 'recovery': {
        if (!user) throw notFound('user_not_found', 'User with this email not found')
        const sent = await sendFlowMail(deps, tx, user, 'recovery', options)
        return { user: sent.user, otp: sent.otp, hash: sent.hash, link: sent.link, verification: 'recovery' }
      }
      default: {
        if (!user) throw notFound('user_not_found', 'User with this email not found')
        const taken = await findUserByEmail(tx, newEmail!)
        if (taken) throw unprocessable('email_exists', 'A user with this email address has already been registered')
        const sent = await sendEmailChange(deps, tx, user, newEmail!, options)
        const current = type === 'email_change_current' && sent.hashCurrent !== undefined
        const hash = current ? sent.hashCurrent! : sent.hashNew
        return { user: sent.user, otp: current ? sent.otpCurrent! : sent.otpNew, hash, link: verifyLink(deps, hash, 'email_change', redirectTo), verification: type }
      }
    }
  })
  const userJson = await deps.transaction((tx) => loadUserJson(tx, result.user))
  return c.json({
    ...userJson,
    action_link: result.link,
    email_otp: result.otp,
    hashed_token: result.hash,
    verification_type: result.verification,
    redirect_to: redirectTo,
  })
}
