/**
 * `POST /signup`: email + password, or no email/phone for an anonymous user. With autoconfirm a
 * Session comes back at once; otherwise a confirmation mail goes out and the bare User returns.
 * @module
 */
import type { Queryable } from '../../db/types.ts'
import type { AuthContext, AuthDeps } from '../context.ts'
import { newId } from '../crypto.ts'
import { sendFlowMail } from '../email-flows.ts'
import { badRequest, unprocessable, validationFailed } from '../errors.ts'
import { createEmailUser } from '../models/email-user.ts'
import { writeAudit } from '../models/audit.ts'
import { mergeIdentityData } from '../models/identity.ts'
import { findUserByEmail, insertUser, NOW, updateUser, type UserRow } from '../models/user.ts'
import { assertStrongPassword, hashPassword } from '../password.ts'
import { limitClient } from '../rate-limit.ts'
import { clientIp, obj, pkceParams, readBody, str } from '../request.ts'
import { issueSession, loadUserJson } from '../sign-in.ts'
import { DEFAULT_AUD, DEFAULT_ROLE } from '../tokens.ts'
import { rfc3339 } from '../time.ts'
import { redirectTarget, validateEmail } from '../validate.ts'

export async function signup(c: AuthContext, deps: AuthDeps): Promise<Response> {
  const body = await readBody(c)
  const email = str(body, 'email')
  const phone = str(body, 'phone')
  const password = str(body, 'password')
  const data = obj(body, 'data') ?? {}
  const pkce = pkceParams(body)
  if (deps.config.disableSignup) throw unprocessable('signup_disabled', 'Signups not allowed for this instance')
  if (!email && !phone) return anonymousSignup(c, deps, data)
  if (email && phone) throw validationFailed('Only an email address or phone number should be provided on signup.')
  await limitClient(c, deps.limits.otp)
  if (phone) throw badRequest('phone_provider_disabled', 'Phone signups are disabled')
  const address = validateEmail(email)
  if (!password) throw validationFailed('Signup requires a valid password')
  assertStrongPassword(password, deps.config)
  const encrypted = await hashPassword(password)
  const autoconfirm = deps.services.config.authAutoconfirm
  const redirectTo = redirectTarget(deps.config, deps.services.config.siteUrl, c.req.query('redirect_to'))
  const ip = clientIp(c)
  const aud = c.req.header('x-jwt-aud') || DEFAULT_AUD

  const result = await deps.transaction(async (tx) => {
    let user = await findUserByEmail(tx, address)
    if (user?.email_confirmed_at) {
      if (autoconfirm) throw unprocessable('user_already_exists', 'User already registered')
      // Do not reveal that the address is taken: answer like a fresh sign-up, with a fake user.
      await writeAudit(tx, { action: 'user_repeated_signup', actorId: user.id, actorUsername: address, ip, traits: { provider: 'email' } })
      return { kind: 'user' as const, json: fakeUser(address, data, aud) }
    }
    if (user) {
      // An unconfirmed earlier sign-up: take the new password and data, send a fresh confirmation.
      const identityData = { sub: user.id, email: address, email_verified: false, phone_verified: false }
      user = await updateUser(tx, user.id, { encrypted_password: encrypted, raw_user_meta_data: { ...(user.raw_user_meta_data ?? {}), ...data, ...identityData } })
    } else {
      user = await createEmailUser(tx, { email: address, encryptedPassword: encrypted, data, aud })
    }
    await writeAudit(tx, { action: 'user_signedup', actorId: user.id, actorUsername: address, ip, traits: { provider: 'email' } })
    if (autoconfirm) {
      user = await confirmEmail(tx, user)
      return { kind: 'session' as const, json: await issueSession(deps, tx, c, user, 'password') }
    }
    const sent = await sendFlowMail(deps, tx, user, 'signup', { redirectTo, pkce })
    await writeAudit(tx, { action: 'user_confirmation_requested', actorId: user.id, actorUsername: address, ip, traits: { provider: 'email' } })
    return { kind: 'user' as const, json: await loadUserJson(tx, sent.user) }
  })
  return c.json(result.json)
}

/** Marks the email confirmed, in the row, the identity and `user_metadata.email_verified`. */
export async function confirmEmail(tx: Queryable, user: UserRow): Promise<UserRow> {
  await mergeIdentityData(tx, user.id, 'email', { email_verified: true })
  return updateUser(tx, user.id, {
    email_confirmed_at: user.email_confirmed_at ? user.email_confirmed_at : NOW,
    confirmation_token: '',
    raw_user_meta_data: { ...(user.raw_user_meta_data ?? {}), email_verified: true },
  })
}

async function anonymousSignup(c: AuthContext, deps: AuthDeps, data: Record<string, unknown>): Promise<Response> {
  if (!deps.config.anonymousUsers) throw unprocessable('anonymous_provider_disabled', 'Anonymous sign-ins are disabled')
  await limitClient(c, deps.limits.anonymous)
  const ip = clientIp(c)
  const session = await deps.transaction(async (tx) => {
    const user = await insertUser(tx, {
      id: newId(),
      aud: c.req.header('x-jwt-aud') || DEFAULT_AUD,
      role: DEFAULT_ROLE,
      email: null,
      phone: null,
      encryptedPassword: '',
      emailConfirmed: false,
      appMetadata: {},
      userMetadata: data,
      isAnonymous: true,
    })
    await writeAudit(tx, { action: 'user_signedup', actorId: user.id, actorUsername: '', ip, traits: { provider: 'anonymous' } })
    return issueSession(deps, tx, c, user, 'anonymous')
  })
  return c.json(session)
}

/** What a repeated sign-up of a confirmed address gets when confirmations are on. */
function fakeUser(email: string, data: Record<string, unknown>, aud: string): Record<string, unknown> {
  const now = rfc3339(new Date().toISOString())
  const id = newId()
  return {
    id,
    aud,
    role: '',
    email,
    phone: '',
    confirmation_sent_at: now,
    app_metadata: { provider: 'email', providers: ['email'] },
    user_metadata: data,
    identities: [],
    created_at: now,
    updated_at: now,
    is_anonymous: false,
  }
}
