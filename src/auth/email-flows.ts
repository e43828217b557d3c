/**
 * The emails of the auth flows (confirmation, invite, magic link, recovery, email change,
 * reauthentication). Each one stores `hex(sha224(email + otp))` in the user's token column and in
 * `auth.one_time_tokens` (GoTrue keeps both in step), optionally a PKCE `auth.flow_state`, and
 * mails the OTP plus a `/verify` link — or, with the send-email hook, hands all of that to the
 * hook's function in one call per flow, as GoTrue does.
 * @module
 */
import { ident } from '../db/sql.ts'
import type { Queryable } from '../db/types.ts'
import type { AuthDeps } from './context.ts'
import { newOtp, tokenHash } from './crypto.ts'
import { tooManyRequests } from './errors.ts'
import { sendEmailHook, type EmailData } from './hooks.ts'
import type { Mail, MailKind } from './mailer.ts'
import { createFlowState } from './models/flow-state.ts'
import { NOW, updateUser, type TokenColumn, type UserRow } from './models/user.ts'
import { limitEmailSent } from './rate-limit.ts'
import { loadUserJson } from './sign-in.ts'

export interface Pkce {
  challenge: string
  method: 's256' | 'plain'
}

export type VerificationType = 'signup' | 'invite' | 'magiclink' | 'recovery' | 'email_change'

/** One email flow: which column holds its token, which `*_sent_at` it stamps, what the mail says. */
interface FlowSpec {
  column: TokenColumn
  sentAt: string
  verifyType: VerificationType
  subject: string
  heading: string
  action: string
  /** `auth.flow_state.authentication_method` / `provider_type` for PKCE. */
  pkceMethod: string
  pkceProvider: string
}

const FLOWS: Record<Exclude<MailKind, 'email_change_current' | 'email_change_new' | 'reauthentication'>, FlowSpec> = {
  signup: { column: 'confirmation_token', sentAt: 'confirmation_sent_at', verifyType: 'signup', subject: 'Confirm Your Signup', heading: 'Confirm your signup', action: 'Confirm your mail', pkceMethod: 'email/signup', pkceProvider: 'email' },
  invite: { column: 'confirmation_token', sentAt: 'confirmation_sent_at', verifyType: 'invite', subject: 'You have been invited', heading: 'You have been invited', action: 'Accept the invite', pkceMethod: 'invite', pkceProvider: 'invite' },
  magiclink: { column: 'recovery_token', sentAt: 'recovery_sent_at', verifyType: 'magiclink', subject: 'Your Magic Link', heading: 'Magic Link', action: 'Log In', pkceMethod: 'magiclink', pkceProvider: 'magiclink' },
  recovery: { column: 'recovery_token', sentAt: 'recovery_sent_at', verifyType: 'recovery', subject: 'Reset Your Password', heading: 'Reset Password', action: 'Reset Password', pkceMethod: 'recovery', pkceProvider: 'recovery' },
}

/** The `one_time_tokens.token_type` of a users token column: the same name. */
export async function storeOneTimeToken(tx: Queryable, userId: string, column: TokenColumn, hash: string, relatesTo: string): Promise<void> {
  await tx.query('DELETE FROM auth.one_time_tokens WHERE user_id = $1 AND token_type = $2::auth.one_time_token_type', [userId, column])
  if (hash === '') return
  await tx.query(
    `INSERT INTO auth.one_time_tokens (id, user_id, token_type, token_hash, relates_to, created_at, updated_at)
     VALUES (gen_random_uuid(), $1, $2::auth.one_time_token_type, $3, $4, timezone('UTC', now()), timezone('UTC', now()))`,
    [userId, column, hash, relatesTo],
  )
}

export async function clearOneTimeToken(tx: Queryable, userId: string, column: TokenColumn): Promise<void> {
  await storeOneTimeToken(tx, userId, column, '', '')
}

/** 429 when the last mail of this kind went out less than `AUTH_SMTP_MAX_FREQUENCY` seconds ago. */
export async function checkFrequency(deps: AuthDeps, tx: Queryable, userId: string, sentAtColumn: string): Promise<void> {
  const wait = deps.config.smtpMaxFrequency
  if (wait <= 0) return
  // The column name comes from the closed FLOWS table above, never from a request.
  const { rows } = await tx.query<{ remaining: number | null }>(
    `SELECT ceil(extract(epoch FROM (${ident(sentAtColumn)} + make_interval(secs => $2)) - now()))::int AS remaining FROM auth.users WHERE id = $1`,
    [userId, wait],
  )
  const remaining = rows[0]?.remaining
  if (remaining !== null && remaining !== undefined && remaining > 0) {
    throw tooManyRequests('over_email_send_rate_limit', `For security purposes, you can only request this after ${remaining} seconds.`)
  }
}

export function verifyLink(deps: AuthDeps, hash: string, type: string, redirectTo: string): string {
  const params = new URLSearchParams({ token: hash, type, redirect_to: redirectTo })
  return `${deps.config.externalUrl}/verify?${params.toString()}`
}

function compose(kind: MailKind, to: string, subject: string, heading: string, action: string, otp: string, link: string | undefined): Mail {
  const linkHtml = link ? `<p><a href="${link.replace(/"/g, '&quot;')}">${action}</a></p>` : ''
  const text = [heading, '', link ? `${action}: ${link}` : '', `Alternatively, enter the code: ${otp}`].filter((l) => l !== '').join('\n')
  return { kind, to, subject, text, html: `<h2>${heading}</h2>${linkHtml}<p>Alternatively, enter the code: ${otp}</p>`, otp, link }
}

/**
 * Sends a flow's mails: through the send-email hook when one is configured (one call with the
 * user and `email_data`, no mail from here), else through the mailer.
 */
