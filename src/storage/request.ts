/**
 * Small readers of a storage request: its path below a route prefix, a bounded JSON body, and
 * the routes that need no API key (public and signed URLs, as Supabase's gateway lets through).
 * @module
 */
import type { Context } from 'hono'
import { storageErrors } from './errors.ts'

/** The request's path below `/storage/v1` (wherever the router is mounted). */
export function storagePath(c: Context): string {
  return c.req.path.slice(c.req.path.indexOf('/storage/v1') + '/storage/v1'.length)
}

/** The raw (still percent-encoded) path after `prefix` below the mount point. */
export function pathAfter(c: Context, prefix: string): string {
  const pathname = new URL(c.req.url).pathname
  const at = pathname.indexOf(prefix)
  if (at < 0) throw storageErrors.invalidRequest('Unexpected path')
  return pathname.slice(at + prefix.length)
}

/** A JSON body of at most `limit` bytes; `{}` when there is none. */
export async function jsonBody(c: Context, limit: number): Promise<unknown> {
  const length = c.req.header('content-length')
  if (length !== undefined && Number(length) > limit) throw storageErrors.entityTooLarge()
  const reader = c.req.raw.body?.getReader()
  if (!reader) return {}
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.length
    if (size > limit) {
      await reader.cancel()
      throw storageErrors.entityTooLarge()
    }
    chunks.push(value)
  }
  const text = Buffer.concat(chunks).toString('utf8')
  if (text.trim() === '') return {}
  try {
    return JSON.parse(text)
  } catch {
    throw storageErrors.invalidRequest('The request body is not valid JSON')
  }
}

const OPEN_ROUTES = /^\/(object|render\/image)\/(public|sign)\//
const SIGNED_RESUMABLE = /^\/upload\/resumable\/sign(?:\/|$)/

/** Resumable uploads that carry a signed upload URL's token (`x-signature`) instead of a JWT. */
export function isSignedResumablePath(path: string): boolean {
  return SIGNED_RESUMABLE.test(path)
}

/** Public and signed URLs are opened by browsers (`<img src>`), which send no API key. */
export function isOpenRoute(path: string, method: string): boolean {
  if (method === 'OPTIONS') return true
  if ((method === 'GET' || method === 'HEAD') && OPEN_ROUTES.test(path)) return true
  // Uploading to a signed upload URL, at once or resumably, carries its token instead of a key.
  return (method === 'PUT' && path.startsWith('/object/upload/sign/')) || isSignedResumablePath(path)
}
