/**
 * The one Hono app every runtime serves: request id, logging, CORS, body limit, the error
 * renderer, `/health`, and the protocol routers. It imports no runtime.
 * @module
 */
import { Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { authRouter } from './auth/router.ts'
import { appError } from './errors.ts'
import { apiKeyGate } from './http/api-key-gate.ts'
import { supabaseCors } from './http/cors.ts'
import { Drain } from './http/draining.ts'
import { renderError } from './http/error-handler.ts'
import { healthRouter } from './http/health.ts'
import { requestFrame } from './http/request-frame.ts'
import type { StartupGate } from './http/startup.ts'
import { restRouter } from './rest/router.ts'
import { createRealtime, type Realtime } from './realtime/realtime.ts'
import { realtimeRouter } from './realtime/router.ts'
import { storageRouter } from './storage/router.ts'
import type { Services } from './services.ts'
import { vaultRouter } from './vault/router.ts'
import type { UpgradeWebSocket } from 'hono/ws'

export interface AppOptions {
  /** Shared with the runtime so SIGTERM can drain; a new one by default. */
  drain?: Drain
  /** `/health` answers 503 `starting` until it opens (the Node runtime opens it after the bootstrap). */
  startup?: StartupGate
  /** Realtime's hub and sockets; the runtime that serves WebSockets makes it, to close it on shutdown. */
  realtime?: Realtime
  /** The runtime's WebSocket upgrade (Node); without it `/realtime/v1/websocket` answers 501. */
  upgradeWebSocket?: UpgradeWebSocket
}

export function createApp(services: Services, options: AppOptions = {}): Hono {
  const app = new Hono()
  const drain = options.drain ?? new Drain()

  app.use(requestFrame({ logger: services.logger, cors: supabaseCors(services.config.corsCredentialsOrigins), drain }))
  const limitBody = bodyLimit({
    maxSize: services.config.bodyLimit,
    onError: () => {
      throw appError('payload_too_large', `The request body exceeds the limit of ${services.config.bodyLimit} bytes`)
    },
  })
  // bodyLimit touches `req.body`, which makes @hono/node-server build a full Request: skip it
  // for GET/HEAD/OPTIONS (bodies never read) and decide from Content-Length when there is one.
  app.use((c, next) => {
    if (c.req.method === 'GET' || c.req.method === 'HEAD' || c.req.method === 'OPTIONS') return next()
    // Storage streams uploads up to STORAGE_FILE_SIZE_LIMIT and bounds its JSON bodies itself.
    if (c.req.path.startsWith('/storage/v1/')) return next()
    const length = c.req.header('content-length')
    if (length !== undefined && /^\d+$/.test(length) && !c.req.header('transfer-encoding')) {
      if (Number(length) > services.config.bodyLimit) throw appError('payload_too_large', `The request body exceeds the limit of ${services.config.bodyLimit} bytes`)
      return next()
    }
    return limitBody(c, next)
  })

  const gate = apiKeyGate(services.config.apiKeyRequired)
  app.use('/rest/v1/*', gate)
  app.use('/vault/v1/*', gate)
  app.use('/realtime/v1/api/*', gate)
  app.route('/health', healthRouter(services, options.startup))
  app.route('/auth/v1', authRouter(services))
  app.route('/vault/v1', vaultRouter(services))
  app.route('/rest/v1', restRouter(services))
  app.route('/realtime/v1', realtimeRouter(services, options.realtime ?? createRealtime(services), { upgradeWebSocket: options.upgradeWebSocket }))
  app.route('/storage/v1', storageRouter(services))

  app.notFound((c) => c.json({ code: 'not_found', message: `No route for ${c.req.method} ${c.req.path}` }, 404))
  app.onError((error, c) => renderError(error, c, services.logger))
  return app
}
