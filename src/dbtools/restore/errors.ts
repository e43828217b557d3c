/**
 * Restore failures: a stable code, a message that names the file and line, and PostgreSQL's own
 * error when the server refused a statement.
 * @module
 */

export type RestoreErrorCode =
  | 'invalid_encoding'
  | 'syntax_error'
  | 'truncated'
  | 'copy_unterminated'
  | 'unsupported'
  | 'statement_failed'
  | 'file_not_found'
  | 'unsafe_statement'
  | 'foreign_key_violation'

export class RestoreError extends Error {
  readonly code: RestoreErrorCode
  readonly line: number | undefined
  readonly statement: string | undefined
  /** PostgreSQL's SQLSTATE when the server refused the statement. */
  readonly sqlState: string | undefined

  constructor(code: RestoreErrorCode, message: string, details: { line?: number; statement?: string; sqlState?: string; cause?: unknown } = {}) {
    super(message, details.cause ? { cause: details.cause } : undefined)
    this.name = 'RestoreError'
    this.code = code
    this.line = details.line
    this.statement = details.statement
    this.sqlState = details.sqlState
  }
}
