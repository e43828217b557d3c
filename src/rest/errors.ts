/**
 * PostgREST's error catalogue and its SQLSTATE → HTTP table. Every REST error leaves as
 * `{code, details, hint, message}` with `Proxy-Status: PostgREST; error=<code>`, the body
 * postgrest-js hands to applications verbatim.
 * @module
 */
import { httpStatusForSqlState, sqlStateOf, type SqlState } from '../db/sqlstate.ts'
import { HttpError } from '../errors.ts'

/** PostgREST's own codes (its error catalogue). */
export type PgrstCode =
  | 'PGRST000' | 'PGRST001' | 'PGRST002' | 'PGRST003'
  | 'PGRST100' | 'PGRST101' | 'PGRST102' | 'PGRST103' | 'PGRST105' | 'PGRST106' | 'PGRST107' | 'PGRST108'
  | 'PGRST111' | 'PGRST112' | 'PGRST114' | 'PGRST115' | 'PGRST116' | 'PGRST117' | 'PGRST118' | 'PGRST119'
  | 'PGRST120' | 'PGRST121' | 'PGRST122' | 'PGRST123' | 'PGRST124' | 'PGRST125' | 'PGRST126' | 'PGRST127' | 'PGRST128'
  | 'PGRST200' | 'PGRST201' | 'PGRST202' | 'PGRST203' | 'PGRST204' | 'PGRST205'
  | 'PGRST300' | 'PGRST301' | 'PGRST302' | 'PGRST303'

/** The code a function chose with `RAISE SQLSTATE 'PGRST' USING message = '{"code": …}'`. */
export type RaisedCode = string & { readonly raisedByFunction: unique symbol }

/** A REST error carries PostgREST's code, the statement's SQLSTATE, or a function's own code. */
export type RestErrorCode = PgrstCode | SqlState | RaisedCode

declare module '../errors.ts' {
  interface ErrorCatalogues {
    rest: RestErrorCode
  }
}

export interface PgrstBody {
  code: RestErrorCode
  details: unknown
  hint: string | null
  message: string
}

/** An error with PostgREST's body shape. */
export function pgrstError(status: number, code: RestErrorCode, message: string, details: unknown = null, hint: string | null = null, headers: Record<string, string> = {}): HttpError {
  const body: PgrstBody = { code, details, hint, message }
  return new HttpError(status, code, message, {
    body: body as unknown as Record<string, unknown>,
    headers: { 'Proxy-Status': `PostgREST; error=${code}`, ...headers },
  })
}

// --- API request errors: PGRST1xx ----------------------------------------------------------

export const parseError = (message: string, details: string | null = null) => pgrstError(400, 'PGRST100', message, details)

export const invalidBody = (message: string) => pgrstError(400, 'PGRST102', message)
/** PUT wrote no row: the payload's primary key differs from the URL's. */
export const putKeyMismatch = () => pgrstError(400, 'PGRST115', 'Payload values do not match URL in primary key column(s)')

export const invalidRange = (details: string) => pgrstError(416, 'PGRST103', 'Requested range not satisfiable', details)

export const invalidSchema = (schema: string, exposed: string[]) =>
  pgrstError(406, 'PGRST106', `Invalid schema: ${schema}`, null, `Only the following schemas are exposed: ${exposed.join(', ')}`)

export const unacceptableMedia = (types: string[]) => pgrstError(406, 'PGRST107', `None of these media types are available: ${types.join(', ')}`)

export const notEmbedded = (name: string) =>
  pgrstError(400, 'PGRST108', `'${name}' is not an embedded resource in this request`, null, `Verify that '${name}' is included in the 'select' query parameter.`)

export const singularityError = (rows: number) =>
  pgrstError(406, 'PGRST116', 'Cannot coerce the result to a single JSON object', `The result contains ${rows} rows`)

export const unsupportedMethod = (method: string) => pgrstError(405, 'PGRST117', `Unsupported HTTP method: ${method}`)

export const relatedOrderNotToOne = (origin: string, target: string) =>
  pgrstError(400, 'PGRST118', `A related order on '${target}' is not possible`, `'${origin}' and '${target}' do not form a many-to-one or one-to-one relationship`)

