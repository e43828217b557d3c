/**
 * Postgres changes. Capture: a row trigger on each table of the `supabase_realtime` publication
 * (`alter publication supabase_realtime add table …`, as Supabase users opt in) logs the change in
 * `_resolution.realtime_changes` and NOTIFYs it at commit. Chosen over logical decoding because it
 * works on every database this service runs on (the embedded one, RDS without
 * `rds.logical_replication`, a pooler) with no replication slot to fill the disk when nobody
 * reads. NOTIFY brings each committed change once per listening server, in commit order, and
 * nothing of a rolled-back transaction; what a server misses while its LISTEN connection is down
 * it reads from the log once it listens again (and every half minute, a safety net), without
 * duplicates (change-log.ts). Live changes wait while a catch-up is due, so order is kept. Triggers
 * follow the publication when a channel subscribes and every few seconds while any does.
 *
 * Delivery: each change goes to the subscriptions it matches (event, schema, table, filter), and
 * an INSERT/UPDATE only to subscribers whose JWT may SELECT the row — table privilege and RLS
 * (checked once per distinct claims, as that role, batched across changes: visibility.ts); a DELETE
 * goes to roles with SELECT on the table and carries the primary key only, unless the table has
 * REPLICA IDENTITY FULL and no RLS. Changes are checked concurrently and delivered in arrival order.
 * @module
 */
import { ident, qualified } from '../db/sql.ts'
import type { Claims } from '../jwt/service.ts'
import { CAPTURE_TRIGGER, CHANGES_CHANNEL } from '../schema/sql/realtime.ts'
import type { Services } from '../services.ts'
import { matches, type Change, type ChangeParams } from './change-filter.ts'
import { ChangeCursor, parseNote, pruneChangeLog, readLogged, type ChangeNote, CHANGE_RETENTION_MINUTES } from './change-log.ts'
import type { Notifications } from './notifications.ts'
import { VisibilityChecker } from './visibility.ts'

export interface TableInfo {
  schema: string
  table: string
  columns: Array<{ name: string; type: string }>
  primaryKey: string[]
  replicaFull: boolean
  rowSecurity: boolean
}

/** A joined channel's side of its subscriptions. */
export interface ChangeSubscriber {
  readonly claims: Claims
  push(event: string, payload: unknown): void
}

interface Subscription {
  id: number
  params: ChangeParams
  subscriber: ChangeSubscriber
}

const RESYNC_MS = 5000
/** How often the log is read anyway (and pruned): a safety net beside the catch-up after a reconnect. */
const CATCH_UP_MS = 30_000
/** Tries of a catch-up after a reconnect before live changes flow again (the next safety-net read retries). */
const CATCH_UP_TRIES = 5

type Delivery = (() => void) | undefined

const TABLES_SQL = `
SELECT n.nspname AS schema, c.relname AS "table", c.relreplident = 'f' AS replica_full, c.relrowsecurity AS row_security,
  (SELECT coalesce(json_agg(json_build_object('name', a.attname, 'type', t.typname) ORDER BY a.attnum), '[]')
     FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns,
  (SELECT coalesce(json_agg(a.attname ORDER BY a.attnum), '[]') FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
    WHERE i.indrelid = c.oid AND i.indisprimary) AS primary_key,
  EXISTS (SELECT FROM pg_trigger g WHERE g.tgrelid = c.oid AND g.tgname = $1) AS captured
FROM pg_publication_tables p JOIN pg_namespace n ON n.nspname = p.schemaname JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = p.tablename
WHERE p.pubname = 'supabase_realtime'`

const STALE_TRIGGERS_SQL = `
SELECT n.nspname AS schema, c.relname AS "table" FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE g.tgname = $1 AND NOT EXISTS (SELECT FROM pg_publication_tables p WHERE p.pubname = 'supabase_realtime' AND p.schemaname = n.nspname AND p.tablename = c.relname)`

