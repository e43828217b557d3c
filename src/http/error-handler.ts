/**
 * The one error renderer. Known errors keep their status, code and body; anything else is logged
 * with the request id and becomes a 500 with the code `internal_error` (no internals leak).
 * @module
 */
import type { Context } from 'hono'
import { HTTPException } from 'hono/http-exception'
import { infrastructureError } from '../db/errors.ts'
import { appError, HttpError, statusError } from '../errors.ts'
import type { Logger } from '../logger.ts'

export function toHttpError(error: unknown): HttpError | undefined {
  if (error instanceof HttpError) return error
  if (error instanceof HTTPException) {
    if (error.status === 413) return appError('payload_too_large', 'The request body is too large')
    return statusError(error.status, error.message || 'Bad request')
  }
  return infrastructureError(error)
}

export function renderError(error: unknown, c: Context, logger: Logger): Response {
  const known = toHttpError(error)
  const requestId = c.get('requestId') as string | undefined
  if (!known) {
    logger.error({ err: error, requestId }, 'unhandled error')
    return c.json({ code: 'internal_error', message: 'Internal server error', request_id: requestId }, 500)
  }
  if (known.status >= 500) logger.warn({ code: known.code, requestId, cause: (known.cause as Error | undefined)?.message }, known.message)
  return c.json(known.body, known.status as 400, known.headers)
}
