/**
 * CORS as Supabase serves it: any origin, the headers its clients send, and the ones they read.
 * Credentials (cookies, HTTP auth) are allowed only for origins an operator lists: reflecting any
 * Origin with `Allow-Credentials: true` would let every site make credentialed calls.
 * @module
 */

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
  // storage-js: object metadata, cache control on uploads, conditional downloads
  'x-metadata',
  'cache-control',
  'if-none-match',
  'x-request-id',
  // /storage/v1/upload/resumable: tus requests (tus-js-client, Uppy)
  'tus-resumable',
  'upload-length',
  'upload-metadata',
  'upload-offset',
  'upload-defer-length',
  'upload-concat',
  // a signed upload URL's token on /storage/v1/upload/resumable/sign
  'x-signature',
  'x-http-method-override',
  'x-requested-with',
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
  // /storage/v1 downloads
  'etag',
  'content-disposition',
  'accept-ranges',
  // /storage/v1/upload/resumable: what tus clients read
  'upload-offset',
  'upload-length',
  'upload-metadata',
  'upload-expires',
  'tus-resumable',
  'tus-version',
  'tus-extension',
  'tus-max-size',
]

const ALLOW_HEADERS = CORS_ALLOW_HEADERS.join(',')
const EXPOSE_HEADERS = CORS_EXPOSE_HEADERS.join(',')
const ALLOW_METHODS = 'GET,HEAD,POST,PUT,PATCH,DELETE,OPTIONS'

/**
 * Sets the CORS headers on `headers` (the response's, after the handler ran: setting them before
 * would make Hono rebuild the handler's response). `preflight` adds the OPTIONS answer's headers.
 */
export type CorsHeaders = (headers: Headers, origin: string | undefined, preflight: boolean) => void

export function supabaseCors(credentialsOrigins: readonly string[] = []): CorsHeaders {
  const trusted = new Set(credentialsOrigins)
  return (headers, origin, preflight) => {
    const credentialed = origin !== undefined && trusted.has(origin)
    headers.set('Access-Control-Allow-Origin', credentialed ? origin : '*')
    if (credentialed) headers.set('Access-Control-Allow-Credentials', 'true')
    headers.set('Access-Control-Expose-Headers', EXPOSE_HEADERS)
    if (preflight) {
      headers.set('Access-Control-Max-Age', '86400')
      headers.set('Access-Control-Allow-Methods', ALLOW_METHODS)
      headers.set('Access-Control-Allow-Headers', ALLOW_HEADERS)
      headers.append('Vary', 'Access-Control-Request-Headers')
    }
    // The answer depends on the Origin only when credentials are reflected for listed origins.
    if (trusted.size > 0) headers.append('Vary', 'Origin')
  }
}