async function deliver(deps: AuthDeps, tx: Queryable, user: UserRow, mails: Mail[], data: Omit<EmailData, 'site_url' | 'token_new' | 'token_hash_new'> & Partial<EmailData>): Promise<void> {
  limitEmailSent(deps.limits.emailSent)
  const hook = deps.config.sendEmailHook
  if (hook) {
    await sendEmailHook(hook, tx, await loadUserJson(tx, user), { site_url: deps.config.externalUrl, token_new: '', token_hash_new: '', ...data })
    return
  }
  for (const mail of mails) await deps.mailer.send(tx, mail)
}

/**
 * Sends a confirmation / invite / magic link / recovery mail to the user's email and stores its
 * token. Returns the OTP and hashed token (generate_link hands them to the admin instead).
 */
export async function sendFlowMail(
  deps: AuthDeps,
  tx: Queryable,
  user: UserRow,
  kind: keyof typeof FLOWS,
  options: { redirectTo: string; pkce?: Pkce; deliver?: boolean; checkFrequency?: boolean },
): Promise<{ otp: string; hash: string; link: string; user: UserRow }> {
  const spec = FLOWS[kind]
  const email = user.email ?? ''
  if (options.checkFrequency !== false) await checkFrequency(deps, tx, user.id, spec.sentAt)
  const otp = newOtp(deps.config.otpLength)
  const hash = tokenHash(email, otp)
  const stored = options.pkce ? `pkce_${hash}` : hash
  const updated = await updateUser(tx, user.id, { [spec.column]: stored, [spec.sentAt]: NOW })
  await storeOneTimeToken(tx, user.id, spec.column, stored, email)
  if (options.pkce) await createFlowState(tx, user.id, options.pkce, spec.pkceProvider, spec.pkceMethod)
  const link = verifyLink(deps, stored, spec.verifyType, options.redirectTo)
  if (options.deliver !== false) {
    const mail = compose(kind, email, spec.subject, spec.heading, spec.action, otp, link)
    await deliver(deps, tx, updated, [mail], { token: otp, token_hash: stored, redirect_to: options.redirectTo, email_action_type: kind })
  }
  return { otp, hash: stored, link, user: updated }
}

/** Email change: a token for the new address, and (secure change) one for the current address. */
export async function sendEmailChange(
  deps: AuthDeps,
  tx: Queryable,
  user: UserRow,
  newEmail: string,
  options: { redirectTo: string; pkce?: Pkce; deliver?: boolean; checkFrequency?: boolean },
): Promise<{ otpNew: string; hashNew: string; otpCurrent?: string; hashCurrent?: string; linkNew: string; user: UserRow }> {
  if (options.checkFrequency !== false) await checkFrequency(deps, tx, user.id, 'email_change_sent_at')
  const prefix = options.pkce ? 'pkce_' : ''
  const otpNew = newOtp(deps.config.otpLength)
  const hashNew = prefix + tokenHash(newEmail, otpNew)
  const secure = deps.config.secureEmailChange && !!user.email
  const otpCurrent = secure ? newOtp(deps.config.otpLength) : undefined
  const hashCurrent = secure ? prefix + tokenHash(user.email!, otpCurrent!) : ''
  const updated = await updateUser(tx, user.id, {
    email_change: newEmail,
    email_change_token_new: hashNew,
    email_change_token_current: hashCurrent,
    email_change_confirm_status: 0,
    email_change_sent_at: NOW,
  })
  await storeOneTimeToken(tx, user.id, 'email_change_token_new', hashNew, newEmail)
  await storeOneTimeToken(tx, user.id, 'email_change_token_current', hashCurrent, user.email ?? '')
  if (options.pkce) await createFlowState(tx, user.id, options.pkce, 'email_change', 'email_change')
  const linkNew = verifyLink(deps, hashNew, 'email_change', options.redirectTo)
  if (options.deliver !== false) {
    const mails = [compose('email_change_new', newEmail, 'Confirm Email Change', 'Confirm Change of Email', 'Change Email', otpNew, linkNew)]
    if (secure) {
      const linkCurrent = verifyLink(deps, hashCurrent, 'email_change', options.redirectTo)
      mails.push(compose('email_change_current', user.email!, 'Confirm Email Change', 'Confirm Change of Email', 'Change Email', otpCurrent!, linkCurrent))
    }
    // GoTrue's pairing, kept for hooks written against it: with a secure change `token` is the
    // current address's code but `token_hash` the new address's hash, and the other way round.
    const data = secure
      ? { token: otpCurrent!, token_hash: hashNew, token_new: otpNew, token_hash_new: hashCurrent }
      : { token: otpNew, token_hash: hashNew }
    await deliver(deps, tx, updated, mails, { ...data, redirect_to: options.redirectTo, email_action_type: 'email_change' })
  }
  return { otpNew, hashNew, otpCurrent, hashCurrent: secure ? hashCurrent : undefined, linkNew, user: updated }
}

/** A reauthentication code, used as `nonce` in `PUT /user`. */
export async function sendReauthentication(deps: AuthDeps, tx: Queryable, user: UserRow): Promise<void> {
  await checkFrequency(deps, tx, user.id, 'reauthentication_sent_at')
  const otp = newOtp(deps.config.otpLength)
  const hash = tokenHash(user.email ?? '', otp)
  const updated = await updateUser(tx, user.id, { reauthentication_token: hash, reauthentication_sent_at: NOW })
  await storeOneTimeToken(tx, user.id, 'reauthentication_token', hash, user.email ?? '')
  const mail = compose('reauthentication', user.email!, 'Confirm reauthentication', 'Confirm reauthentication', '', otp, undefined)
  await deliver(deps, tx, updated, [mail], { token: otp, token_hash: hash, redirect_to: '', email_action_type: 'reauthentication' })
}
