/**
 * Database failures that are not the request's fault: the server is unreachable, restarting or
 * too slow. They become 503/504 with a stable code; protocol modules map SQLSTATEs of statements.
 * @module
 */
import { appError, HttpError } from '../errors.ts'
import { hasSqlState, isUnavailableSqlState } from './sqlstate.ts'

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ECLOSED'])

export function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code
  if (typeof code === 'string' && (CONNECTION_CODES.has(code) || isUnavailableSqlState(code))) return true
  const message = (error as Error)?.message ?? ''
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection ended|Query read timeout/i.test(message)
}

/** Maps infrastructure failures to HttpError; returns undefined for ordinary statement errors. */
export function infrastructureError(error: unknown): HttpError | undefined {
  if (error instanceof HttpError) return error
  if (isConnectionError(error)) {
    return appError('database_unavailable', 'The database is unavailable; retry shortly', { headers: { 'Retry-After': '1' }, cause: error })
  }
  if (hasSqlState(error, 'query_canceled')) {
    return appError('statement_timeout', 'The request took too long and was cancelled (statement timeout)', { cause: error })
  }
  return undefined
}
