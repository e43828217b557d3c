/**
 * Broadcasts from SQL: `realtime.send(…)`, `realtime.send_binary(…)` and
 * `realtime.broadcast_changes(…)` insert into `realtime.messages`, whose trigger NOTIFYs
 * `resolution_realtime_messages` with the row (or only its id when the row is past NOTIFY's size
 * limit or its payload is bytes: then it is read back). Every server listens and
 * delivers to its own clients, so these never go through the bus; the LISTEN is the server's one
 * Realtime connection (notifications.ts).
 * @module
 */
import type { Queryable } from '../db/types.ts'
import { MESSAGES_CHANNEL } from '../schema/sql/realtime.ts'
import type { Services } from '../services.ts'
import type { Notifications } from './notifications.ts'

export interface DbMessage {
  id: string
  topic: string
  event: string | null
  private: boolean
  payload: unknown
  /** Set for `realtime.send_binary`: the bytes, delivered as a binary broadcast. */
  binary_payload?: Uint8Array | null
}

async function complete(services: Services, raw: string): Promise<DbMessage | undefined> {
  const parsed = JSON.parse(raw) as Partial<DbMessage> & { id: string }
  if (typeof parsed.topic === 'string') return parsed as DbMessage
  const database = await services.database()
  const { rows } = await database.query<DbMessage>('SELECT id, topic, event, private, payload, binary_payload FROM realtime.messages WHERE id = $1', [parsed.id])
  return rows[0]
}

/** How long messages stay in realtime.messages (Supabase keeps about three days of partitions). */
export const MESSAGE_RETENTION_DAYS = 3
const PRUNE_EVERY_MS = 10 * 60_000

/** Deletes messages past the retention; every server does it now and then (it is idempotent). */
export async function pruneMessages(database: Queryable): Promise<number> {
  const { rowCount } = await database.query(`DELETE FROM realtime.messages WHERE inserted_at < now() - make_interval(days => $1)`, [MESSAGE_RETENTION_DAYS])
  return rowCount ?? 0
}

function prunePeriodically(services: Services): () => void {
  const timer = setInterval(() => {
    services
      .database()
      .then(pruneMessages)
      .catch((error) => services.logger.warn({ err: error }, 'realtime: pruning realtime.messages failed'))
  }, PRUNE_EVERY_MS)
  timer.unref()
  return () => clearInterval(timer)
}

/** Delivers SQL's messages to `onMessage` and prunes old ones; returns how to stop. */
export async function listenForDbMessages(services: Services, notifications: Notifications, onMessage: (message: DbMessage) => void): Promise<() => void> {
  const stopListening = await notifications.listen(MESSAGES_CHANNEL, (raw) => {
    complete(services, raw || '{}')
      .then((message) => message && onMessage(message))
      .catch((error) => services.logger.warn({ err: error }, 'realtime: unreadable message from realtime.messages'))
  })
  const stopPruning = prunePeriodically(services)
  return () => {
    stopPruning()
    stopListening()
  }
}
