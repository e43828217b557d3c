/**
 * An upload's request, as storage-js sends it: either a raw body (`Content-Type` is the object's
 * type, `Cache-Control: max-age=N`, `x-metadata` base64 JSON) or a multipart form (fields
 * `cacheControl` and `metadata` before one file part, whose type is the object's). Either way the
 * bytes stay a stream: nothing here buffers the file.
 * @module
 */
import { Readable } from 'node:stream'
import busboy from 'busboy'
import type { Context } from 'hono'
import { storageErrors } from './errors.ts'

export interface UploadBody {
  stream: Readable
  contentType: string
  cacheControl: string
  userMetadata: Record<string, unknown> | null
}

const DEFAULT_CONTENT_TYPE = 'text/plain;charset=UTF-8'
const DEFAULT_CACHE_CONTROL = 'no-cache'

function metadataObject(json: string): Record<string, unknown> {
  let value: unknown
  try {
    value = JSON.parse(json)
  } catch {
    throw storageErrors.invalidRequest('metadata must be a JSON object')
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw storageErrors.invalidRequest('metadata must be a JSON object')
  return value as Record<string, unknown>
}

/** `x-metadata`: base64 of a JSON object. */
export function headerMetadata(header: string | undefined): Record<string, unknown> | null {
  if (header === undefined || header === '') return null
  return metadataObject(Buffer.from(header, 'base64').toString('utf8'))
}

function cacheControlOf(seconds: string | undefined, header: string | undefined): string {
  if (seconds !== undefined && /^\d{1,10}$/.test(seconds.trim())) return `max-age=${seconds.trim()}`
  return header && header.length <= 200 ? header : DEFAULT_CACHE_CONTROL
}

/**
 * The request's bytes as a Node stream. On Node (`@hono/node-server` hands the handler its
 * `IncomingMessage` as `env.incoming`) that is the socket's own stream, untouched so far: no
 * Node → web → Node conversion on every chunk. Elsewhere (Lambda, tests through `app.request`)
 * the web body, converted once.
 */
function requestStream(c: Context): Readable {
  const incoming = (c.env as { incoming?: unknown } | undefined)?.incoming
  if (incoming instanceof Readable && !incoming.readableDidRead && !incoming.readableEnded) return incoming
  const body = c.req.raw.body
  if (!body) throw storageErrors.invalidRequest('No content provided')
  return Readable.fromWeb(body as import('node:stream/web').ReadableStream<Uint8Array>)
}

export async function readUploadBody(c: Context): Promise<UploadBody> {
  const type = c.req.header('content-type') ?? ''
  if (/^multipart\/form-data/i.test(type)) return multipartBody(c, type)
  return {
    stream: requestStream(c),
    contentType: type || DEFAULT_CONTENT_TYPE,
    cacheControl: cacheControlOf(undefined, c.req.header('cache-control')),
    userMetadata: headerMetadata(c.req.header('x-metadata')),
  }
}

/** Resolves at the form's first file part, with the fields read before it. */
function multipartBody(c: Context, contentType: string): Promise<UploadBody> {
  const source = requestStream(c)
  return new Promise<UploadBody>((resolve, reject) => {
    let parser: busboy.Busboy
    try {
      parser = busboy({ headers: { 'content-type': contentType }, limits: { files: 1, fields: 10, fieldSize: 64 * 1024 } })
    } catch (error) {
      reject(storageErrors.invalidRequest(`Invalid multipart body: ${(error as Error).message}`))
      return
    }
    const fields: Record<string, string> = {}
    let found = false
    parser.on('field', (name, value) => {
      fields[name] = value
    })
    parser.on('file', (_name, file, info) => {
      found = true
      try {
        resolve({
          stream: file,
          contentType: info.mimeType || DEFAULT_CONTENT_TYPE,
          cacheControl: cacheControlOf(fields.cacheControl, undefined),
          userMetadata: fields.metadata ? metadataObject(fields.metadata) : null,
        })
      } catch (error) {
        file.resume()
        reject(error)
      }
    })
    parser.on('error', (error) => reject(storageErrors.invalidRequest(`Invalid multipart body: ${(error as Error).message}`)))
    parser.on('close', () => {
      if (!found) reject(storageErrors.invalidRequest('No content provided'))
    })
    source.on('error', (error) => parser.destroy(error))
    source.pipe(parser)
  })
}
