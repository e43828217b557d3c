/**
 * `POST /signup`: email + password, phone + password (`AUTH_SMS_AUTOCONFIRM` only), or no email/phone for an anonymous user. With autoconfirm a
 * Session comes back at once; otherwise a confirmation mail goes out and the bare User returns.
 * An address that already has an account is never changed by a sign-up (see `resendConfirmation`).
 * @module
 */
import type { Queryable } from '../../db/types.ts'
import type { AuthContext, AuthDeps } from '../context.ts'
import { newId } from '../crypto.ts'
import { checkFrequency, sendFlowMail } from '../email-flows.ts'
import { badRequest, unprocessable, validationFailed } from '../errors.ts'
import { createEmailUser } from '../models/email-user.ts'
import { writeAudit } from '../models/audit.ts'
import { insertIdentity, mergeIdentityData } from '../models/identity.ts'
import { findUserByEmail, findUserByPhone, insertUser, NOW, updateUser, type UserRow } from '../models/user.ts'
import { assertStrongPassword, hashPassword } from '../password.ts'
import { limitClient } from '../rate-limit.ts'
import { clientIp, obj, pkceParams, readBody, str } from '../request.ts'
import { issueSession, loadUserJson } from '../sign-in.ts'
import { DEFAULT_AUD, DEFAULT_ROLE } from '../tokens.ts'
import { rfc3339 } from '../time.ts'
import { redirectTarget, validateEmail, validatePhone } from '../validate.ts'

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
  if (phone) return phoneSignup(c, deps, phone, password, data)
  const address = validateEmail(email)
  if (!password) throw validationFailed('Signup requires a valid password')
  assertStrongPassword(password, deps.config)
  const encrypted = await hashPassword(password)
  const autoconfirm = deps.services.config.authAutoconfirm
  const redirectTo = redirectTarget(deps.config, deps.services.config.siteUrl, c.req.query('redirect_to'))
  const ip = clientIp(c)
  const aud = c.req.header('x-jwt-aud') || DEFAULT_AUD

  const result = await deps.transaction(async (tx) => {
    const existing = await findUserByEmail(tx, address)
    if (existing) {
      await writeAudit(tx, { action: 'user_repeated_signup', actorId: existing.id, actorUsername: address, ip, traits: { provider: 'email' } })
      if (autoconfirm) return { kind: 'exists' as const }
      await resendConfirmation(deps, tx, existing, redirectTo)
      // Do not reveal that the address is taken: answer like a fresh sign-up, with a fake user.
      return { kind: 'user' as const, json: fakeUser(address, data, aud) }
    }
    let user = await createEmailUser(tx, { email: address, encryptedPassword: encrypted, data, aud })
    await writeAudit(tx, { action: 'user_signedup', actorId: user.id, actorUsername: address, ip, traits: { provider: 'email' } })
    if (autoconfirm) {
      user = await confirmEmail(tx, user)
      return { kind: 'session' as const, json: await issueSession(deps, tx, c, user, 'password') }
    }
    const sent = await sendFlowMail(deps, tx, user, 'signup', { redirectTo, pkce })
    await writeAudit(tx, { action: 'user_confirmation_requested', actorId: user.id, actorUsername: address, ip, traits: { provider: 'email' } })
    return { kind: 'user' as const, json: await loadUserJson(tx, sent.user) }
  })
  // Supabase's documented answer with autoconfirm on (the caller would get a session otherwise).
  if (result.kind === 'exists') throw unprocessable('user_already_exists', 'User already registered')
  return c.json(result.json)
}

/**
 * Phone + password. This service sends no SMS, so only with `AUTH_SMS_AUTOCONFIRM` (GoTrue's
 * `GOTRUE_SMS_AUTOCONFIRM`): the phone is confirmed at once and a Session comes back. A number
 * that has an account is GoTrue's 422 `user_already_exists`; the account is not changed.
 */
async function phoneSignup(c: AuthContext, deps: AuthDeps, rawPhone: string, password: string | undefined, data: Record<string, unknown>): Promise<Response> {
  if (!deps.config.smsAutoconfirm) throw badRequest('phone_provider_disabled', 'Unsupported phone provider')
  const phone = validatePhone(rawPhone)
  if (!password) throw validationFailed('Signup requires a valid password')
  assertStrongPassword(password, deps.config)
  const encrypted = await hashPassword(password)
  const ip = clientIp(c)
  const session = await deps.transaction(async (tx) => {
    const existing = await findUserByPhone(tx, phone)
    if (existing) {
      await writeAudit(tx, { action: 'user_repeated_signup', actorId: existing.id, actorUsername: phone, ip, traits: { provider: 'phone' } })
      return undefined
    }
    const id = newId()
    const identityData = { sub: id, phone, email_verified: false, phone_verified: true }
    const user = await insertUser(tx, {
      id,
      aud: c.req.header('x-jwt-aud') || DEFAULT_AUD,
      role: DEFAULT_ROLE,
      email: null,
      phone,
      encryptedPassword: encrypted,
      emailConfirmed: false,
      phoneConfirmed: true,
      appMetadata: { provider: 'phone', providers: ['phone'] },
      userMetadata: { ...data, ...identityData },
      isAnonymous: false,
    })
    await insertIdentity(tx, { userId: id, provider: 'phone', providerId: id, data: identityData })
    await writeAudit(tx, { action: 'user_signedup', actorId: id, actorUsername: phone, ip, traits: { provider: 'phone' } })
    return issueSession(deps, tx, c, user, 'password')
  })
  if (!session) throw unprocessable('user_already_exists', 'User already registered')
  return c.json(session)
}

/**
 * A repeated sign-up of an existing address never touches the account (its password, metadata
 * and PKCE state stay the owner's). An unconfirmed owner gets their confirmation mail again,
 * unless one went out within `AUTH_SMTP_MAX_FREQUENCY`: then nothing is sent and, unlike
 * GoTrue, no 429 tells the caller the address is pending.
 */
async function resendConfirmation(deps: AuthDeps, tx: Queryable, user: UserRow, redirectTo: string): Promise<void> {
  if (user.email_confirmed_at || user.banned) return
  try {
    await checkFrequency(deps, tx, user.id, 'confirmation_sent_at')
  } catch (error) {
    if ((error as { status?: number }).status === 429) return
    throw error
  }
  await sendFlowMail(deps, tx, user, 'signup', { redirectTo, checkFrequency: false })
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

/**
 * What a repeated sign-up of an existing address (confirmed or not) gets when confirmations are
 * on: GoTrue's `sanitizeUser` — a random id, no identities, only what the caller sent.
 */
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
