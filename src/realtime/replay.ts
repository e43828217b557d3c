/**
 * Broadcast replay, as Supabase Realtime has it: a private channel joined with
 * `broadcast: { replay: { since, limit } }` is sent the stored broadcasts of its topic
 * (`realtime.messages`) inserted since `since` (ms since the epoch), the newest `limit` of them
 * (1 to 25, default 25) oldest first, each with `meta: { replayed: true, id }`, before live
 * messages. Public channels and malformed parameters are refused with Realtime's words.
 * Realtime reads them as its own role once the joiner may read broadcasts; here the read runs as
 * the joining role with its claims and `realtime.topic()` set, so RLS on realtime.messages decides
 * row by row too.
 * @module
 */
import { withSession } from '../db/session.ts'
import type { Claims } from '../jwt/service.ts'
import type { Services } from '../services.ts'

/** Realtime's cap on replayed messages per join. */
export const REPLAY_HARD_LIMIT = 25

export const REPLAY_MESSAGES = {
  publicChannel: 'UnableToReplayMessages: Replay is not allowed for public channels',
  invalid: 'UnableToReplayMessages: Replay params are not valid',
  failed: 'UnableToReplayMessages: Realtime was unable to replay messages',
} as const

export interface ReplayRequest {
  since: number
  limit: number
}

export interface ReplayedMessage {
  id: string
  event: string | null
  payload: unknown
  /** A `realtime.send_binary` message's bytes (only protocol 2.0.0 can carry them). */
  binary_payload?: Uint8Array | null
}

/** The farthest a JavaScript date reaches: Realtime refuses times it cannot represent. */
const MAX_EPOCH_MS = 8.64e15

/** The join's `replay` (undefined when absent); a string is the refusal. */
export function parseReplay(replay: unknown): ReplayRequest | string {
  if (typeof replay !== 'object' || replay === null || Array.isArray(replay)) return REPLAY_MESSAGES.invalid
  const { since, limit = REPLAY_HARD_LIMIT } = replay as Record<string, unknown>
  if (!Number.isSafeInteger(since) || Math.abs(since as number) > MAX_EPOCH_MS) return REPLAY_MESSAGES.invalid
  if (!Number.isSafeInteger(limit)) return REPLAY_MESSAGES.invalid
  return { since: since as number, limit: Math.max(Math.min(limit as number, REPLAY_HARD_LIMIT), 1) }
}

// inserted_at is a timestamp without time zone filled by now(): `since` is compared in the
// session's zone, as the rows were written. Rows "from the future" (clock drift) are left out.
const REPLAY_SQL = `
SELECT id::text, event, payload, binary_payload FROM realtime.messages
WHERE topic = $1 AND private IS TRUE AND extension = 'broadcast'
  AND inserted_at >= to_timestamp($2::double precision / 1000)::timestamp
  AND inserted_at < now()::timestamp + interval '1 minute'
ORDER BY inserted_at DESC LIMIT $3`

/** The messages to replay, oldest first, as `claims` may SELECT them. */
export async function readReplay(services: Services, claims: Claims, topic: string, request: ReplayRequest): Promise<ReplayedMessage[]> {
  const database = await services.database()
  const role = typeof claims.role === 'string' ? claims.role : 'anon'
  const options = { role, claims: { ...claims, role }, readOnly: true, settings: { 'realtime.topic': topic }, statementTimeoutMs: services.config.statementTimeoutMs }
  const rows = await withSession(database, options, async (tx) => (await tx.query<ReplayedMessage>(REPLAY_SQL, [topic, request.since, request.limit], { commit: true })).rows)
  return rows.reverse()
}
