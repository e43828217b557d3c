/**
 * `POST /verify` (OTP or token hash → Session) and `GET /verify` (the email link → 303 to the
 * app, with the session in the fragment, or `?code=` for PKCE). Types: signup, invite,
 * magiclink, recovery, email_change, and `email` (confirmation first, then recovery).
 * @module
 */
import { HttpError } from '../../errors.ts'
import type { Queryable } from '../../db/types.ts'
import type { AuthContext, AuthDeps } from '../context.ts'
import { tokenHash } from '../crypto.ts'
import { clearOneTimeToken } from '../email-flows.ts'
import { authError, forbidden, validationFailed, type AuthError } from '../errors.ts'
import { writeAudit } from '../models/audit.ts'
import { mergeIdentityData } from '../models/identity.ts'
import { issueLatestAuthCode } from '../models/flow-state.ts'
import { findUserByToken, NOW, tokenSentWithin, updateUser, type SentAtColumn, type TokenColumn, type UserRow } from '../models/user.ts'
import { countGuesses, overLimit, voidSpentCodes } from '../otp-guesses.ts'
import { limitClient } from '../rate-limit.ts'
import { clientIp, readBody, str } from '../request.ts'
import { issueSession } from '../sign-in.ts'
import type { SessionJson } from '../tokens.ts'
import { redirectTarget, validateEmail, validatePhone } from '../validate.ts'
import { confirmEmail } from './signup.ts'

const TYPES = ['signup', 'invite', 'magiclink', 'recovery', 'email_change', 'email'] as const
type VerifyType = (typeof TYPES)[number]
const PHONE_TYPES = new Set(['sms', 'phone_change'])

/** Which token columns a type is looked up in, in order, with the `*_sent_at` that dates them. */
const LOOKUP: Record<VerifyType, Array<{ column: TokenColumn; sentAt: SentAtColumn; as: Exclude<VerifyType, 'email'> }>> = {
  signup: [{ column: 'confirmation_token', sentAt: 'confirmation_sent_at', as: 'signup' }],
  invite: [{ column: 'confirmation_token', sentAt: 'confirmation_sent_at', as: 'invite' }],
  magiclink: [{ column: 'recovery_token', sentAt: 'recovery_sent_at', as: 'magiclink' }],
  recovery: [{ column: 'recovery_token', sentAt: 'recovery_sent_at', as: 'recovery' }],
  email_change: [
    { column: 'email_change_token_new', sentAt: 'email_change_sent_at', as: 'email_change' },
    { column: 'email_change_token_current', sentAt: 'email_change_sent_at', as: 'email_change' },
  ],
  email: [
    { column: 'confirmation_token', sentAt: 'confirmation_sent_at', as: 'signup' },
    { column: 'recovery_token', sentAt: 'recovery_sent_at', as: 'magiclink' },
  ],
}

type Outcome =
  | { kind: 'session'; session: SessionJson; type: string }
  | { kind: 'pkce'; authCode: string }
  | { kind: 'message'; body: Record<string, unknown> }

interface Match {
  user: UserRow
  column: TokenColumn
  as: Exclude<VerifyType, 'email'>
  pkce: boolean
}

/** Finds the user holding `hash` in one of the type's columns, within the OTP lifetime. */
async function findMatch(deps: AuthDeps, tx: Queryable, type: VerifyType, hash: string, email?: string): Promise<Match | undefined> {
  for (const spec of LOOKUP[type]) {
    const user = await findUserByToken(tx, spec.column, hash)
    if (!user) continue
    if (email) {
      // The hash binds the address; make sure it is this user's (new or current) address.
      const address = spec.column === 'email_change_token_new' ? user.email_change : user.email
      if ((address ?? '').toLowerCase() !== email) continue
    }
    if (!(await tokenSentWithin(tx, user.id, spec.sentAt, deps.config.otpExp))) return undefined
    return { user, column: spec.column, as: spec.as, pkce: (user[spec.column] ?? '').startsWith('pkce_') }
  }
  return undefined
}

