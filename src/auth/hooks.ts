/**
 * Auth hooks run as Postgres functions, the way Supabase runs them, as the connecting role:
 * - custom access token: `{user_id, claims, authentication_method}` → `{claims: {...}}`; it runs
 *   in the request's transaction (it sees the new session and user rows);
 * - password verification attempt: `{user_id, valid}` → `{decision: continue|reject, message,
 *   should_logout_user}`, after every password check of an existing account.
 * - send email: `{metadata, user, email_data: {token, token_hash, redirect_to, email_action_type,
 *   site_url, token_new, token_hash_new}}` → `{}`; the function sends the mail, none goes out here.
 * Any may answer `{error: {http_code, message}}` to refuse the request. Each call gets GoTrue's
 * 2 s statement timeout (500 `hook_timeout` past it), inside the caller's transaction or its own.
 * @module
 */
import { randomUUID } from 'node:crypto'
import type { PgFunctionHook } from '../config/config.ts'
import { qualified } from '../db/sql.ts'
import { hasSqlState } from '../db/sqlstate.ts'
import type { Database, Queryable } from '../db/types.ts'
import type { Claims } from '../jwt/service.ts'
import { authError } from './errors.ts'

export type ClaimsHook = (claims: Claims) => Promise<Claims>

/** Claims the hook must leave in place, with their JSON types (GoTrue's output schema). */
const REQUIRED: Array<[string, 'string' | 'number' | 'boolean' | 'string|array']> = [
  ['aud', 'string|array'],
  ['exp', 'number'],
  ['iat', 'number'],
  ['sub', 'string'],
  ['role', 'string'],
  ['aal', 'string'],
  ['session_id', 'string'],
  ['is_anonymous', 'boolean'],
  ['email', 'string'],
  ['phone', 'string'],
]

function conforms(claims: unknown): claims is Claims {
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) return false
  const record = claims as Record<string, unknown>
  return REQUIRED.every(([name, type]) => {
    const value = record[name]
    if (type === 'string|array') return typeof value === 'string' || (Array.isArray(value) && value.every((v) => typeof v === 'string'))
    return typeof value === type
  })
}

/** GoTrue's limit on a Postgres hook function (`hookspgfunc.defaultTimeout`). */
export const HOOK_TIMEOUT_MS = 2000

/** Runs the function under the hook timeout, restoring the transaction's own timeout after it. */
async function invoke(tx: Queryable, hook: PgFunctionHook, input: unknown): Promise<unknown> {
  const { rows: before } = await tx.query<{ previous: string }>(
    "SELECT current_setting('statement_timeout') AS previous, set_config('statement_timeout', $1, true)",
    [String(HOOK_TIMEOUT_MS)],
  )
  try {
    // The function name comes from configuration, quoted as identifiers.
    const { rows } = await tx.query<{ out: unknown }>(`SELECT ${qualified(hook.schema, hook.name)}($1::jsonb) AS out`, [JSON.stringify(input)])
    await tx.query("SELECT set_config('statement_timeout', $1, true)", [before[0]!.previous])
    return rows[0]?.out
  } catch (error) {
    if (hasSqlState(error, 'query_canceled')) throw authError(500, 'hook_timeout', `Failed to reach hook within maximum time of ${HOOK_TIMEOUT_MS / 1000} seconds`)
    throw error
  }
}

const isDatabase = (db: Queryable | Database): db is Database => typeof (db as Database).transaction === 'function'

/** Calls the hook's function with `input`; an `{error}` answer is thrown as that HTTP error. */
async function callHook(db: Queryable | Database, hook: PgFunctionHook, input: unknown): Promise<Record<string, unknown> | undefined> {
  // Outside a transaction the timeout needs one of its own (SET LOCAL lasts until COMMIT).
  const out = isDatabase(db) ? await db.transaction((tx) => invoke(tx, hook, input)) : await invoke(db, hook, input)
  if (!out || typeof out !== 'object' || Array.isArray(out)) return undefined
  const error = (out as { error?: { http_code?: unknown; message?: unknown } }).error
  if (error && typeof error === 'object') {
    const status = typeof error.http_code === 'number' && error.http_code >= 400 && error.http_code < 600 ? error.http_code : 500
    const message = typeof error.message === 'string' && error.message ? error.message : 'Error running hook URI'
    throw authError(status, 'unexpected_failure', message)
  }
  return out as Record<string, unknown>
}

export interface PasswordAttemptDecision {
  reject: boolean
  message: string
  logoutUser: boolean
}

/** GoTrue's text when a rejecting hook gives none. */
const DEFAULT_REJECTION = 'Further password verification attempts will be rejected.'

/** The password verification attempt hook's decision (continue when none is configured). */
export async function passwordVerificationAttempt(hook: PgFunctionHook | undefined, db: Queryable | Database, userId: string, valid: boolean): Promise<PasswordAttemptDecision> {
  if (!hook) return { reject: false, message: '', logoutUser: false }
  const out = await callHook(db, hook, { user_id: userId, valid })
  const reject = out?.decision === 'reject'
  const message = typeof out?.message === 'string' && out.message ? out.message : DEFAULT_REJECTION
  return { reject, message, logoutUser: reject && out?.should_logout_user === true }
}

/** The custom access token hook for one issuance, or undefined when none is configured. */
export function customAccessTokenHook(hook: PgFunctionHook | undefined, db: Queryable | Database, userId: string, method: string): ClaimsHook | undefined {
  if (!hook) return undefined
  return async (claims) => {
    const out = await callHook(db, hook, { user_id: userId, claims, authentication_method: method })
    if (!out || !conforms(out.claims)) {
      throw authError(500, 'unexpected_failure', 'output claims do not conform to the expected schema')
    }
    return out.claims
  }
}

/** What GoTrue's send-email hook gets about the mail (`mailer.EmailData`). */
export interface EmailData {
  token: string
  token_hash: string
  redirect_to: string
  email_action_type: 'signup' | 'invite' | 'magiclink' | 'recovery' | 'email_change' | 'reauthentication'
  site_url: string
  token_new: string
  token_hash_new: string
}

/** Hands one auth email to the send-email hook, in the request's transaction. */
export async function sendEmailHook(hook: PgFunctionHook, tx: Queryable, user: Record<string, unknown>, emailData: EmailData): Promise<void> {
  const metadata = { uuid: randomUUID(), time: new Date().toISOString(), name: 'send-email' }
  await callHook(tx, hook, { metadata, user, email_data: emailData })
}
