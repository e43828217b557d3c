/**
 * The vault's error codes. Every failure a caller can see has one of these codes and an HTTP
 * status; messages name ids and names, never secret values or key material.
 * @module
 */
import { HttpError } from '../errors.ts'
import { VaultCipherError } from './cipher.ts'

export const VaultErrorStatus = {
  /** A request body or argument failed validation. */
  vault_invalid_request: 400,
  /** A root key given on the command line is not 64 hex characters. */
  vault_invalid_key: 400,
  vault_secret_not_found: 404,
  vault_duplicate_name: 409,
  /** The row was restored from Supabase Vault 0.2.x (pgsodium key) and must go through `vault import`. */
  vault_import_required: 409,
  /** The operation is not available on this database (e.g. rotate under the supabase_vault extension). */
  vault_unsupported: 409,
  /** `vault import` could not decrypt every row; nothing was changed. */
  vault_import_failed: 422,
  /** A stored secret does not authenticate: wrong root key, altered row or associated data. */
  vault_invalid_ciphertext: 500,
  vault_invalid_encoding: 500,
  /** No root key configured (VAULT_ROOT_KEY). */
  vault_not_configured: 503,
} as const

export type VaultErrorCode = keyof typeof VaultErrorStatus

declare module '../errors.ts' {
  interface ErrorCatalogues {
    vault: VaultErrorCode
  }
}

export class VaultError extends HttpError {
  constructor(code: VaultErrorCode, message: string, options: { details?: Record<string, unknown>; cause?: unknown } = {}) {
    const body: Record<string, unknown> = { code, message }
    if (options.details) body.details = options.details
    super(VaultErrorStatus[code], code, message, { body, cause: options.cause })
    this.name = 'VaultError'
  }
}

/** Lifts a cipher failure to a VaultError, keeping its code when it is one of ours. */
export function fromCipherError(error: unknown, context: string): unknown {
  if (!(error instanceof VaultCipherError)) return error
  if (error.code === 'vault_invalid_ciphertext' || error.code === 'vault_invalid_encoding' || error.code === 'vault_invalid_key') {
    return new VaultError(error.code, `${context}: ${error.message}`, { cause: error })
  }
  return new VaultError('vault_invalid_ciphertext', `${context}: ${error.message}`, { cause: error })
}
