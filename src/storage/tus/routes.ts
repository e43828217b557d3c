/**
 * `/upload/resumable` (tus): mounted here, built on the first request (tus/server.ts and the tus
 * libraries load then, so they stay out of start-up and out of the Lambda bundle's index.mjs).
 * @module
 */
import type { Hono } from 'hono'
import type { Services } from '../../services.ts'
import type { StorageBackend } from '../backend/types.ts'
import type { TusHandler } from './server.ts'

export function tusRoutes(app: Hono, services: Services, backend: StorageBackend): void {
  let loading: Promise<TusHandler> | undefined
  const handler = () => {
    if (!loading) {
      loading = import('./server.ts').then((module) => module.createTusHandler(services, backend))
      // A failed load (e.g. STORAGE_DIR not writable) is tried again by the next request.
      loading.catch(() => (loading = undefined))
    }
    return loading
  }
  // Hono routes HEAD as GET (the request keeps its HEAD method, which is what tus answers).
  app.on(['POST', 'PATCH', 'GET', 'DELETE', 'OPTIONS'], ['/upload/resumable', '/upload/resumable/*'], async (c) => (await handler())(c))
}
