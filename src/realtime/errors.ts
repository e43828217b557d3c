/**
 * Realtime's HTTP error codes (`/realtime/v1`: the WebSocket handshake and `api/broadcast`).
 * Errors inside an open socket are not HTTP errors: they travel as Phoenix replies and `system`
 * messages with Supabase Realtime's own wording (protocol.ts, channel.ts).
 * @module
 */
import { HttpError } from '../errors.ts'

export const RealtimeErrorStatus = {
  /** The request body of `api/broadcast` is not what Realtime accepts. */
  realtime_invalid_broadcast: 422,
  /** `/realtime/v1/websocket` reached without a WebSocket upgrade. */
  realtime_upgrade_required: 426,
  /** A runtime without long-lived connections (Lambda behind API Gateway) cannot hold a WebSocket. */
  realtime_websocket_unsupported: 501,
} as const

export type RealtimeErrorCode = keyof typeof RealtimeErrorStatus

declare module '../errors.ts' {
  interface ErrorCatalogues {
    realtime: RealtimeErrorCode
  }
}

/** An error of Realtime's catalogue; `errors` (per field) joins the body like Realtime's 422s. */
export function realtimeError(code: RealtimeErrorCode, message: string, errors?: Record<string, unknown>): HttpError {
  const body: Record<string, unknown> = { code, message, error: message }
  if (errors) body.errors = errors
  return new HttpError(RealtimeErrorStatus[code], code, message, { body })
}
