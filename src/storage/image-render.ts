/**
 * Renders a transformed image with sharp (libvips), as storage-api's imgproxy would: resize
 * (cover/contain/fill, never enlarging, EXIF orientation applied), quality, and the output format
 * — `format=origin` keeps the source's, `webp`/`avif` force one, and no format means WebP when the
 * client's `Accept` names `image/webp` (imgproxy's WebP detection, on in Supabase), else the source's.
 *
 * sharp is a native module: it is imported on first use and kept out of the Lambda bundle, where
 * loading it fails and the routes answer 501. Memory stays bounded: the source (at most
 * `MAX_SOURCE_BYTES`, checked before and while reading) streams from the backend into one buffer,
 * its header is read before any pixel is decoded, and libvips refuses more than `MAX_SOURCE_PIXELS`.
 * @module
 */
import type { Readable } from 'node:stream'
import type { Sharp, SharpOptions } from 'sharp'
import { objectKey, type StorageBackend } from './backend/types.ts'
import { contentDisposition, etagMatches } from './download.ts'
import { storageErrors } from './errors.ts'
import type { ObjectRow } from './objects.ts'
import { targetSize, transformSegments, type ResizeMode, type TransformOptions } from './transform.ts'

/** Supabase's documented limits for transformed sources: 25 MB and 50 megapixels. */
export const MAX_SOURCE_BYTES = 25 * 1024 * 1024
export const MAX_SOURCE_PIXELS = 50_000_000

type SharpFactory = (input?: Buffer, options?: SharpOptions) => Sharp
let loading: Promise<SharpFactory> | undefined

/** sharp, loaded once; a 501 where it is not installed (the Lambda bundle leaves it out). */
export function loadSharp(): Promise<SharpFactory> {
  loading ??= import('sharp').then(
    (module) => {
      const sharp = module.default
      // libvips' operation cache would keep decoded images of past requests in memory.
      sharp.cache(false)
      return sharp as unknown as SharpFactory
    },
    (cause: unknown) => {
      loading = undefined
      throw storageErrors.notSupportedHere('Image transformations need the container image: sharp (a native module) is not available here', cause)
    },
  )
  return loading
}

/** sharp's `fit` for storage-api's modes: cover crops, contain fits inside (imgproxy `fit`: no padding), fill stretches. */
const SHARP_FIT: Record<ResizeMode, 'cover' | 'inside' | 'fill'> = { cover: 'cover', contain: 'inside', fill: 'fill' }

const WRITABLE = new Set(['jpeg', 'png', 'webp', 'avif', 'gif', 'tiff'])
/**
 * Raster sources only. libvips also reads SVG and PDF (through librsvg and poppler): documents
 * that can name other files and make the renderer do unbounded work, from anyone who may upload.
 */
const READABLE = new Set(['jpeg', 'png', 'webp', 'gif', 'tiff', 'heif'])
const LOSSY = new Set(['jpeg', 'webp', 'avif', 'tiff'])

/** The format written: the requested one, WebP if `Accept` asks for it, else the source's (PNG if sharp cannot write it). */
type OutputFormat = 'jpeg' | 'png' | 'webp' | 'avif' | 'gif' | 'tiff'

function outputFormat(options: TransformOptions, accept: string | undefined, source: string): OutputFormat {
  if (options.format === 'webp' || options.format === 'avif') return options.format
  if (options.format === undefined && accept && /\bimage\/webp\b/i.test(accept)) return 'webp'
  return (WRITABLE.has(source) ? source : 'png') as OutputFormat
}

const sourceInvalid = () => storageErrors.invalidRequest('The source image is invalid or unsupported for rendering')
const sourceTooLarge = () => storageErrors.invalidRequest('The source image file is too large to process')
const resolutionTooLarge = () => storageErrors.invalidRequest('The source image resolution is too large to process')

/** What sharp's refusal means for the client: too many pixels, or not an image it can read. */
function sourceError(error: unknown) {
  return /pixel limit/i.test(String(error)) ? resolutionTooLarge() : sourceInvalid()
}

async function readAtMost(stream: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > limit) {
      stream.destroy()
      throw sourceTooLarge()
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks, size)
}

