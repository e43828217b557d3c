/**
 * The Node HTTP runtime (container, EC2, `npm start`): serves the app on PORT, bootstraps the
 * database (bootstrap-retry.ts: with backoff while a server is unreachable, 503 on /health
 * meanwhile), and drains on SIGTERM (http-drain.ts). It translates; the app decides.
 * @module
 */
import type { AddressInfo } from 'node:net'
import { pipeline } from 'node:stream'
import { serve, upgradeWebSocket, type Http2Bindings, type HttpBindings, type ServerType } from '@hono/node-server'
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response'
import { WebSocketServer } from 'ws'
import { createApp } from '../app.ts'
import { FatalError } from '../errors.ts'
import { Drain } from '../http/draining.ts'
import { takeNodeBody } from '../http/node-body.ts'
import { StartupGate } from '../http/startup.ts'
import { LIMITS } from '../realtime/limits.ts'
import { createRealtime } from '../realtime/realtime.ts'
import type { Services } from '../services.ts'
import { bootstrapWithRetry } from './bootstrap-retry.ts'
import { startEmbeddedWire } from './embedded-wire.ts'
import { drainHttpServer } from './http-drain.ts'

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

type App = ReturnType<typeof createApp>

function outgoingHeaders(headers: Headers): Record<string, string | string[]> {
  const record: Record<string, string | string[]> = {}
  for (const [name, value] of headers) if (name !== 'set-cookie') record[name] = value
  const cookies = headers.getSetCookie()
  if (cookies.length > 0) record['set-cookie'] = cookies
  return record
}

/**
 * The app's fetch, except that a response whose body is a Node stream (http/node-body.ts: an
 * object's bytes) is piped straight to the socket, with the headers the app's middleware set.
 * A client that goes away ends the pipe, which destroys the body (and frees its S3 socket).
 */
function withNodeBodies(app: App): (request: Request, env: HttpBindings | Http2Bindings) => Promise<Response> {
  return async (request, env) => {
    const response = await app.fetch(request, env)
    const body = takeNodeBody(response)
    if (!body) return response
    const outgoing = env.outgoing as HttpBindings['outgoing'] // this server speaks HTTP/1.1
    outgoing.writeHead(response.status, outgoingHeaders(response.headers))
    pipeline(body, outgoing, () => undefined)
    return RESPONSE_ALREADY_SENT
  }
}

function listen(app: App, port: number, hostname: string | undefined): Promise<ServerType> {
  // Realtime's WebSockets: the upgrade goes through the app (its route checks the API key).
  const websocket = { server: new WebSocketServer({ noServer: true, maxPayload: LIMITS.frameBytes }) }
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: withNodeBodies(app), port, hostname, websocket }, () => resolve(server))
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') reject(new FatalError(`PORT: port ${port} is already in use; stop the other process or set PORT`))
      else if (error.code === 'EACCES') reject(new FatalError(`PORT: no permission to listen on port ${port}`))
      else reject(error)
    })
  })
}

export async function startServer(services: Services, options: StartOptions): Promise<RunningServer> {
  const drain = new Drain()
  const startup = new StartupGate()
  const realtime = createRealtime(services)
  const app = createApp(services, { drain, startup, realtime, upgradeWebSocket })
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
        const deadline = Date.now() + graceMs
        stop.abort()
        // WebSockets are told to go (1001): realtime-js reconnects, through the ALB to another task.
        realtime.close()
        await drainHttpServer(server, drain, graceMs)
        // Work the requests left running (removals of replaced bytes) finishes too, within the
        // grace (at least a second of it); one cut short leaves bytes `storage sweep` removes.
        const left = Math.max(1000, deadline - Date.now())
        await Promise.race([services.background.idle(), new Promise((resolve) => setTimeout(resolve, left).unref())])
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
