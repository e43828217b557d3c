/**
 * Serving an object's bytes: `Range` (one range, 206), `ETag`/`If-None-Match` (304),
 * `?download=` (Content-Disposition), and HEAD (headers only). The body streams from the backend,
 * as a Node stream the Node server pipes to the socket as is (http/node-body.ts).
 * @module
 */
import { nodeStreamResponse } from '../http/node-body.ts'
import type { StorageBackend, ByteRange } from './backend/types.ts'
import { objectKey } from './backend/types.ts'
import { storageErrors } from './errors.ts'
import type { ObjectRow } from './objects.ts'

/** `bytes=a-b`, `bytes=a-`, `bytes=-n` over `size`; undefined to serve everything (none, or several ranges). */
export function parseRange(header: string | undefined, size: number): ByteRange | undefined {
  if (!header) return undefined
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (!match) {
    if (/^bytes=.*,/.test(header)) return undefined
    throw storageErrors.invalidRange()
  }
  const [, from, to] = match
  if (from === '' && to === '') throw storageErrors.invalidRange()
  let start: number
  let end: number
  if (from === '') {
    start = Math.max(0, size - Number(to))
    end = size - 1
  } else {
    start = Number(from)
    end = to === '' ? size - 1 : Math.min(Number(to), size - 1)
  }
  if (start > end || start >= size) throw storageErrors.invalidRange()
  return { start, end }
}

/** RFC 6266 `attachment` with an ASCII fallback and the UTF-8 name. */
export function contentDisposition(filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]|["\\]/g, '_')
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename)}`
}

/** `If-None-Match` names `etag` (weak or strong) or `*`. */
export function etagMatches(ifNoneMatch: string | undefined, etag: string | undefined): boolean {
  if (!ifNoneMatch || !etag) return false
  const bare = (tag: string) => tag.trim().replace(/^W\//, '')
  return ifNoneMatch.split(',').some((tag) => tag.trim() === '*' || bare(tag) === bare(etag))
}

export interface ServeOptions {
  method: string
  range: string | undefined
  ifNoneMatch: string | undefined
  /** `?download=`: undefined = inline; '' = the object's own file name. */
  download: string | undefined
  /** Extra response headers (e.g. the signed URL's expiry). */
  headers?: Record<string, string>
}

export async function serveObject(backend: StorageBackend, row: ObjectRow, options: ServeOptions): Promise<Response> {
  const key = objectKey(row.bucket_id, row.name, row.version ?? '')
  const metadata = row.metadata ?? {}
  const size = typeof metadata.size === 'number' ? metadata.size : (await backend.stat(key))?.size
  if (size === undefined) throw storageErrors.noSuchKey()
  const headers: Record<string, string> = {
    'Content-Type': metadata.mimetype ?? 'application/octet-stream',
    'Cache-Control': metadata.cacheControl ?? 'no-cache',
    'Accept-Ranges': 'bytes',
    'Last-Modified': new Date(metadata.lastModified ?? row.updated_at).toUTCString(),
    ...options.headers,
  }
  if (metadata.eTag) headers.ETag = metadata.eTag
  if (options.download !== undefined) headers['Content-Disposition'] = contentDisposition(options.download || row.name.split('/').pop()!)
  if (etagMatches(options.ifNoneMatch, metadata.eTag)) return new Response(null, { status: 304, headers })

  const range = size > 0 ? parseRange(options.range, size) : undefined
  const status = range ? 206 : 200
  headers['Content-Length'] = String(range ? range.end - range.start + 1 : size)
  if (range) headers['Content-Range'] = `bytes ${range.start}-${range.end}/${size}`
  if (options.method === 'HEAD') return new Response(null, { status, headers })

  const stream = await backend.read(key, range)
  if (!stream) throw storageErrors.noSuchKey()
  return nodeStreamResponse(stream, { status, headers })
}
