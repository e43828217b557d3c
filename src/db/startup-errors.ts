/**
 * Failures of connecting that no retry can fix (no such database, no such role, a wrong
 * password) become one line naming DATABASE_URL instead of a stack trace.
 * @module
 */
import { maskUrl } from '../config/config.ts'
import { FatalError } from '../errors.ts'
import { SQLSTATE } from './sqlstate.ts'

const FIXES: Record<string, string> = {
  [SQLSTATE.invalid_catalog_name]: 'create it (e.g. `createdb`) or fix the database name in the URL',
  [SQLSTATE.invalid_authorization_specification]: 'create the role or fix the user name in the URL',
  [SQLSTATE.invalid_password]: 'fix the password in the URL',
  [SQLSTATE.insufficient_privilege]: 'the user may not connect to this database',
}

/** A FatalError for a connection-time failure with a known SQLSTATE; undefined otherwise. */
export function connectFailure(error: unknown, url: string | undefined): FatalError | undefined {
  const code = (error as { code?: unknown })?.code
  if (typeof code !== 'string' || !(code in FIXES)) return undefined
  const where = url ? ` (${maskUrl(url)})` : ''
  const message = ((error as Error).message ?? String(error)).split('\n')[0]
  return new FatalError(`DATABASE_URL: ${message}${where}; ${FIXES[code]}`)
}
