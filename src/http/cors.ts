/**
 * CORS as Supabase serves it: any origin, the headers its clients send, and the ones they read.
 * Credentials (cookies, HTTP auth) are allowed only for origins an operator lists: reflecting any
 * Origin with `Allow-Credentials: true` would let every site make credentialed calls.
 * @module
 */
import type { MiddlewareHandler } from 'hono'
import { cors } from 'hono/cors'

export const CORS_ALLOW_HEADERS = [
  'authorization',
  'apikey',
  'content-type',
  'x-client-info',
  'x-supabase-api-version',
  'x-client-ip',
  'x-jwt-aud',
  'x-use-cookie',
  'traceparent',
  'tracestate',
  'baggage',
  'prefer',
  'range',
  'range-unit',
  'accept',
  'accept-profile',
  'content-profile',
  'x-upsert',
  'x-request-id',
]

export const CORS_EXPOSE_HEADERS = [
  'content-range',
  'content-profile',
  'content-location',
  'location',
  'preference-applied',
  'range-unit',
  'x-total-count',
  'link',
  'x-supabase-api-version',
  'x-request-id',
  'retry-after',
]

export function supabaseCors(credentialsOrigins: readonly string[] = []): MiddlewareHandler {
  const common = {
    allowHeaders: CORS_ALLOW_HEADERS,
    exposeHeaders: CORS_EXPOSE_HEADERS,
    allowMethods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
    maxAge: 86400,
  }
  const open = cors({ ...common, origin: '*' })
  if (credentialsOrigins.length === 0) return open
  const trusted = new Set(credentialsOrigins)
  const withCredentials = cors({ ...common, origin: (origin) => origin, credentials: true })
  return (c, next) => (trusted.has(c.req.header('origin') ?? '') ? withCredentials(c, next) : open(c, next))
}
