/**
 * Supabase's gateway (Kong's key-auth) refuses `/rest/v1` and `/vault/v1` requests that carry no
 * API key: 401 "No API key found in request". So does this service, unless `API_KEY_REQUIRED=false`
 * opens them to anonymous callers (who then act as `anon`). The key itself is verified by the
 * routers, as before; this only decides whether one was sent.
 * @module
 */
import type { MiddlewareHandler } from 'hono'
import { appError } from '../errors.ts'

const MESSAGE = 'No API key found in request'
// The routers read keys from headers only, so a `?apikey=` parameter does not count here.
const HINT = 'No `apikey` request header (or `Authorization: Bearer`) was found.'

export function apiKeyGate(required: boolean): MiddlewareHandler {
  return async (c, next) => {
    // Preflights carry no credentials by design.
    if (!required || c.req.method === 'OPTIONS') return next()
    const present = Boolean(c.req.header('apikey') || /^Bearer\s+\S/i.test(c.req.header('authorization') ?? ''))
    if (!present) throw appError('no_api_key', MESSAGE, { hint: HINT })
    return next()
  }
}
