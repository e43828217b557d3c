/**
 * The closed list of service-level errors. Every error a client sees is JSON with a stable
 * `code`; one function renders them (src/http/error-handler.ts). Protocol modules (auth, rest,
 * vault) keep their own wire shapes and their own catalogues, which register here (below), so
 * an `HttpError` can only carry a code one of the catalogues lists.
 * @module
 */

export const ErrorCodes = {
  bad_request: 400,
  invalid_json: 400,
  unauthorized: 401,
  invalid_jwt: 401,
  /** A token that does not verify, or an Authorization header that is not `Bearer <token>`. */
  bad_jwt: 401,
  /** `/rest/v1` and `/vault/v1` without an API key (http/api-key-gate.ts). */
  no_api_key: 401,
  /** An `sb_publishable_…`/`sb_secret_…` key this service does not know, or a secret key sent by a browser (jwt/opaque-keys.ts). */
  invalid_api_key: 401,
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

/**
 * Every error catalogue registers its codes here, by declaration merging from its own module:
 * `declare module '../errors.ts' { interface ErrorCatalogues { auth: AuthErrorCode } }`.
 * So `HttpError.code` is the union of all catalogues while this floor imports none of them.
 */
export interface ErrorCatalogues {
  service: ErrorCode
}

/** A code some catalogue lists: the only codes an `HttpError` may carry. */
export type CatalogueCode = ErrorCatalogues[keyof ErrorCatalogues]

/**
 * An error with a stable code and HTTP status. `body` overrides the default `{code, message}`.
 * Built by the catalogues' functions (`appError`, `authError`, `pgrstError`, `VaultError` …), not
 * ad hoc: lint refuses `new HttpError(` outside the catalogue modules.
 */
export class HttpError extends Error {
  readonly status: number
  readonly code: CatalogueCode
  readonly body: Record<string, unknown>
  readonly headers: Record<string, string>

  constructor(
    status: number,
    code: CatalogueCode,
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

/** An error of the service's own catalogue; `hint` joins the `{code, message}` body. */
export function appError(code: ErrorCode, message: string, options: { headers?: Record<string, string>; cause?: unknown; hint?: string } = {}): HttpError {
  const { hint, ...rest } = options
  return new HttpError(ErrorCodes[code], code, message, hint === undefined ? rest : { ...rest, body: { code, message, hint } })
}

/**
 * A library's error that comes with its own status (Hono's HTTPException): the status is
 * kept, the code is ours (`unauthorized` for 401, else `bad_request`).
 */
export function statusError(status: number, message: string): HttpError {
  return new HttpError(status, status === 401 ? 'unauthorized' : 'bad_request', message)
}

/** A failure the operator must fix (bad configuration, unusable data dir …): one clear line, exit 1. */
export class FatalError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'FatalError'
  }
}
