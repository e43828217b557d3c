/**
 * A bucket's upload rules: `file_size_limit` (bytes, or storage-api's `"20MB"` strings) and
 * `allowed_mime_types` (exact types or wildcards like `image/*`).
 * @module
 */
import { storageErrors } from './errors.ts'

// Decimal units, as storage-api reads them (`20MB` is 20 000 000 bytes).
const UNITS: Record<string, number> = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9 }

/** `null` clears the limit; a number is bytes; a string is `<n><B|KB|MB|GB>` as storage-api takes it. */
export function parseFileSizeLimit(value: unknown): number | null | undefined {
  if (value === undefined) return undefined
  if (value === null) return null
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value
  if (typeof value === 'string') {
    const match = /^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB)?\s*$/i.exec(value)
    if (match) {
      const bytes = Math.floor(Number(match[1]) * UNITS[(match[2] ?? 'B').toUpperCase()]!)
      if (Number.isSafeInteger(bytes)) return bytes
    }
  }
  throw storageErrors.invalidRequest('Invalid file size format, hint: use 20GB / 20MB / 30KB / 3B')
}

const MIME = /^([a-z0-9!#$&^_.+-]+|\*)\/([a-z0-9!#$&^_.+-]+|\*)$/i

export function parseAllowedMimeTypes(value: unknown): string[] | null | undefined {
  if (value === undefined) return undefined
  if (value === null) return null
  if (!Array.isArray(value)) throw storageErrors.invalidRequest('allowed_mime_types must be an array of mime types')
  for (const type of value) {
    if (typeof type !== 'string' || !MIME.test(type)) throw storageErrors.invalidRequest(`invalid mime type ${JSON.stringify(type)} in allowed_mime_types`)
  }
  return value.length === 0 ? null : (value as string[])
}

/** Whether `contentType` (parameters ignored) is one of `allowed` (none listed = any). */
export function mimeTypeAllowed(contentType: string, allowed: readonly string[] | null): boolean {
  if (!allowed || allowed.length === 0) return true
  const [type = '', subtype = ''] = contentType.split(';')[0]!.trim().toLowerCase().split('/')
  return allowed.some((pattern) => {
    const [ptype = '', psubtype = ''] = pattern.toLowerCase().split('/')
    return (ptype === '*' || ptype === type) && (psubtype === '*' || psubtype === subtype)
  })
}
