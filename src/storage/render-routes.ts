/**
 * `/render/image/…`: storage-api's image transformation routes — `authenticated/` (the caller's
 * session: RLS decides as for a download), `public/` (public buckets) and `sign/?token=` (a signed
 * URL whose token carries the transformations). The rendering (sharp) loads on first use.
 * @module
 */
import type { Context, Hono } from 'hono'
import type { Services } from '../services.ts'
import { callerOf, inOneStatement, type Caller } from './access.ts'
import type { StorageBackend } from './backend/types.ts'
import { publicReader } from './buckets.ts'
import { storageErrors } from './errors.ts'
import type { RenderRequest } from './image-render.ts'
import { splitObjectPath } from './names.ts'
import { getObject } from './objects.ts'
import { pathAfter } from './request.ts'
import { verifyObjectToken } from './signing.ts'
import { parseTokenTransformations, parseTransformOptions, type TransformOptions } from './transform.ts'

export function renderRoutes(app: Hono, services: Services, backend: StorageBackend): void {
  const enabled = services.config.storage.imageTransformation

  function renderRequest(c: Context, headers?: Record<string, string>): RenderRequest {
    return { method: c.req.method, accept: c.req.header('accept'), ifNoneMatch: c.req.header('if-none-match'), download: c.req.query('download'), headers }
  }

  async function render(c: Context, prefix: string, caller: Caller | 'service', options: TransformOptions, headers?: Record<string, string>) {
    const { bucket, name } = splitObjectPath(pathAfter(c, prefix))
    const row = await inOneStatement(services, caller, (tx) => getObject(tx, bucket, name))
    const { renderImage } = await import('./image-render.ts')
    return renderImage(backend, row, options, renderRequest(c, headers))
  }

  // Off, or sharp missing (Lambda): 501 before any lookup.
  app.use('/render/image/*', async (c, next) => {
    if (!enabled) throw storageErrors.notSupportedHere('Image transformations are turned off on this server (STORAGE_IMAGE_TRANSFORMATION=false)')
    await (await import('./image-render.ts')).loadSharp()
    return next()
  })

  app.on(['GET', 'HEAD'], '/render/image/authenticated/*', async (c) => {
    const options = parseTransformOptions(c.req.query())
    return render(c, '/render/image/authenticated/', await callerOf(services, c), options)
  })

  app.on(['GET', 'HEAD'], '/render/image/public/*', async (c) => {
    const options = parseTransformOptions(c.req.query())
    const prefix = '/render/image/public/'
    return render(c, prefix, await publicReader(services, splitObjectPath(pathAfter(c, prefix)).bucket), options)
  })

  app.on(['GET', 'HEAD'], '/render/image/sign/*', async (c) => {
    const prefix = '/render/image/sign/'
    const { bucket, name } = splitObjectPath(pathAfter(c, prefix))
    // The URL's own query cannot change what was signed: the options come from the token.
    const grant = await verifyObjectToken(services.jwt, c.req.query('token'), 'download', `${bucket}/${name}`)
    return render(c, prefix, 'service', parseTokenTransformations(grant.transformations), { Expires: new Date(grant.expiresAt * 1000).toUTCString() })
  })
}
