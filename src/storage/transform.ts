/**
 * Image transformation options as storage-api takes them (`width`, `height`, `resize`, `format`,
 * `quality`; its JSON schema's ranges), the imgproxy-style segments it reports in
 * `X-Transformations`, and the string a signed URL's token carries them in. No image code here:
 * this module is small enough for every build, the pixels are in `image-render.ts`.
 * @module
 */
import { storageErrors } from './errors.ts'

export type ResizeMode = 'cover' | 'contain' | 'fill'
export type TransformFormat = 'origin' | 'avif' | 'webp'

export interface TransformOptions {
  width?: number
  height?: number
  resize?: ResizeMode
  format?: TransformFormat
  quality?: number
}

/** storage-api's `IMAGE_TRANSFORMATION_LIMIT_MIN_SIZE`/`_MAX_SIZE` defaults: sizes are clamped into this. */
export const SIZE_LIMITS = { min: 1, max: 2000 } as const
const RESIZE_MODES: readonly string[] = ['cover', 'contain', 'fill']
const FORMATS: readonly string[] = ['origin', 'avif', 'webp']

function invalid(field: string, rule: string): never {
  throw storageErrors.invalidRequest(`querystring/${field} ${rule}`)
}

/** A whole number ≥ `min` (≤ `max`), from a query string or a JSON body. */
function integerField(field: string, value: unknown, min: number, max?: number): number | undefined {
  if (value === undefined || value === null || value === '') return undefined
  const number = typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value
  if (typeof number !== 'number' || !Number.isSafeInteger(number)) invalid(field, 'must be integer')
  if (number < min) invalid(field, `must be >= ${min}`)
  if (max !== undefined && number > max) invalid(field, `must be <= ${max}`)
  return number
}

function choiceField<T extends string>(field: string, value: unknown, allowed: readonly string[]): T | undefined {
  if (value === undefined || value === null || value === '') return undefined
  if (typeof value !== 'string' || !allowed.includes(value)) invalid(field, 'must be equal to one of the allowed values')
  return value as T
}

/** Validates options from a query string (`?width=…`) or a sign request's `transform` object. */
export function parseTransformOptions(source: Record<string, unknown> | undefined): TransformOptions {
  if (source === undefined || source === null) return {}
  if (typeof source !== 'object' || Array.isArray(source)) throw storageErrors.invalidRequest('transform must be an object')
  const options: TransformOptions = {
    width: integerField('width', source.width, 0),
    height: integerField('height', source.height, 0),
    resize: choiceField<ResizeMode>('resize', source.resize, RESIZE_MODES),
    format: choiceField<TransformFormat>('format', source.format, FORMATS),
    quality: integerField('quality', source.quality, 20, 100),
  }
  for (const key of Object.keys(options) as (keyof TransformOptions)[]) if (options[key] === undefined) delete options[key]
  return options
}

const clamp = (value: number) => Math.min(Math.max(value, SIZE_LIMITS.min), SIZE_LIMITS.max)

/** The requested box, clamped to the limits; 0/absent means "follow the aspect ratio". */
export function targetSize(options: TransformOptions): { width?: number; height?: number } {
  return { width: options.width ? clamp(options.width) : undefined, height: options.height ? clamp(options.height) : undefined }
}

/** imgproxy's names for the modes (what storage-api reports): cover → fill, contain → fit, fill → force. */
const IMGPROXY_RESIZE: Record<ResizeMode, string> = { cover: 'fill', contain: 'fit', fill: 'force' }

/**
 * The segments storage-api sends imgproxy and echoes in `X-Transformations`
 * (`height:200,width:200,resizing_type:fill,quality:60`); `forToken` keeps storage-js's own names
 * (`resize:cover`) as storage-api writes them into a signed URL's token.
 */
export function transformSegments(options: TransformOptions, forToken = false): string[] {
  const segments: string[] = []
  const { width, height } = forToken ? { width: options.width, height: options.height } : targetSize(options)
  if (height) segments.push(`height:${height}`)
  if (width) segments.push(`width:${width}`)
  if (forToken) {
    if (options.resize) segments.push(`resize:${options.resize}`)
  } else if (width || height) segments.push(`resizing_type:${IMGPROXY_RESIZE[options.resize ?? 'cover']}`)
  if (options.quality) segments.push(`quality:${options.quality}`)
  if (options.format && options.format !== 'origin') segments.push(`format:${options.format}`)
  return segments
}

/**
 * Reads a signed token's `transformations` back. Like storage-api it takes what it knows and
 * skips the rest (the token is ours, signed), but values still pass the same checks.
 */
export function parseTokenTransformations(value: unknown): TransformOptions {
  if (typeof value !== 'string' || value === '') return {}
  const fields: Record<string, string> = {}
  for (const segment of value.split(',')) {
    const [name, field] = segment.split(':')
    if (name && field) fields[name] = field
  }
  if (fields.resize !== undefined && !RESIZE_MODES.includes(fields.resize)) delete fields.resize
  return parseTransformOptions(fields)
}
