/**
 * Auth errors as Supabase Auth names them. Handlers throw `authError(...)`; `renderAuthError`
 * picks the body shape by the request's `X-Supabase-Api-Version` (auth-api.md §1 "Errors").
 * @module
 */
import { HttpError } from '../errors.ts'

/** The `error_code`s this service emits (a subset of GoTrue's `apierrors/errorcode.go`). */
export type AuthErrorCode =
  | 'unexpected_failure'
  | 'validation_failed'
  | 'bad_json'
  | 'bad_jwt'
  | 'no_authorization'
  | 'not_admin'
  | 'invalid_credentials'
  | 'email_not_confirmed'
  | 'phone_not_confirmed'
  | 'user_not_found'
  | 'user_banned'
  | 'user_already_exists'
  | 'email_exists'
  | 'phone_exists'
  | 'weak_password'
  | 'same_password'
  | 'signup_disabled'
  | 'anonymous_provider_disabled'
  | 'email_provider_disabled'
  | 'phone_provider_disabled'
  | 'otp_disabled'
  | 'otp_expired'
  | 'session_not_found'
  | 'session_expired'
  | 'refresh_token_not_found'
  | 'refresh_token_already_used'
  | 'flow_state_not_found'
  | 'flow_state_expired'
  | 'bad_code_verifier'
  | 'reauthentication_not_valid'
  | 'over_request_rate_limit'
  | 'over_email_send_rate_limit'
  | 'email_address_invalid'
  | 'request_timeout'
  | 'conflict'
  | 'payload_too_large'
  | 'not_found'
  | 'no_api_key'
  | 'manual_linking_disabled'
  | 'saml_provider_disabled'
  | 'mfa_phone_enroll_not_enabled'
  | 'mfa_webauthn_enroll_not_enabled'
  | 'mfa_phone_verify_not_enabled'
  | 'mfa_webauthn_verify_not_enabled'
  | 'mfa_factor_not_found'
  | 'mfa_factor_name_conflict'
  | 'mfa_challenge_expired'
  | 'mfa_verification_failed'
  | 'mfa_ip_address_mismatch'
  | 'too_many_enrolled_mfa_factors'
  | 'insufficient_aal'
  | 'web3_provider_disabled'
  | 'provider_disabled'
  | 'invalid_api_key'
  | 'feature_disabled'
  | 'hook_timeout'
  | 'oauth_client_not_found'
  | 'passkey_disabled'
  | 'too_many_passkeys'
  | 'webauthn_challenge_not_found'
  | 'webauthn_challenge_expired'
  | 'webauthn_verification_failed'
  | 'webauthn_credential_exists'

/** The OAuth `error`s of the few token errors GoTrue answers in the OAuth shape. */
export type OAuthErrorCode = 'invalid_request'

declare module '../errors.ts' {
  interface ErrorCatalogues {
    auth: AuthErrorCode | OAuthErrorCode
  }
}

/** Marks an HttpError whose body must be rendered in the auth shapes. */
export class AuthError extends HttpError {
  /** Extra members merged into either body shape (e.g. `weak_password`). */
  readonly extra: Record<string, unknown>
  constructor(status: number, code: AuthErrorCode, message: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
    super(status, code, message, { headers })
    this.name = 'AuthError'
    this.extra = extra
  }
}

export function authError(status: number, code: AuthErrorCode, message: string, extra?: Record<string, unknown>): AuthError {
  return new AuthError(status, code, message, extra)
}

export const badRequest = (code: AuthErrorCode, message: string) => authError(400, code, message)
export const validationFailed = (message: string) => authError(400, 'validation_failed', message)
export const forbidden = (code: AuthErrorCode, message: string) => authError(403, code, message)
export const unprocessable = (code: AuthErrorCode, message: string, extra?: Record<string, unknown>) => authError(422, code, message, extra)
export const notFound = (code: AuthErrorCode, message: string) => authError(404, code, message)
export const tooManyRequests = (code: 'over_request_rate_limit' | 'over_email_send_rate_limit', message: string) => authError(429, code, message)

/** The OAuth-style body GoTrue uses for a few token errors: `{error, error_description}`. */
export class OAuthError extends HttpError {
  constructor(status: number, error: OAuthErrorCode, description: string) {
    super(status, error, description, { body: { error, error_description: description } })
    this.name = 'OAuthError'
  }
}

/** The first API version whose errors use `{code, message}`. */
export const API_VERSION_2024 = '2024-01-01'

/** Whether the request asked for the 2024-01-01 error shape (a date at or after it). */
export function wantsModernErrors(headerValue: string | undefined): boolean {
  if (!headerValue) return false
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(headerValue.trim())
  if (!match) return false
  return `${match[1]}-${match[2]}-${match[3]}` >= API_VERSION_2024
}

export interface RenderedError {
  status: number
  body: Record<string, unknown>
  headers: Record<string, string>
}

/**
 * Both shapes of GoTrue's `HandleResponseError`. `requestId` is put in legacy bodies of 5xx.
 * `x-sb-error-code` is always set, and the version header is echoed with the modern shape so
 * the client trusts `code`.
 */
export function renderAuthError(error: HttpError, apiVersion: string | undefined, requestId: string | undefined): RenderedError {
  const headers: Record<string, string> = { ...error.headers, 'x-sb-error-code': error.code }
  if (error instanceof OAuthError) return { status: error.status, body: error.body, headers }
  const extra = error instanceof AuthError ? error.extra : {}
  if (wantsModernErrors(apiVersion)) {
    headers['X-Supabase-Api-Version'] = API_VERSION_2024
    return { status: error.status, body: { code: error.code, message: error.message, ...extra }, headers }
  }
  const body: Record<string, unknown> = { code: error.status, error_code: error.code, msg: error.message, ...extra }
  if (error.status >= 500 && requestId) body.error_id = requestId
  return { status: error.status, body, headers }
}
