/**
 * `GET /user`, `PUT /user` and `GET /reauthenticate` for the signed-in user.
 * @module
 */
import type { AuthContext, AuthDeps } from '../context.ts'
import { tokenHash } from '../crypto.ts'
import { sendEmailChange, sendReauthentication, clearOneTimeToken } from '../email-flows.ts'
import { authError, forbidden, unprocessable, validationFailed } from '../errors.ts'
import { writeAudit } from '../models/audit.ts'
import { hasVerifiedFactor } from '../models/factor.ts'
import { insertIdentity } from '../models/identity.ts'
import { deleteSessions } from '../models/session.ts'
import { findUserByEmail, findUserById, NOW, tokenSentWithin, updateUser, type UserPatch } from '../models/user.ts'
import { assertStrongPassword, hashPassword, verifyPassword } from '../password.ts'
import { countGuesses, overLimit, voidSpentCodes } from '../otp-guesses.ts'
import { limitClient } from '../rate-limit.ts'
import { clientIp, obj, pkceParams, readBody, str } from '../request.ts'
import { loadUserJson } from '../sign-in.ts'
import { DEFAULT_AUD } from '../tokens.ts'
import { redirectTarget, validateEmail } from '../validate.ts'

export async function getUser(c: AuthContext, deps: AuthDeps): Promise<Response> {
  const claims = c.get('claims')
  const audience = c.req.header('x-jwt-aud') || DEFAULT_AUD
  const tokenAud = Array.isArray(claims.aud) ? claims.aud[0] : claims.aud
  if (!tokenAud || tokenAud !== audience) throw validationFailed("Token audience doesn't match request audience")
  return c.json(await loadUserJson(await deps.services.database(), c.get('user')))
}

/** Merges metadata as GoTrue does: keys are set, a `null` value removes the key. */
export function mergeMetadata(current: Record<string, unknown> | null, patch: Record<string, unknown>): Record<string, unknown> {
  const out = { ...(current ?? {}) }
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key]
    else out[key] = value
  }
  return out
}

export async function updateCurrentUser(c: AuthContext, deps: AuthDeps): Promise<Response> {
  await limitClient(c, deps.limits.otp)
  const body = await readBody(c)
  const email = str(body, 'email')
  const password = str(body, 'password')
  const nonce = str(body, 'nonce')
  const phone = str(body, 'phone')
  const data = obj(body, 'data')
  const pkce = pkceParams(body)
  if (body.app_metadata !== undefined && body.app_metadata !== null) throw forbidden('not_admin', 'Updating app_metadata requires admin privileges')
  if (phone) throw authError(400, 'phone_provider_disabled', 'Unsupported phone provider')
  const newEmail = email ? validateEmail(email) : undefined
  if (password !== undefined) assertStrongPassword(password, deps.config)
  // With MFA on, a password alone (aal1) must not be enough to take the account over.
  if ((password !== undefined || newEmail) && c.get('claims').aal !== 'aal2' && (await hasVerifiedFactor(await deps.services.database(), c.get('user').id))) {
    throw authError(401, 'insufficient_aal', 'AAL2 session is required to update email or password when MFA is enabled.')
  }
  const redirectTo = redirectTarget(deps.config, deps.services.config.siteUrl, c.req.query('redirect_to'))
  const ip = clientIp(c)
  const encrypted = password !== undefined ? await hashPassword(password) : undefined
  const sessionId = c.get('sessionId')
  // The reauthentication nonce is an emailed code too: counted guesses (otp-guesses.ts).
  const guesses = password !== undefined && nonce !== undefined ? await countGuesses(deps, c.get('user').id, [{ column: 'reauthentication_token', owner: 'id' }]) : []
  const nonceInvalid = () => unprocessable('reauthentication_not_valid', 'Nonce has expired or is invalid')
  if (overLimit(deps, guesses).length > 0) {
    await voidSpentCodes(deps, guesses)
    throw nonceInvalid()
  }

  const json = await deps.transaction(async (tx) => {
    let user = (await findUserById(tx, c.get('user').id, { forUpdate: true }))!
    const actor = { actorId: user.id, actorUsername: user.email ?? user.phone ?? '', ip }
    const patch: UserPatch = {}
    if (data) patch.raw_user_meta_data = mergeMetadata(user.raw_user_meta_data, data)

    if (password !== undefined) {
      if (user.is_anonymous && !user.email && !user.phone && !newEmail) {
        throw unprocessable('validation_failed', 'Updating password of an anonymous user without an email or phone is not allowed')
      }
      if (await verifyPassword(password, user.encrypted_password)) throw unprocessable('same_password', 'New password should be different from the old password.')
      if (nonce !== undefined) {
        const valid = user.reauthentication_token !== '' && user.reauthentication_token === tokenHash(user.email ?? user.phone ?? '', nonce)
        const fresh = await tokenSentWithin(tx, user.id, 'reauthentication_sent_at', deps.config.otpExp)
        if (!valid || !fresh) throw nonceInvalid()
        patch.reauthentication_token = ''
        await clearOneTimeToken(tx, user.id, 'reauthentication_token')
      }
      patch.encrypted_password = encrypted
    }
    if (Object.keys(patch).length) user = await updateUser(tx, user.id, patch)
    if (password !== undefined) {
      // A new password signs out every other session of the user.
      if (sessionId) await deleteSessions(tx, user.id, 'others', sessionId)
      await writeAudit(tx, { action: 'user_updated_password', ...actor })
    }

    if (newEmail && newEmail !== user.email) {
      const taken = await findUserByEmail(tx, newEmail)
      if (taken && taken.id !== user.id) throw unprocessable('email_exists', 'A user with this email address has already been registered')
      if (user.is_anonymous && deps.services.config.authAutoconfirm) {
        // An anonymous user adding an email under autoconfirm becomes a permanent user at once.
        const identityData = { sub: user.id, email: newEmail, email_verified: true, phone_verified: false }
        await insertIdentity(tx, { userId: user.id, provider: 'email', providerId: user.id, data: identityData })
        user = await updateUser(tx, user.id, {
          email: newEmail,
          email_confirmed_at: NOW,
          is_anonymous: false,
          raw_app_meta_data: { ...(user.raw_app_meta_data ?? {}), provider: 'email', providers: ['email'] },
          raw_user_meta_data: { ...(user.raw_user_meta_data ?? {}), ...identityData },
        })
      } else {
        user = (await sendEmailChange(deps, tx, user, newEmail, { redirectTo, pkce })).user
      }
    }
    if (data || password !== undefined || newEmail) await writeAudit(tx, { action: 'user_modified', ...actor })
    return loadUserJson(tx, user)
  }).catch(async (error: unknown) => {
    if ((error as { code?: string }).code === 'reauthentication_not_valid') await voidSpentCodes(deps, guesses)
    throw error
  })
  return c.json(json)
}

export async function reauthenticate(c: AuthContext, deps: AuthDeps): Promise<Response> {
  const user = c.get('user')
  if (!user.email && !user.phone) throw validationFailed('Reauthentication requires the user to have an email or a phone number')
  if (!user.email) throw authError(400, 'phone_provider_disabled', 'Unsupported phone provider')
  if (!user.email_confirmed_at) throw unprocessable('email_not_confirmed', 'Please verify your email first.')
  const ip = clientIp(c)
  await deps.transaction(async (tx) => {
    const locked = (await findUserById(tx, user.id, { forUpdate: true }))!
    await sendReauthentication(deps, tx, locked)
    await writeAudit(tx, { action: 'user_reauthenticate_requested', actorId: user.id, actorUsername: user.email ?? '', ip })
  })
  return c.json({})
}
