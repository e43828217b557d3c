/**
 * Who acts, and the transaction they act in. Every operation on rows runs as the caller's role
 * with their JWT claims set (so `storage.objects`/`storage.buckets` policies decide, exactly as in
 * Supabase); `asService` keeps the connecting role for what storage-api does as its superuser
 * (reading a bucket's limits, serving public and signed URLs). Database errors become storage-api's.
 * @module
 */
import type { Context } from 'hono'
import { infrastructureError } from '../db/errors.ts'
import { withSession, type RequestTx } from '../db/session.ts'
import { hasSqlState } from '../db/sqlstate.ts'
import { HttpError } from '../errors.ts'
import { authenticate } from '../http/principal.ts'
import { roleGuardOf } from '../http/role-guard.ts'
import type { Claims } from '../jwt/service.ts'
import type { Services } from '../services.ts'
import { storageErrors } from './errors.ts'

export interface Caller {
  role: string
  claims: Claims
  /** `sub` of the token: written to `owner` (when a UUID) and `owner_id`. */
  ownerId: string | undefined
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** SQL for a timestamptz column as storage-api sends it: ISO 8601 in UTC (`2021-02-17T04:43:32.770Z`). */
export function isoTime(column: 'created_at' | 'updated_at' | 'last_accessed_at'): string {
  return `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`
}

/** The `owner` column is a uuid: only a UUID `sub` goes there (`owner_id` keeps any `sub`). */
export function ownerUuid(ownerId: string | undefined): string | null {
  return ownerId && UUID.test(ownerId) ? ownerId : null
}

export async function callerOf(services: Services, c: Context): Promise<Caller> {
  let principal
  try {
    principal = await authenticate(services, { authorization: c.req.header('authorization'), apikey: c.req.header('apikey') })
  } catch (error) {
    throw storageErrors.invalidJwt(error instanceof Error ? error.message : 'Invalid JWT')
  }
  // The API roles and the operator's DB_EXTRA_ROLES that pass the role guard: a token naming
  // `postgres` must not become `SET ROLE postgres`.
  if ((await roleGuardOf(services).verdict(principal.role)) !== 'allowed') throw storageErrors.accessDenied('Access denied: Invalid role')
  const sub = principal.claims.sub
  return { role: principal.role, claims: principal.claims, ownerId: typeof sub === 'string' && sub !== '' ? sub : undefined }
}

/** Runs `fn` in one transaction as `caller` (RLS applies), or as the service when `caller` is 'service'. */
export async function inTransaction<T>(services: Services, caller: Caller | 'service', fn: (tx: RequestTx) => Promise<T>): Promise<T> {
  const session = caller === 'service' ? {} : { role: caller.role, claims: caller.claims }
  try {
    return await withSession(await services.database(), { ...session, statementTimeoutMs: services.config.statementTimeoutMs }, fn)
  } catch (error) {
    throw storageDbError(error)
  }
}

/**
 * `inTransaction` for work that is one statement (a lookup): the statement carries the COMMIT, so
 * BEGIN, the caller's settings, the statement and COMMIT are one round trip. A second statement
 * would run after that COMMIT, outside the caller's transaction: it is refused.
 */
export async function inOneStatement<T>(services: Services, caller: Caller | 'service', fn: (tx: RequestTx) => Promise<T>): Promise<T> {
  return inTransaction(services, caller, (tx) => {
    let used = false
    const single: RequestTx = {
      ...tx,
      query(sql, params) {
        if (used) throw new Error('inOneStatement: a second statement')
        used = true
        return tx.query(sql, params, { commit: true })
      },
    }
    return fn(single)
  })
}

/** storage-api's answer to a database error; errors that are already HTTP errors pass. */
export function storageDbError(error: unknown): unknown {
  if (error instanceof HttpError) return error
  if (hasSqlState(error, 'insufficient_privilege')) return storageErrors.rlsViolation(error)
  if (hasSqlState(error, 'query_canceled')) return storageErrors.databaseTimeout(error)
  return infrastructureError(error) ?? error
}
