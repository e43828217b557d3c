/**
 * Draining a Node HTTP server for a graceful stop (ECS task draining, SIGTERM): stop accepting,
 * finish in-flight requests within `graceMs`, then close the sockets. Any runtime built on a
 * Node `http.Server` (the node server, a future WebSocket server beside it) reuses it.
 * @module
 */
import net from 'node:net'
import type { ServerType } from '@hono/node-server'
import type { Drain } from '../http/draining.ts'

/** Resolves once every connection is closed, or when `graceMs` has passed. */
export async function drainHttpServer(server: ServerType, drain: Drain, graceMs: number): Promise<void> {
  drain.start()
  // Stop listening only: http.Server#close would also drop idle keep-alive sockets at once,
  // resetting a request already on its way over one. Those requests are served instead,
  // with `Connection: close` (see Drain), and the sockets closed once the work is done.
  const closed = new Promise<void>((resolve) => net.Server.prototype.close.call(server, () => resolve()))
  const grace = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref())
  await Promise.race([drain.idle(), grace])
  // A moment for requests already on their way over idle keep-alive sockets to arrive.
  await Promise.race([new Promise((resolve) => setTimeout(resolve, Math.min(250, graceMs / 4)).unref()), grace])
  const sockets = server as { closeIdleConnections?: () => void; closeAllConnections?: () => void }
  sockets.closeIdleConnections?.()
  await Promise.race([drain.idle(), grace])
  sockets.closeAllConnections?.()
  await Promise.race([closed, grace])
}