/** Applies a verified token: confirms, completes the email change, or half-confirms it. */
async function apply(deps: AuthDeps, tx: Queryable, c: AuthContext, match: Match): Promise<UserRow | { halfway: true }> {
  const ip = clientIp(c)
  let user = match.user
  if (user.banned) throw forbidden('user_banned', 'User is banned')
  await clearOneTimeToken(tx, user.id, match.column)
  switch (match.as) {
    case 'signup':
    case 'invite':
      user = await confirmEmail(tx, user)
      await writeAudit(tx, { action: match.as === 'invite' ? 'invite_accepted' : 'user_signedup', actorId: user.id, actorUsername: user.email ?? '', ip })
      return user
    case 'magiclink':
    case 'recovery':
      user = await updateUser(tx, user.id, { recovery_token: '' })
      if (!user.email_confirmed_at) user = await confirmEmail(tx, user)
      return user
    case 'email_change': {
      const secure = deps.config.secureEmailChange && user.email_change_token_current !== '' && user.email_change_token_current !== null
      if (secure && (user.email_change_confirm_status ?? 0) === 0) {
        await updateUser(tx, user.id, { [match.column]: '', email_change_confirm_status: 1 })
        return { halfway: true }
      }
      const newEmail = user.email_change ?? ''
      await mergeIdentityData(tx, user.id, 'email', { email: newEmail, email_verified: true })
      user = await updateUser(tx, user.id, {
        email: newEmail,
        email_change: '',
        email_change_token_new: '',
        email_change_token_current: '',
        email_change_confirm_status: 0,
        email_confirmed_at: NOW,
        is_anonymous: false,
        raw_user_meta_data: { ...(user.raw_user_meta_data ?? {}), email: newEmail, email_verified: true },
      })
      await clearOneTimeToken(tx, user.id, 'email_change_token_new')
      await clearOneTimeToken(tx, user.id, 'email_change_token_current')
      await writeAudit(tx, { action: 'user_modified', actorId: user.id, actorUsername: newEmail, ip })
      return user
    }
  }
}

function parseType(raw: string | undefined): VerifyType {
  const type = TYPES.find((t) => t === raw)
  if (!type) throw validationFailed(raw ? `Unsupported verification type "${raw}"` : 'Verify requires a verification type')
  return type
}

const HALFWAY = { msg: 'Confirmation link accepted. Please proceed to confirm link sent to the other email', code: '200' }

async function verify(c: AuthContext, deps: AuthDeps, input: { type: VerifyType; tokenHash?: string; token?: string; email?: string; viaLink: boolean }): Promise<Outcome> {
  const expired: AuthError = authError(403, 'otp_expired', input.tokenHash ? 'Email link is invalid or has expired' : 'Token has expired or is invalid')
  return deps.transaction(async (tx) => {
    // A link carries the stored hash; an OTP is hashed with the address it was sent to.
    const hash = input.tokenHash ? input.tokenHash.replace(/^pkce_/, '') : tokenHash(input.email!, input.token!)
    const match = await findMatch(deps, tx, input.type, hash, input.tokenHash ? undefined : input.email)
    if (!match) throw expired
    const applied = await apply(deps, tx, c, match)
    if ('halfway' in applied) return { kind: 'message', body: HALFWAY }
    if (match.pkce && input.viaLink) {
      // The PKCE email link: hand out the auth code; the client exchanges it with its verifier.
      const authCode = await issueLatestAuthCode(tx, applied.id)
      if (!authCode) throw authError(404, 'flow_state_not_found', 'invalid flow state, no valid flow state found')
      return { kind: 'pkce', authCode }
    }
    return { kind: 'session', session: await issueSession(deps, tx, c, applied, 'otp'), type: match.as }
  })
}

/**
 * A code sent with its address is a guess at that user's codes of the type: counted before it is
 * compared (otp-guesses.ts). Over the limit it is not compared at all; a wrong guess that uses up
 * the last attempt voids the code. A `token_hash` names no user and cannot be guessed (it is a
 * hash); it is limited per client only.
 */
async function guarded(deps: AuthDeps, type: VerifyType, email: string | undefined, token: string | undefined, run: () => Promise<Outcome>): Promise<Outcome> {
  if (!email || !token) return run()
  const targets = LOOKUP[type].map((spec) => ({ column: spec.column, owner: spec.column === 'email_change_token_new' ? ('email_change' as const) : ('email' as const) }))
  const guesses = await countGuesses(deps, email, targets)
  const over = overLimit(deps, guesses)
  if (over.length > 0) {
    await voidSpentCodes(deps, over)
    if (over.length === guesses.length) throw authError(403, 'otp_expired', 'Token has expired or is invalid')
  }
  try {
    return await run()
  } catch (error) {
    if (error instanceof HttpError && error.code === 'otp_expired') await voidSpentCodes(deps, guesses)
    throw error
  }
}

