/**
 * The one middleware around every request: its id, CORS, the drain count and the log line.
 * One layer instead of four, and every header is set on the handler's response after it ran:
 * touching `c.res` before `next()` makes Hono rebuild the handler's response as a web
 * `Response` with a stream, which costs more than the rest of a simple request.
 * A CORS preflight (OPTIONS with `Access-Control-Request-Method`) is answered here and never
 * reaches the routers; a plain OPTIONS does (REST answers it with `Allow`, as PostgREST).
 * @module
 */
import { randomUUID } from 'node:crypto'
import type { MiddlewareHandler } from 'hono'
import type { Logger } from '../logger.ts'
import type { CorsHeaders } from './cors.ts'
import type { Drain } from './draining.ts'

const REQUEST_ID = /^[\w\-=]{1,255}$/

export interface RequestFrameOptions {
  logger: Logger
  cors: CorsHeaders
  drain: Drain
}

export function requestFrame({ logger, cors, drain }: RequestFrameOptions): MiddlewareHandler {
  return async function requestFrameMiddleware(c, next) {
    const started = performance.now()
    // A client's id is kept when it is short and plain, so its logs and ours line up.
    const given = c.req.header('x-request-id')
    const requestId = given !== undefined && REQUEST_ID.test(given) ? given : randomUUID()
    c.set('requestId', requestId)
    const origin = c.req.header('origin')
    const method = c.req.method
    let response: Response | undefined
    if (method === 'OPTIONS' && c.req.header('access-control-request-method') !== undefined) {
      const headers = new Headers({ 'X-Request-Id': requestId })
      cors(headers, origin, true)
      response = new Response(null, { status: 204, statusText: 'No Content', headers })
    } else {
      drain.enter()
      try {
        await next()
      } finally {
        drain.leave()
      }
      const headers = c.res.headers
      headers.set('X-Request-Id', requestId)
      cors(headers, origin, false)
      if (drain.draining) headers.set('Connection', 'close')
    }
    const status = response?.status ?? c.res.status
    const durationMs = Math.round((performance.now() - started) * 10) / 10
    const line = { requestId, method, path: c.req.path, status, durationMs }
    if (status >= 500) logger.warn(line, 'request')
    else logger.info(line, 'request')
    return response
  }
}