export interface RenderRequest {
  method: string
  accept: string | undefined
  ifNoneMatch: string | undefined
  /** `?download=`: undefined = inline; '' = the object's own file name. */
  download: string | undefined
  /** Extra response headers (a signed URL's `Expires`). */
  headers?: Record<string, string>
}

/**
 * At most this many renders hold a source and its pixels at once (a 50 MP source decodes to
 * ≈ 200 MB); the rest wait their turn before reading their source, holding nothing.
 */
const RENDERS_AT_ONCE = 2
let rendering = 0
const waiting: Array<() => void> = []

async function inTurn<T>(work: () => Promise<T>): Promise<T> {
  if (rendering < RENDERS_AT_ONCE) rendering++
  else await new Promise<void>((resolve) => waiting.push(resolve)) // the slot is handed over, not freed
  try {
    return await work()
  } finally {
    const next = waiting.shift()
    if (next) next()
    else rendering--
  }
}

export async function renderImage(backend: StorageBackend, row: ObjectRow, options: TransformOptions, request: RenderRequest): Promise<Response> {
  const sharp = await loadSharp()
  const key = objectKey(row.bucket_id, row.name, row.version ?? '')
  const metadata = row.metadata ?? {}
  const size = typeof metadata.size === 'number' ? metadata.size : (await backend.stat(key))?.size
  if (size === undefined) throw storageErrors.noSuchKey()
  if (size > MAX_SOURCE_BYTES) throw sourceTooLarge()

  const segments = transformSegments(options)
  const headers: Record<string, string> = {
    'Cache-Control': metadata.cacheControl ?? 'no-cache',
    'Last-Modified': new Date(metadata.lastModified ?? row.updated_at).toUTCString(),
    ...request.headers,
  }
  // The output follows Accept unless the format is fixed: caches must key on it.
  if (options.format === undefined) headers.Vary = 'Accept'
  if (segments.length > 0) headers['X-Transformations'] = segments.join(',')
  // Same source version and same request give the same image: the source's ETag stands for it (storage-api's too).
  if (metadata.eTag) headers.ETag = metadata.eTag
  if (request.download !== undefined) headers['Content-Disposition'] = contentDisposition(request.download || row.name.split('/').pop()!)
  if (etagMatches(request.ifNoneMatch, metadata.eTag)) return new Response(null, { status: 304, headers })

  return inTurn(() => render(sharp, backend, key, options, request, headers))
}

async function render(sharp: SharpFactory, backend: StorageBackend, key: string, options: TransformOptions, request: RenderRequest, headers: Record<string, string>): Promise<Response> {
  const stream = await backend.read(key)
  if (!stream) throw storageErrors.noSuchKey()
  const source = await readAtMost(stream, MAX_SOURCE_BYTES)

  // The header alone says what the source is and how big it decodes, before any pixel is.
  const sharpOptions: SharpOptions = { limitInputPixels: MAX_SOURCE_PIXELS, failOn: 'error' }
  let info
  try {
    info = await sharp(source, sharpOptions).metadata()
  } catch (error) {
    throw sourceError(error)
  }
  if (!info.format || !READABLE.has(info.format) || !info.width || !info.height) throw sourceInvalid()
  if (info.width * info.height > MAX_SOURCE_PIXELS) throw resolutionTooLarge()

  const sourceFormat = info.format === 'heif' && info.compression === 'av1' ? 'avif' : info.format
  const format = outputFormat(options, request.accept, sourceFormat)
  const image = sharp(source, sharpOptions).rotate()
  const { width, height } = targetSize(options)
  if (width || height) image.resize({ width, height, fit: SHARP_FIT[options.resize ?? 'cover'], withoutEnlargement: true })
  image.toFormat(format, LOSSY.has(format) && options.quality ? { quality: options.quality } : {})
  let output: Buffer
  try {
    output = await image.toBuffer()
  } catch (error) {
    throw sourceError(error)
  }

  headers['Content-Type'] = `image/${format}`
  headers['Content-Length'] = String(output.length)
  return new Response(request.method === 'HEAD' ? null : new Uint8Array(output), { status: 200, headers })
}