/**
 * `sms` / `phone_change` codes: this service sends no SMS, so no phone code is ever outstanding
 * and every one is wrong. The answer is GoTrue's for a wrong code (after its phone format check),
 * not an "unsupported" error, so clients handle it as they handle a mistyped code.
 */
function verifyPhoneCode(body: Record<string, unknown>): never {
  const token = str(body, 'token')
  const phone = str(body, 'phone')
  if (!token && !str(body, 'token_hash')) throw validationFailed('Verify requires either a token or a token hash')
  if (!phone) throw validationFailed('Verify requires an email or a phone number')
  validatePhone(phone)
  throw authError(403, 'otp_expired', 'Token has expired or is invalid')
}

export async function verifyPost(c: AuthContext, deps: AuthDeps): Promise<Response> {
  await limitClient(c, deps.limits.verify)
  const body = await readBody(c)
  if (PHONE_TYPES.has(str(body, 'type') ?? '')) verifyPhoneCode(body)
  const type = parseType(str(body, 'type'))
  const token = str(body, 'token')
  const hash = str(body, 'token_hash')
  const email = str(body, 'email')
  const phone = str(body, 'phone')
  if (phone) throw authError(400, 'phone_provider_disabled', 'Unsupported phone provider')
  if (!token && !hash) throw validationFailed('Verify requires either a token or a token hash')
  if (hash && (email || phone || c.req.query('redirect_to'))) throw validationFailed('Only the token_hash and type should be provided')
  if (token && !email) throw validationFailed('Verify requires an email or a phone number')
  const address = email ? validateEmail(email) : undefined
  const outcome = await guarded(deps, type, address, token, () => verify(c, deps, { type, token, tokenHash: hash, email: address, viaLink: false }))
  if (outcome.kind === 'message') return c.json(outcome.body)
  if (outcome.kind === 'pkce') return c.json({})
  return c.json(outcome.session)
}

export async function verifyGet(c: AuthContext, deps: AuthDeps): Promise<Response> {
  const redirectTo = redirectTarget(deps.config, deps.services.config.siteUrl, c.req.query('redirect_to'))
  const token = c.req.query('token') ?? ''
  const pkce = token.startsWith('pkce_')
  try {
    await limitClient(c, deps.limits.verify)
    const type = parseType(c.req.query('type'))
    if (!token) throw validationFailed('Verify requires a token')
    const outcome = await verify(c, deps, { type, tokenHash: token, viaLink: true })
    if (outcome.kind === 'pkce') return c.redirect(withParams(redirectTo, 'query', { code: outcome.authCode }), 303)
    if (outcome.kind === 'message') {
      return c.redirect(withParams(redirectTo, 'fragment', { message: HALFWAY.msg, sb: '' }), 303)
    }
    const s = outcome.session
    return c.redirect(
      withParams(redirectTo, 'fragment', {
        access_token: s.access_token,
        expires_at: String(s.expires_at),
        expires_in: String(s.expires_in),
        refresh_token: s.refresh_token,
        token_type: 'bearer',
        type: outcome.type,
        sb: '',
      }),
      303,
    )
  } catch (error) {
    const known = error as { status?: number; code?: string; message?: string }
    if (typeof known?.status !== 'number' || known.status >= 500) throw error
    const params = { error: known.status === 403 ? 'access_denied' : 'invalid_request', error_code: known.code ?? 'unexpected_failure', error_description: known.message ?? '', sb: '' }
    return c.redirect(withParams(redirectTo, pkce ? 'query' : 'fragment', params), 303)
  }
}

/** Appends parameters to the query or the fragment of `url`. */
function withParams(url: string, where: 'query' | 'fragment', params: Record<string, string>): string {
  const encoded = new URLSearchParams(params).toString()
  if (where === 'fragment') return `${url.split('#')[0]}#${encoded}`
  const target = new URL(url)
  for (const [k, v] of Object.entries(params)) target.searchParams.set(k, v)
  return target.toString()
}
