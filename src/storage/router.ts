/**
 * `/storage/v1`: Supabase Storage's HTTP API over `storage.buckets`/`storage.objects` and a
 * byte backend, so `supabase.storage` (storage-js) works unchanged. Every row operation runs in
 * the caller's role with their claims (RLS decides); bytes move only around committed rows.
 * @module
 */
import { Hono } from 'hono'
import { apiKeyGate } from '../http/api-key-gate.ts'
import type { Services } from '../services.ts'
import { createBackend } from './backend/index.ts'
import type { StorageBackend } from './backend/types.ts'
import { bucketRoutes } from './bucket-routes.ts'
import { objectRoutes } from './object-routes.ts'
import { renderRoutes } from './render-routes.ts'
import { isOpenRoute, storagePath } from './request.ts'
import { signedRoutes } from './signed-routes.ts'
import { tusRoutes } from './tus/routes.ts'

export function storageRouter(services: Services, backend: StorageBackend = createBackend(services.config.storage)): Hono {
  const app = new Hono()
  const gate = apiKeyGate(services.config.apiKeyRequired)
  app.use('*', async (c, next) => {
    if (isOpenRoute(storagePath(c), c.req.method)) return next()
    return gate(c, next)
  })

  bucketRoutes(app, services, backend)
  signedRoutes(app, services, backend)
  objectRoutes(app, services, backend)
  renderRoutes(app, services, backend)
  tusRoutes(app, services, backend)
  return app
}
