/**
 * One JSON log line per request: method, path (never the query string, which can hold values),
 * status, duration and request id. Headers and bodies are not logged.
 * @module
 */
import type { MiddlewareHandler } from 'hono'
import type { Logger } from '../logger.ts'

export function requestLog(logger: Logger): MiddlewareHandler {
  return async function requestLogMiddleware(c, next) {
    const started = performance.now()
    await next()
    const durationMs = Math.round((performance.now() - started) * 10) / 10
    const status = c.res.status
    const line = { requestId: c.get('requestId'), method: c.req.method, path: c.req.path, status, durationMs }
    if (status >= 500) logger.warn(line, 'request')
    else logger.info(line, 'request')
  }
}