export const badEmbedOperator = (name: string) =>
  pgrstError(400, 'PGRST120', `Bad operator on the '${name}' embedded resource`, 'Only is null or not is null filters are allowed on embedded resources')

export const invalidPreferences = (prefs: string[]) =>
  pgrstError(400, 'PGRST122', 'Invalid preferences given with handling=strict', `Invalid preferences: ${prefs.join(', ')}`)

export const aggregatesDisabled = () => pgrstError(400, 'PGRST123', 'Use of aggregate functions is not allowed')

export const maxAffectedViolation = (rows: number) =>
  pgrstError(400, 'PGRST124', 'Query result exceeds max-affected preference constraint', `The query affects ${rows} rows`)

export const invalidPath = () => pgrstError(404, 'PGRST125', 'Invalid path specified in request URL')

export const notImplemented = (details: string) => pgrstError(400, 'PGRST127', 'Feature not implemented', details)

// --- Schema cache errors: PGRST2xx ---------------------------------------------------------

export const tableNotFound = (schema: string, name: string, suggestion?: string) =>
  pgrstError(404, 'PGRST205', `Could not find the table '${schema}.${name}' in the schema cache`, null, suggestion ? `Perhaps you meant the table '${schema}.${suggestion}'` : null)

export const columnNotFound = (table: string, column: string) =>
  pgrstError(400, 'PGRST204', `Could not find the '${column}' column of '${table}' in the schema cache`)

export const schemaCacheNotLoaded = () => pgrstError(503, 'PGRST002', 'Could not query the database for the schema cache. Retrying.')

// --- JWT errors: PGRST3xx ------------------------------------------------------------------

export function jwtError(message: string): HttpError {
  const code = /expired|not yet valid|issued at future|audience|claims/i.test(message) ? 'PGRST303' : 'PGRST301'
  return pgrstError(401, code, message, null, null, {
    'WWW-Authenticate': `Bearer error="invalid_token", error_description="${message.replaceAll('"', "'")}"`,
  })
}

// --- PostgreSQL errors ---------------------------------------------------------------------

interface PgErrorLike {
  message?: string
  detail?: string
  hint?: string
}

/** Turns a statement error into PostgREST's response; returns undefined for non-SQL failures. */
export function fromPgError(error: unknown, authenticated: boolean): HttpError | undefined {
  const code = sqlStateOf(error)
  if (code === undefined) return undefined
  const e = error as PgErrorLike
  const message = e.message ?? ''
  if (code === 'PGRST') return customPgrstError(e)
  const status = httpStatusForSqlState(code, message, authenticated)
  const headers: Record<string, string> = {}
  if (status === 401) headers['WWW-Authenticate'] = 'Bearer'
  return pgrstError(status, code, message, e.detail ?? null, e.hint ?? null, headers)
}

/** `RAISE SQLSTATE 'PGRST' USING message = '{json}', detail = '{json}'`. */
function customPgrstError(e: PgErrorLike): HttpError {
  try {
    const body = JSON.parse(e.message ?? '') as Record<string, unknown>
    const detail = JSON.parse(e.detail ?? '') as { status?: unknown; headers?: Record<string, string> }
    if (typeof body.code !== 'string' || typeof body.message !== 'string' || typeof detail.status !== 'number') throw new Error('shape')
    return pgrstError(detail.status, body.code as RaisedCode, body.message, body.details ?? null, (body.hint as string) ?? null, detail.headers ?? {})
  } catch {
    return pgrstError(500, 'PGRST121', `Could not parse JSON in the "RAISE SQLSTATE 'PGRST'" error`)
  }
}

/** A JWT role the role guard refuses (src/http/role-guard.ts), in PostgREST's words. */
export const roleNotAllowed = (role: string) =>
  pgrstError(403, '42501', `permission denied to set role "${role}"`, null, 'A JWT may carry the roles anon, authenticated, service_role and those named in DB_EXTRA_ROLES')

export const roleMissing = (role: string) => pgrstError(401, '22023', `role "${role}" does not exist`)
