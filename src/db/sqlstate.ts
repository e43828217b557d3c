/**
 * The one home of SQLSTATE knowledge: the conditions the service reacts to, by PostgreSQL's
 * names (Appendix A of its manual), which ones mean "the database is unavailable", and
 * PostgREST's SQLSTATE → HTTP status table that REST answers follow.
 * @module
 */

/** The SQLSTATEs the code names, keyed by PostgreSQL's condition name. */
export const SQLSTATE = {
  cardinality_violation: '21000',
  invalid_parameter_value: '22023',
  foreign_key_violation: '23503',
  unique_violation: '23505',
  read_only_sql_transaction: '25006',
  invalid_sql_statement_name: '26000',
  invalid_authorization_specification: '28000',
  invalid_password: '28P01',
  invalid_catalog_name: '3D000',
  invalid_schema_name: '3F000',
  serialization_failure: '40001',
  deadlock_detected: '40P01',
  insufficient_privilege: '42501',
  undefined_function: '42883',
  undefined_table: '42P01',
  duplicate_prepared_statement: '42P05',
  invalid_object_definition: '42P17',
  undefined_object: '42704',
  configuration_limit_exceeded: '53400',
  too_many_connections: '53300',
  object_not_in_prerequisite_state: '55000',
  lock_not_available: '55P03',
  query_canceled: '57014',
  admin_shutdown: '57P01',
  crash_shutdown: '57P02',
  cannot_connect_now: '57P03',
  raise_exception: 'P0001',
} as const

export type SqlStateName = keyof typeof SQLSTATE
/** A SQLSTATE read from a database error (five characters, checked by `sqlStateOf`). */
export type ReportedSqlState = string & { readonly reportedByDatabase: unique symbol }
export type SqlState = (typeof SQLSTATE)[SqlStateName] | ReportedSqlState

/** The SQLSTATE of a statement error, or undefined for anything else (a socket error, a bug). */
export function sqlStateOf(error: unknown): ReportedSqlState | undefined {
  const code = (error as { code?: unknown } | null | undefined)?.code
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? (code as ReportedSqlState) : undefined
}

/** Whether `error` carries one of the named SQLSTATEs. */
export function hasSqlState(error: unknown, ...names: SqlStateName[]): boolean {
  const code = sqlStateOf(error)
  return code !== undefined && names.some((name) => SQLSTATE[name] === code)
}

/** Shutdown, too many clients and the connection-exception class: the server, not the statement. */
const UNAVAILABLE = new Set<string>([SQLSTATE.admin_shutdown, SQLSTATE.crash_shutdown, SQLSTATE.cannot_connect_now, SQLSTATE.too_many_connections, '08000', '08001', '08003', '08004', '08006'])

export function isUnavailableSqlState(code: string): boolean {
  return UNAVAILABLE.has(code)
}

/** PostgREST's `mapSQLtoHTTP`, one line per condition. `authenticated` = the request carried a JWT. */
export function httpStatusForSqlState(code: string, message: string, authenticated: boolean): number {
  if (code === SQLSTATE.foreign_key_violation || code === SQLSTATE.unique_violation) return 409
  if (code === SQLSTATE.read_only_sql_transaction) return 405
  if (code === SQLSTATE.cardinality_violation) return message.endsWith('requires a WHERE clause') ? 400 : 500 // safeupdate
  if (code === SQLSTATE.invalid_parameter_value) return /^role .* does not exist$/.test(message) ? 401 : 400
  if (code === SQLSTATE.insufficient_privilege) return authenticated ? 403 : 401
  if (code === SQLSTATE.undefined_function) return message.startsWith('function xmlagg(') ? 406 : 404
  if (code === SQLSTATE.undefined_table) return 404
  if (code === SQLSTATE.invalid_object_definition) return 500 // infinite recursion (policies)
  // A write to a view PostgreSQL cannot update is the client asking for what the relation does
  // not allow, not a server fault (PostgREST answers 500 here; we never answer 500 for input).
  if (code === SQLSTATE.object_not_in_prerequisite_state && /^cannot (insert into|update|delete from) view /.test(message)) return 405
  if (code === SQLSTATE.raise_exception) return 400
  if (code === SQLSTATE.configuration_limit_exceeded) return 500
  if (code === SQLSTATE.admin_shutdown) return 503
  if (/^PT\d{3}$/.test(code)) return Number(code.slice(2))
  const cls = code.slice(0, 2)
  if (cls === '08' || cls === '53') return 503
  if (cls === '0L' || cls === '0P' || cls === '28') return 403
  if (['09', '25', '2D', '38', '39', '3B', '40', '54', '55', '57', '58', 'F0', 'HV', 'XX', 'P0'].includes(cls)) return 500
  return 400
}
