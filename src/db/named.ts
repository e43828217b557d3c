/**
 * Hot autocommitted statements kept prepared under a fixed name: planning them costs several
 * times their execution. Behind a pooler without prepared-statement support (PgBouncer < 1.21 in
 * transaction mode) the server answers 26000/42P05; an autocommitted statement is then simply
 * re-run unnamed, and names are not used again by this process.
 * @module
 */
import { hasSqlState } from './sqlstate.ts'
import type { Queryable, QueryResult } from './types.ts'

/** Cleared when a transaction pooler refuses named statements; the process then plans each time. */
let namedStatements = true

export async function queryNamed<R>(database: Queryable, name: string, sql: string, params: unknown[]): Promise<QueryResult<R>> {
  if (namedStatements) {
    try {
      return await database.query<R>(sql, params, { name })
    } catch (error) {
      if (!hasSqlState(error, 'invalid_sql_statement_name', 'duplicate_prepared_statement')) throw error
      namedStatements = false
    }
  }
  return database.query<R>(sql, params)
}