export class Changes {
  readonly #subscriptions = new Set<Subscription>()
  #tables = new Map<string, TableInfo>()
  /** Deliveries and catch-ups, one after another. */
  #queue: Promise<void> = Promise.resolve()
  #timer: NodeJS.Timeout | undefined
  #sweeper: NodeJS.Timeout | undefined
  readonly #stops: Array<() => void> = []
  readonly #cursor = new ChangeCursor()
  /** While the LISTEN connection is down: the queue waits here until the catch-up has run. */
  #gate: { before: Promise<void>; open: () => void } | undefined

  readonly #visibility: VisibilityChecker

  constructor(
    private readonly services: Services,
    private readonly notifications: Notifications,
  ) {
    this.#visibility = new VisibilityChecker(services)
  }

  async start(): Promise<void> {
    // Before listening: a first attempt that fails is an outage too.
    this.#stops.push(this.notifications.onLost(() => this.#hold()))
    this.#stops.push(this.notifications.onReconnect(() => this.#resume()))
    this.#stops.push(await this.notifications.listen(CHANGES_CHANNEL, (raw) => this.#heard(raw)))
    // Where this server starts reading: it listens already (nothing falls between), or it does
    // not yet and the catch-up at the first connect delivers from here. Not through the queue,
    // which waits while not listening; the first read delivers nothing, so order is not at stake.
    await this.#catchUp().catch((error) => this.services.logger.warn({ err: error }, 'realtime: cannot read the change log'))
    this.#sweeper = setInterval(() => {
      this.#enqueue(() => this.#catchUp())
      void this.services
        .database()
        .then(pruneChangeLog)
        .catch((error) => this.services.logger.warn({ err: error }, 'realtime: pruning the change log failed'))
    }, CATCH_UP_MS)
    this.#sweeper.unref()
  }

  stop(): void {
    clearInterval(this.#timer)
    clearInterval(this.#sweeper)
    this.#stops.splice(0).forEach((stop) => stop())
    this.#gate?.open()
    this.#gate = undefined
  }

  table(schema: string, table: string): TableInfo | undefined {
    return this.#tables.get(`${schema}.${table}`)
  }

  /** Puts the capture trigger on every published table (and off unpublished ones); reloads the catalog. */
  async sync(): Promise<void> {
    const database = await this.services.database()
    const { rows } = await database.query<{ schema: string; table: string; replica_full: boolean; row_security: boolean; columns: TableInfo['columns']; primary_key: string[]; captured: boolean }>(TABLES_SQL, [CAPTURE_TRIGGER])
    for (const row of rows.filter((r) => !r.captured)) {
      const target = qualified(row.schema, row.table)
      // Needs the table's owner (or TRIGGER); without it the table's changes cannot be captured.
      await database
        .query(`CREATE TRIGGER ${ident(CAPTURE_TRIGGER)} AFTER INSERT OR UPDATE OR DELETE ON ${target} FOR EACH ROW EXECUTE FUNCTION _resolution.realtime_capture()`)
        .catch((error) => this.services.logger.warn({ err: error, table: target }, 'realtime: cannot capture changes of a published table'))
    }
    const stale = await database.query<{ schema: string; table: string }>(STALE_TRIGGERS_SQL, [CAPTURE_TRIGGER])
    for (const row of stale.rows) await database.query(`DROP TRIGGER IF EXISTS ${ident(CAPTURE_TRIGGER)} ON ${qualified(row.schema, row.table)}`)
    this.#tables = new Map(rows.map((r) => [`${r.schema}.${r.table}`, { schema: r.schema, table: r.table, columns: r.columns, primaryKey: r.primary_key, replicaFull: r.replica_full, rowSecurity: r.row_security }]))
  }

  subscribe(subscriber: ChangeSubscriber, id: number, params: ChangeParams): void {
    this.#subscriptions.add({ id, params, subscriber })
    this.#timer ??= setInterval(() => void this.sync().catch((error) => this.services.logger.warn({ err: error }, 'realtime: publication sync failed')), RESYNC_MS)
    this.#timer.unref()
  }

  unsubscribe(subscriber: ChangeSubscriber): void {
    for (const subscription of this.#subscriptions) if (subscription.subscriber === subscriber) this.#subscriptions.delete(subscription)
    if (this.#subscriptions.size === 0) {
      clearInterval(this.#timer)
      this.#timer = undefined
    }
  }

  #enqueue(task: () => Promise<void> | void): void {
    this.#queue = this.#queue.then(task).catch((error) => this.services.logger.warn({ err: error }, 'realtime: a change could not be delivered'))
  }

  /** A NOTIFY: checked at once, side by side with others (the pool bounds how many), delivered in order unless already delivered. */
  #heard(raw: string): void {
    let note: ChangeNote | undefined
    try {
      note = parseNote(raw)
    } catch {
      note = undefined
    }
    if (!note) return this.services.logger.warn({ payload: raw.slice(0, 200) }, 'realtime: unreadable change notification')
    const { q, x } = note
    const prepared = this.#complete(note).then((change) => (change ? this.#prepare(change) : undefined))
    // A rejected check is logged when its turn comes, not as an unhandled rejection before.
    prepared.catch(() => {})
    this.#enqueue(async () => {
      const deliver = await prepared
      if (this.#cursor.take(q, BigInt(x))) deliver?.()
    })
  }

  /** The LISTEN connection is down: live changes wait until what was missed is delivered. */
  #hold(): void {
    if (this.#gate) return
    let open!: () => void
    const gate = new Promise<void>((resolve) => (open = resolve))
    const before = this.#queue
    this.#queue = before.then(() => gate)
    this.#gate = { before, open }
  }

  /** Listening again: reads what was committed meanwhile, then lets live changes through. */
  #resume(): void {
    const gate = this.#gate
    this.#gate = undefined
    if (!gate) return this.#enqueue(() => this.#catchUp())
    void (async () => {
      await gate.before
      for (let attempt = 1; attempt <= CATCH_UP_TRIES; attempt++) {
        const done = await this.#catchUp().then(
          () => true,
          (error: unknown) => this.services.logger.warn({ err: error, attempt }, 'realtime: reading missed changes failed'),
        )
        if (done) break
        await new Promise((resolve) => setTimeout(resolve, attempt * 500))
      }
      gate.open()
    })()
  }

  /** Delivers, in log order, the changes this server has not delivered yet. */
  async #catchUp(): Promise<void> {
    const database = await this.services.database()
    const missed = await this.#cursor.missed(database, (awayMs) =>
      this.services.logger.warn({ awaySeconds: Math.round(awayMs / 1000), retentionMinutes: CHANGE_RETENTION_MINUTES }, 'realtime: away longer than the change log keeps changes; changes committed meanwhile may be skipped'),
    )
    if (missed.length > 0) this.services.logger.info({ changes: missed.length }, 'realtime: delivering changes missed while not listening')
    const prepared = missed.map(({ change }) => this.#prepare(change))
    prepared.forEach((p) => p.catch(() => {}))
    for (const delivery of prepared) {
      const deliver = await delivery.catch((error: unknown) => this.services.logger.warn({ err: error }, 'realtime: a missed change could not be delivered'))
      deliver?.()
    }
  }

  /** Decides who sees the change; returns the delivery, to run in order. */
  async #prepare(change: Change): Promise<Delivery> {
    if (!this.table(change.schema, change.table)) await this.sync()
    const table = this.table(change.schema, change.table)
    if (!table) return undefined
    const deliveries = deliveriesOf(this.#subscriptions, change)
    if (deliveries.length === 0) return undefined
    const visible = await this.#visibleTo([...new Set(deliveries.map((d) => d.subscriber))], table, change)
    const shaped = deliveries.filter((d) => visible.has(d.subscriber)).map((d) => ({ ...d, data: shape(change, table, d.select) }))
    return () => {
      for (const { subscriber, ids, data } of shaped) subscriber.push('postgres_changes', { ids, data })
    }
  }

  async #complete(note: ChangeNote): Promise<Change | undefined> {
    if (note.c) return note.c
    // Too large for NOTIFY: every server reads it from the log (pruned after the retention).
    return readLogged(await this.services.database(), note.q)
  }

  /** Who may see the row: everyone for a DELETE or a table without RLS; else one check per distinct claims, batched. */
  async #visibleTo(subscribers: ChangeSubscriber[], table: TableInfo, change: Change): Promise<Set<ChangeSubscriber>> {
    const groups = new Map<string, ChangeSubscriber[]>()
    for (const s of subscribers) {
      const key = JSON.stringify(s.claims)
      const members = groups.get(key)
      if (members) members.push(s)
      else groups.set(key, [s])
    }
    const visible = new Set<ChangeSubscriber>()
    await Promise.all(
      [...groups.values()].map(async (members) => {
        const claims = members[0]!.claims
        // A role without SELECT on the table sees none of its changes, RLS or not. A DELETE's row
        // is gone: its key goes to every role that may read the table (Supabase does not filter
        // deletes by RLS either); any other change only where the row is visible to the role.
        const sees = change.type === 'DELETE' ? await this.#visibility.canReadTable(claims, table) : await this.#visibility.canSelect(claims, table, change.record!)
        if (sees) members.forEach((m) => visible.add(m))
      }),
    )
    return visible
  }
}

