/**
 * `resolution serve --lambda`: what `sam local start-api` does, without Docker. Each HTTP request
 * becomes an API Gateway HTTP API (payload 2.0) event for the Lambda handler, and the handler's
 * result becomes the HTTP answer, the way API Gateway would turn it into one.
 * @module
 */
import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { APIGatewayProxyEventV2 } from 'aws-lambda'
import type { Env } from '../config/config.ts'
import { FatalError } from '../errors.ts'
import type { LambdaRuntimeOptions } from './lambda-runtime.ts'
import { loadLocalFunction, localContext, type LocalHandler } from './lambda-local.ts'

/** What fits in Lambda's 6 MB invocation payload once base64-encoded into the event. */
export const MAX_EVENT_BODY_BYTES = 4 * 1024 * 1024

// API Gateway passes these bodies as text; anything else arrives base64-encoded.
const TEXT_BODY = /^(text\/|application\/(json|xml|javascript|x-www-form-urlencoded|graphql)|[^;]*\+(json|xml))/i

export interface LambdaServeOptions extends LambdaRuntimeOptions {
  port: number
  env: Env
  host?: string
  /** Serve the built bundle (dist/lambda/index.mjs) instead of the source. */
  bundle?: string
}

export interface LambdaServer {
  url: string
  server: Server
  close(): Promise<void>
}

class PayloadTooLarge extends Error {}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of request) {
    size += (chunk as Buffer).length
    if (size > MAX_EVENT_BODY_BYTES) throw new PayloadTooLarge()
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks)
}

/** The HTTP API v2 event API Gateway would send for this request. */
export function toHttpApiEvent(request: IncomingMessage, body: Buffer, sourceIp: string): APIGatewayProxyEventV2 {
  const target = request.url ?? '/'
  const queryAt = target.indexOf('?')
  const rawPath = queryAt === -1 ? target : target.slice(0, queryAt)
  const rawQueryString = queryAt === -1 ? '' : target.slice(queryAt + 1)

  // Repeated headers are joined with commas; cookies travel in their own array.
  const headers: Record<string, string> = {}
  let cookies: string[] | undefined
  for (let i = 0; i < request.rawHeaders.length; i += 2) {
    const name = request.rawHeaders[i]!.toLowerCase()
    const value = request.rawHeaders[i + 1]!
    if (name === 'cookie') {
      cookies = [...(cookies ?? []), ...value.split(';').map((c) => c.trim()).filter(Boolean)]
      continue
    }
    headers[name] = headers[name] === undefined ? value : `${headers[name]},${value}`
  }

  const queryStringParameters: Record<string, string> = {}
  for (const [key, value] of new URLSearchParams(rawQueryString)) {
    queryStringParameters[key] = queryStringParameters[key] === undefined ? value : `${queryStringParameters[key]},${value}`
  }

  const hasBody = body.length > 0
  const asText = hasBody && TEXT_BODY.test(headers['content-type'] ?? '')
  const host = headers.host ?? 'localhost'
  const now = new Date()
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString,
    ...(cookies ? { cookies } : {}),
    headers,
    ...(rawQueryString ? { queryStringParameters } : {}),
    requestContext: {
      accountId: '123456789012',
      apiId: 'local',
      domainName: host,
      domainPrefix: host.split('.')[0]!,
      http: {
        method: request.method ?? 'GET',
        path: rawPath,
        protocol: `HTTP/${request.httpVersion}`,
        sourceIp,
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    ...(hasBody ? { body: asText ? body.toString('utf8') : body.toString('base64') } : {}),
    isBase64Encoded: hasBody && !asText,
  }
}

interface StructuredResult {
  statusCode?: number
  headers?: Record<string, string | number | boolean>
  multiValueHeaders?: Record<string, Array<string | number | boolean>>
  cookies?: string[]
  body?: string
  isBase64Encoded?: boolean
}

/** Writes a handler result the way API Gateway does (payload 2.0 rules). */
export function writeResult(response: ServerResponse, result: unknown): void {
  // A result without statusCode is taken as a JSON body with status 200.
  if (typeof result !== 'object' || result === null || !('statusCode' in result)) {
    const body = typeof result === 'string' ? result : JSON.stringify(result ?? null)
    response.writeHead(200, { 'content-type': 'application/json' }).end(body)
    return
  }
  const structured = result as StructuredResult
  for (const [name, value] of Object.entries(structured.headers ?? {})) response.setHeader(name, String(value))
  for (const [name, values] of Object.entries(structured.multiValueHeaders ?? {})) response.setHeader(name, values.map(String))
  if (structured.cookies?.length) response.setHeader('set-cookie', structured.cookies)
  const body = structured.body === undefined ? Buffer.alloc(0) : Buffer.from(structured.body, structured.isBase64Encoded ? 'base64' : 'utf8')
  response.statusCode = structured.statusCode ?? 200
  response.end(body)
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
}

export function lambdaRequestListener(handler: LocalHandler) {
  return async function viaLambda(request: IncomingMessage, response: ServerResponse): Promise<void> {
    let body: Buffer
    try {
      body = await readBody(request)
    } catch (error) {
      if (error instanceof PayloadTooLarge) sendJson(response, 413, { message: 'Request Entity Too Large' })
      else response.destroy()
      return
    }
    const event = toHttpApiEvent(request, body, request.socket.remoteAddress ?? '127.0.0.1')
    let result: unknown
    try {
      result = await handler(event, localContext())
    } catch (error) {
      // What API Gateway answers when the function fails.
      process.stderr.write(`lambda handler failed: ${(error as Error)?.stack ?? String(error)}\n`)
      sendJson(response, 502, { message: 'Internal Server Error' })
      return
    }
    writeResult(response, result)
  }
}

/** Serves HTTP through the Lambda handler until `close()`. */
export async function serveThroughLambda(options: LambdaServeOptions): Promise<LambdaServer> {
  const local = await loadLocalFunction(options.env, options)
  const server = createServer(lambdaRequestListener(local.handler))
  const host = options.host ?? '127.0.0.1'
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, host, () => resolve())
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    server,
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await local.close()
    },
  }
}

/** The `serve --lambda` command: serves on PORT (or --port) until SIGTERM/SIGINT. */
export async function serveLambdaCommand(options: { databaseUrl?: string }, env: Env): Promise<void> {
  const merged = options.databaseUrl ? { ...env, DATABASE_URL: options.databaseUrl } : env
  const raw = merged.PORT?.trim() || '5050'
  const port = Number(raw)
  if (!/^\d+$/.test(raw) || port > 65535) throw new FatalError(`PORT: must be a whole number between 0 and 65535, got ${JSON.stringify(raw)}`)
  // The handler checks the rest of the config itself and answers 500 configuration_error when it is wrong.
  const server = await serveThroughLambda({ port, env: merged, host: merged.HOST || '127.0.0.1' })
  const stop = () => {
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    )
  }
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
  process.stdout.write(`resolution (through the Lambda handler) ready on ${server.url}\n`)
}
