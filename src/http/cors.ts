/** CORS as Supabase serves it: any origin, the headers its clients send, and the ones they read. */
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

export function supabaseCors() {
  return cors({
    origin: (origin) => origin || '*',
    allowHeaders: CORS_ALLOW_HEADERS,
    exposeHeaders: CORS_EXPOSE_HEADERS,
    allowMethods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
    credentials: true,
    maxAge: 86400,
  })
}
