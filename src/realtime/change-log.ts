/**
 * The change log's reader: which captured changes this server has delivered, and what it
 * missed while it was not listening. The capture trigger writes every change to
 * `_resolution.realtime_changes` (position `id`, transaction `xid`) and NOTIFYs it; NOTIFY is
 * the fast path, the log the catch-up after a lost LISTEN connection and a periodic safety net.
 *
 * Positions are not commit order (a transaction holding id 5 may commit after the one holding
 * id 6), so "the highest id delivered" would skip id 5. The cursor keeps a transaction floor
 * instead: `pg_snapshot_xmin` of a snapshot taken before a read; every transaction below it had
 * ended by then, so a read from the old floor saw all of them that committed. Rows at or above
 * the floor are read again next time, and the ids already delivered (from NOTIFY or a read) are
 * remembered until the floor passes their transaction: nothing twice. A rolled-back
 * transaction's rows never become visible: nothing of it is delivered.
 * @module
 */
import type { Queryable } from '../db/types.ts'
import type { Change } from './change-filter.ts'

/** How long the log keeps a change: a server away longer skips what was pruned (and says so). */
export const CHANGE_RETENTION_MINUTES = 15

/** A change as NOTIFY carries it: position, transaction, and the change unless it was too large. */
export interface ChangeNote {
  q: number
  x: string
  c?: Change
}

export interface LoggedChange {
  id: number
  change: Change
}

/** Reads a notification; undefined when it is not one (the caller logs it). */
export function parseNote(raw: string): ChangeNote | undefined {
  const note = JSON.parse(raw) as Partial<ChangeNote>
  if (typeof note.q !== 'number' || typeof note.x !== 'string' || !/^\d+$/.test(note.x)) return undefined
  return note as ChangeNote
}

export class ChangeCursor {
  /** Every transaction below it is read; undefined until positioned. */
  #floor: bigint | undefined
  /** Delivered ids whose transaction is not below the floor, with that transaction. */
  readonly #seen = new Map<number, bigint>()
  #readAt = Date.now()

  /** Whether the change at `id` is new here (and marks it delivered). */
  take(id: number, xid: bigint): boolean {
    if ((this.#floor !== undefined && xid < this.#floor) || this.#seen.has(id)) return false
    this.#seen.set(id, xid)
    return true
  }

  /**
   * Reads the changes not yet taken (in position order) and moves the floor. The first call only
   * positions the cursor: what was committed before this server listened is not its to deliver.
   * `onGap` hears how long the server was away when that exceeds the log's retention.
   */
  async missed(database: Queryable, onGap: (awayMs: number) => void): Promise<LoggedChange[]> {
    const { rows: snapshot } = await database.query<{ floor: string }>('SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS floor')
    const floor = BigInt(snapshot[0]!.floor)
    const since = this.#floor ?? floor
    const { rows: present } = await database.query<{ id: string; xid: string }>(
      'SELECT id::text, xid::text FROM _resolution.realtime_changes WHERE xid >= $1::text::xid8 ORDER BY id',
      [since.toString()],
    )
    const positioning = this.#floor === undefined
    const away = Date.now() - this.#readAt
    if (!positioning && away > CHANGE_RETENTION_MINUTES * 60_000) onGap(away)
    const missing = present.filter((row) => !this.#seen.has(Number(row.id)))
    let changes: LoggedChange[] = []
    if (!positioning && missing.length > 0) {
      const { rows } = await database.query<{ id: string; change: Change }>(
        'SELECT id::text, change FROM _resolution.realtime_changes WHERE id = ANY($1::bigint[]) ORDER BY id',
        [missing.map((row) => row.id)],
      )
      changes = rows.map((row) => ({ id: Number(row.id), change: row.change }))
    }
    for (const row of missing) this.#seen.set(Number(row.id), BigInt(row.xid))
    this.#advance(floor)
    return changes
  }

  #advance(floor: bigint): void {
    this.#floor = floor
    this.#readAt = Date.now()
    for (const [id, xid] of this.#seen) if (xid < floor) this.#seen.delete(id)
  }
}

/** A change too large for NOTIFY, read from the log. */
export async function readLogged(database: Queryable, id: number): Promise<Change | undefined> {
  const { rows } = await database.query<{ change: Change }>('SELECT change FROM _resolution.realtime_changes WHERE id = $1', [id])
  return rows[0]?.change
}

/** Deletes changes past the retention; every server does it now and then (it is idempotent). */
export async function pruneChangeLog(database: Queryable): Promise<number> {
  const { rowCount } = await database.query(`DELETE FROM _resolution.realtime_changes WHERE inserted_at < now() - make_interval(mins => $1)`, [CHANGE_RETENTION_MINUTES])
  return rowCount ?? 0
}
