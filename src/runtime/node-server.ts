/**
 * The Node HTTP runtime (container, EC2, `npm start`): serves the app on PORT, bootstraps the
 * database (retrying with backoff while a server is unreachable, answering 503 on /health
 * meanwhile), and drains on SIGTERM for ECS task draining. It translates; the app decides.
 * @module
 */
import net, { type AddressInfo } from 'node:net'
import { serve, type ServerType } from '@hono/node-server'
import { createApp } from '../app.ts'
import { isConnectionError } from '../db/errors.ts'
import { FatalError } from '../errors.ts'
import { connectFailure } from '../db/startup-errors.ts'
import { Drain } from '../http/draining.ts'
import { StartupGate } from '../http/startup.ts'
import { bootstrap } from '../schema/bootstrap.ts'
import { DDL_WATCH_INSTALLED, DDL_WATCH_WARNING } from '../schema/sql/ddl-watch.ts'
import type { Services } from '../services.ts'
import { startEmbeddedWire } from './embedded-wire.ts'

export interface RunningServer {
  url: string
  port: number
  /** Port of the embedded database's wire protocol, when it is served (see embedded-wire.ts). */
  wirePort?: number
  /** Resolves once the database is bootstrapped (or immediately with `init: false`). */
  ready: Promise<void>
  /** Stop accepting, finish in-flight requests (up to `graceMs`), close the database. */
  shutdown(graceMs?: number): Promise<void>
}

export interface StartOptions {
  port: number
  /** Run the bootstrap on start (a fast no-op when current). */
  init: boolean
  hostname?: string
}

function listen(app: ReturnType<typeof createApp>, port: number, hostname: string | undefined): Promise<ServerType> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, port, hostname }, () => resolve(server))
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') reject(new FatalError(`PORT: port ${port} is already in use; stop the other process or set PORT`))
      else if (error.code === 'EACCES') reject(new FatalError(`PORT: no permission to listen on port ${port}`))
      else reject(error)
    })
  })
}

/**
 * Bootstraps, retrying with capped exponential backoff while the server is unreachable. Gives up
 * quietly once `stop` fires (shutdown during an outage is not a failure).
 */
async function bootstrapWithRetry(services: Services, stop: AbortSignal): Promise<void> {
  let delay = 250
  while (!stop.aborted) {
    try {
      const database = await services.database()
      const report = await bootstrap(database, { logger: services.logger })
      services.logger.info({ version: report.version, applied: report.applied, durationMs: report.durationMs }, 'database bootstrap')
      // Said at every start, not only the one that bootstrapped: DDL from psql will not be served.
      const watch = await database.query<{ installed: boolean }>(DDL_WATCH_INSTALLED)
      if (!watch.rows[0]?.installed) services.logger.warn({ warning: DDL_WATCH_WARNING }, 'schema watch off')
      return
    } catch (error) {
      if (stop.aborted) return
      if (!isConnectionError(error)) {
        // No retry fixes these; say so in one line rather than a stack.
        throw connectFailure(error, services.config.databaseUrl) ?? (error instanceof FatalError ? error : new FatalError(`database bootstrap failed: ${(error as Error).message}`))
      }
      services.logger.warn({ retryInMs: delay, error: (error as Error).message }, 'database unreachable; retrying')
      await sleep(delay, stop)
      delay = Math.min(delay * 2, 10_000)
    }
  }
}

function sleep(ms: number, stop: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms)
    stop.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true })
  })
}

export async function startServer(services: Services, options: StartOptions): Promise<RunningServer> {
  const drain = new Drain()
  const startup = new StartupGate()
  const app = createApp(services, { drain, startup })
  const stop = new AbortController()

  // The embedded database is opened (and its lock taken) before listening, so a second
  // `npm start` on the same data dir fails at once with one clear line.
  if (!services.config.databaseUrl) await services.database()
  const server = await listen(app, options.port, options.hostname)
  const port = (server.address() as AddressInfo).port
  const wire = await startEmbeddedWire(services).catch(async (error) => {
    await new Promise((resolve) => server.close(resolve))
    throw error
  })
  const ready = (options.init ? bootstrapWithRetry(services, stop.signal) : Promise.resolve()).then(() => {
    if (!stop.signal.aborted) startup.open()
  })

  let shuttingDown: Promise<void> | undefined
  return {
    url: `http://localhost:${port}`,
    port,
    wirePort: wire?.port,
    ready,
    shutdown(graceMs = 8000) {
      shuttingDown ??= (async () => {
        stop.abort()
        drain.start()
        // Stop listening only: http.Server#close would also drop idle keep-alive sockets at once,
        // resetting a request already on its way over one. Those requests are served instead,
        // with `Connection: close` (see Drain), and the sockets closed once the work is done.
        const closed = new Promise<void>((resolve) => net.Server.prototype.close.call(server, () => resolve()))
        const grace = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref())
        await Promise.race([drain.idle(), grace])
        // A moment for requests already on their way over idle keep-alive sockets to arrive.
        await Promise.race([new Promise((resolve) => setTimeout(resolve, Math.min(250, graceMs / 4)).unref()), grace])
        const sockets = server as { closeIdleConnections?: () => void; closeAllConnections?: () => void }
        sockets.closeIdleConnections?.()
        await Promise.race([drain.idle(), grace])
        sockets.closeAllConnections?.()
        await Promise.race([closed, grace])
        await ready.catch(() => {})
        await wire?.close()
        // A statement still running for a request cut above would hold the pool's end until the
        // statement ends; past a second the process exits anyway (the server rolls it back).
        await Promise.race([services.close(), new Promise((resolve) => setTimeout(resolve, 1000).unref())])
      })()
      return shuttingDown
    },
  }
}
