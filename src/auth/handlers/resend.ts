/**
 * `POST /resend {email, type: signup|email_change}`: sends the pending confirmation again.
 * @module
 */
import type { AuthContext, AuthDeps } from '../context.ts'
import { sendEmailChange, sendFlowMail } from '../email-flows.ts'
import { badRequest, validationFailed } from '../errors.ts'
import { findUserByEmail, findUserById, findUserIdWithPendingEmailChange, hasPendingPhoneCode } from '../models/user.ts'
import { limitClient } from '../rate-limit.ts'
import { pkceParams, readBody, str } from '../request.ts'
import { redirectTarget, validateEmail, validatePhone } from '../validate.ts'

/**
 * A phone code to resend: GoTrue answers `{}` when no confirmation is pending for the number (so
 * the answer says nothing about who has an account); a pending one would need an SMS provider,
 * which this service does not have.
 */
async function resendPhoneCode(c: AuthContext, deps: AuthDeps, type: 'sms' | 'phone_change', rawPhone: string | undefined): Promise<Response> {
  const phone = validatePhone(rawPhone)
  const pending = await deps.transaction((tx) => hasPendingPhoneCode(tx, type, phone))
  if (pending) throw badRequest('phone_provider_disabled', 'Unsupported phone provider')
  return c.json({})
}

export async function resend(c: AuthContext, deps: AuthDeps): Promise<Response> {
  await limitClient(c, deps.limits.otp)
  const body = await readBody(c)
  const type = str(body, 'type')
  if (type !== 'signup' && type !== 'email_change' && type !== 'sms' && type !== 'phone_change') {
    throw validationFailed('Missing one of these types: signup, email_change, sms, phone_change')
  }
  if (type === 'sms' || type === 'phone_change') return resendPhoneCode(c, deps, type, str(body, 'phone'))
  if (str(body, 'phone')) throw badRequest('phone_provider_disabled', 'Unsupported phone provider')
  const email = validateEmail(str(body, 'email'))
  const pkce = pkceParams(body)
  const redirectTo = redirectTarget(deps.config, deps.services.config.siteUrl, c.req.query('redirect_to'))
  await deps.transaction(async (tx) => {
    if (type === 'signup') {
      const user = await findUserByEmail(tx, email)
      // Unknown or already confirmed: nothing to send, and nothing to reveal.
      if (!user || user.email_confirmed_at) return
      await sendFlowMail(deps, tx, user, 'signup', { redirectTo, pkce })
      return
    }
    const id = await findUserIdWithPendingEmailChange(tx, email)
    if (!id) return
    const user = (await findUserById(tx, id, { forUpdate: true }))!
    await sendEmailChange(deps, tx, user, user.email_change!, { redirectTo, pkce })
  })
  return c.json({})
}
