/**
 * `POST /recover`: mails a recovery link/OTP. Always `{}`, also for unknown emails, so the
 * endpoint does not reveal who has an account.
 * @module
 */
import type { AuthContext, AuthDeps } from '../context.ts'
import { sendFlowMail } from '../email-flows.ts'
import { validationFailed } from '../errors.ts'
import { writeAudit } from '../models/audit.ts'
import { findUserByEmail } from '../models/user.ts'
import { limitClient } from '../rate-limit.ts'
import { clientIp, pkceParams, readBody, str } from '../request.ts'
import { redirectTarget, validateEmail } from '../validate.ts'

export async function recover(c: AuthContext, deps: AuthDeps): Promise<Response> {
  await limitClient(c, deps.limits.otp)
  const body = await readBody(c)
  const raw = str(body, 'email')
  if (!raw) throw validationFailed('Password recovery requires an email')
  const email = validateEmail(raw)
  const pkce = pkceParams(body)
  const redirectTo = redirectTarget(deps.config, deps.services.config.siteUrl, c.req.query('redirect_to'))
  const ip = clientIp(c)
  await deps.transaction(async (tx) => {
    const user = await findUserByEmail(tx, email)
    if (!user) return
    await sendFlowMail(deps, tx, user, 'recovery', { redirectTo, pkce })
    await writeAudit(tx, { action: 'user_recovery_requested', actorId: user.id, actorUsername: email, ip })
  })
  return c.json({})
}
