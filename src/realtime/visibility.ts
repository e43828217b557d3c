/**
 * Which changed rows a subscriber's JWT may SELECT under RLS, checked in batches. One check is a
 * transaction as the subscriber's role with its claims; doing one per change and per group of
 * subscribers made the round trips, not the work, the limit (p99 234 ms at 200 changes/s).
 * So checks for one (table, claims) wait while one is running and then go together in one
 * query: an idle server checks a change at once, a busy one in fewer, larger queries.
 * @module
 */
import { ident, qualified } from '../db/sql.ts'
import { withSession } from '../db/session.ts'
import { roleGuardOf } from '../http/role-guard.ts'
import type { Claims } from '../jwt/service.ts'
import type { Services } from '../services.ts'
import type { TableInfo } from './changes.ts'

/** Rows per query: bounds the statement's size when a burst queued many. */
const MAX_BATCH = 500

interface Pending {
  record: Record<string, unknown>
  resolve(visible: boolean): void
}

interface Batch {
  claims: Claims
  table: TableInfo
  pending: Pending[]
  /** A run is due (set until it starts) or going on: new checks join the batch. */
  busy: boolean
}

export class VisibilityChecker {
  readonly #batches = new Map<string, Batch>()

  constructor(private readonly services: Services) {}

  /** Whether `claims` may SELECT `record` of `table` (false when unsure: no privilege, a policy that raises). */
  async canSelect(claims: Claims, table: TableInfo, record: Record<string, unknown>): Promise<boolean> {
    if (table.primaryKey.length === 0 || !(await this.#mayAssume(claims))) return false
    const key = `${table.schema}.${table.table}\u0000${JSON.stringify(claims)}`
    let batch = this.#batches.get(key)
    if (!batch) this.#batches.set(key, (batch = { claims, table, pending: [], busy: false }))
    // The catalog may have been reloaded (a column added): the newest description is the one to use.
    batch.table = table
    return new Promise<boolean>((resolve) => {
      batch.pending.push({ record, resolve })
      if (batch.busy) return
      batch.busy = true
      // Wait for the rest of this read from the socket: notifications arrive several at a time.
      setImmediate(() => void this.#run(key, batch))
    })
  }

  /** Whether `claims`' role has SELECT on `table` at all (what a DELETE's key needs). */
  async canReadTable(claims: Claims, table: TableInfo): Promise<boolean> {
    if (!(await this.#mayAssume(claims))) return false
    const role = roleOf(claims)
    const database = await this.services.database()
    const { rows } = await database
      .query<{ ok: boolean }>(`SELECT has_table_privilege($1, $2::regclass, 'SELECT') AS ok`, [role, qualified(table.schema, table.table)])
      .catch(() => ({ rows: [] as Array<{ ok: boolean }> }))
    return rows[0]?.ok === true
  }

  /** Only roles the role guard allows (a token naming `postgres` sees nothing, as in REST). */
  async #mayAssume(claims: Claims): Promise<boolean> {
    // A failed lookup (database away) is no permission.
    return (await roleGuardOf(this.services).verdict(roleOf(claims)).catch(() => 'refused')) === 'allowed'
  }

  async #run(key: string, batch: Batch): Promise<void> {
    try {
      while (batch.pending.length > 0) {
        const taken = batch.pending.splice(0, MAX_BATCH)
        const visible = await this.#check(batch.claims, batch.table, taken.map((p) => p.record))
        taken.forEach((p, i) => p.resolve(visible[i] === true))
      }
    } finally {
      batch.busy = false
      this.#batches.delete(key)
    }
  }

  /** One query for many rows; if it fails, each row alone, so one row's raising policy hides only that row. */
  async #check(claims: Claims, table: TableInfo, records: Array<Record<string, unknown>>): Promise<boolean[]> {
    try {
      return await this.#query(claims, table, records)
    } catch (error) {
      if (records.length === 1) return [false]
      this.services.logger.debug({ err: error }, 'realtime: a batched visibility check failed; checking rows one by one')
      const one = await Promise.all(records.map((record) => this.#query(claims, table, [record]).catch(() => [false])))
      return one.map((result) => result[0] === true)
    }
  }

  async #query(claims: Claims, table: TableInfo, records: Array<Record<string, unknown>>): Promise<boolean[]> {
    const target = qualified(table.schema, table.table)
    const keys = table.primaryKey.map((column) => `t.${ident(column)}`).join(', ')
    const given = table.primaryKey.map((column) => `r.${ident(column)}`).join(', ')
    // The ordinal of every given row the role can see (the rows as they are now in the table).
    const sql = `SELECT a.i::int AS i FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS a(rec, i), LATERAL jsonb_populate_record(NULL::${target}, a.rec) r
      WHERE EXISTS (SELECT FROM ONLY ${target} t WHERE (${keys}) = (${given}))`
    const database = await this.services.database()
    const options = { role: roleOf(claims), claims, readOnly: true, statementTimeoutMs: this.services.config.statementTimeoutMs }
    const rows = await withSession(database, options, async (tx) => (await tx.query<{ i: number }>(sql, [JSON.stringify(records)], { commit: true })).rows)
    const visible = new Array<boolean>(records.length).fill(false)
    for (const row of rows) visible[row.i - 1] = true
    return visible
  }
}

function roleOf(claims: Claims): string {
  return typeof claims.role === 'string' ? claims.role : 'anon'
}