interface SubscriberDelivery {
  subscriber: ChangeSubscriber
  ids: number[]
  select: string[] | undefined
}

/** The matching subscriptions, one message per subscriber and column selection (as Realtime groups them). */
function deliveriesOf(subscriptions: Iterable<Subscription>, change: Change): SubscriberDelivery[] {
  const bySubscriber = new Map<ChangeSubscriber, Map<string, SubscriberDelivery>>()
  for (const s of subscriptions) {
    if (!matches(s.params, change)) continue
    const selectKey = s.params.select ? [...s.params.select].sort().join(',') : '*'
    const bySelect = bySubscriber.get(s.subscriber) ?? bySubscriber.set(s.subscriber, new Map()).get(s.subscriber)!
    const delivery = bySelect.get(selectKey)
    if (delivery) delivery.ids.push(s.id)
    else bySelect.set(selectKey, { subscriber: s.subscriber, ids: [s.id], select: s.params.select })
  }
  return [...bySubscriber.values()].flatMap((bySelect) => [...bySelect.values()])
}

function pick(record: Record<string, unknown> | null, columns: string[]): Record<string, unknown> | null {
  if (!record) return null
  return Object.fromEntries(columns.filter((c) => c in record).map((c) => [c, record[c]]))
}

/**
 * The `data` realtime-js reads: old values are the key only unless REPLICA IDENTITY FULL (and no
 * RLS on a DELETE); with a `select`, only those columns and the primary key.
 */
function shape(change: Change, table: TableInfo, select: string[] | undefined): Record<string, unknown> {
  const fullOld = table.replicaFull && !(change.type === 'DELETE' && table.rowSecurity)
  const keep = select && new Set([...select, ...table.primaryKey])
  const columns = keep ? table.columns.filter((c) => keep.has(c.name)) : table.columns
  const narrow = (row: Record<string, unknown> | null) => (keep ? pick(row, [...keep]) : row)
  const data: Record<string, unknown> = { schema: change.schema, table: change.table, commit_timestamp: change.commit_timestamp, type: change.type, columns, errors: null }
  if (change.type !== 'DELETE') data.record = narrow(change.record)
  if (change.type !== 'INSERT') data.old_record = fullOld ? narrow(change.old_record) : pick(change.old_record, table.primaryKey)
  return data
}
