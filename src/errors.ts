/**
 * The closed list of service-level errors. Every error a client sees is JSON with a stable
 * `code`; one function renders them (src/http/error-handler.ts). Protocol modules (auth, rest)
 * keep their own wire shapes by throwing `HttpError` with a ready body.
 * @module
 */

export const ErrorCodes = {
  bad_request: 400,
  invalid_json: 400,
  unauthorized: 401,
  invalid_jwt: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal_error: 500,
  database_unavailable: 503,
  shutting_down: 503,
  starting: 503,
  statement_timeout: 504,
} as const

export type ErrorCode = keyof typeof ErrorCodes

/** An error with a stable code and HTTP status. `body` overrides the default `{code, message}`. */
export class HttpError extends Error {
  readonly status: number
  readonly code: string
  readonly body: Record<string, unknown>
  readonly headers: Record<string, string>

  constructor(
    status: number,
    code: string,
    message: string,
    options: { body?: Record<string, unknown>; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause })
    this.name = 'HttpError'
    this.status = status
    this.code = code
    this.body = options.body ?? { code, message }
    this.headers = options.headers ?? {}
  }
}

/** Shorthand for the service's own codes. */
export function appError(code: ErrorCode, message: string, options?: { headers?: Record<string, string>; cause?: unknown }): HttpError {
  return new HttpError(ErrorCodes[code], code, message, options)
}

/** A failure the operator must fix (bad configuration, unusable data dir …): one clear line, exit 1. */
export class FatalError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'FatalError'
  }
}
