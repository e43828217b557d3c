/**
 * The event translation of the Lambda handler, on every event shape in events/ (the same files
 * `sam local invoke --event` takes), against a small echo app that reports what it received, so
 * each mapping (path, query, headers, cookies, body bytes, status, answer headers) is checked.
 */
import { readFileSync } from 'node:fs'
import type { ALBEvent, APIGatewayProxyEvent, APIGatewayProxyEventV2 } from 'aws-lambda'
import { Hono } from 'hono'
import { describe, expect, it } from 'vitest'
import { eventKind, lambdaHttpHandler } from '../../src/runtime/lambda-events.ts'

function load<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`../../events/${name}`, import.meta.url), 'utf8')) as T
}

interface Echo {
  method: string
  url: string
  path: string
  query: Record<string, string[]>
  headers: Record<string, string>
  bodyHex: string
}

const echoApp = new Hono()
echoApp.all('*', async (c) => {
  const url = new URL(c.req.url)
  const query: Record<string, string[]> = {}
  for (const key of new Set(url.searchParams.keys())) query[key] = url.searchParams.getAll(key)
  const headers: Record<string, string> = {}
  c.req.raw.headers.forEach((value, key) => (headers[key] = value))
  const body = Buffer.from(await c.req.arrayBuffer())
  if (url.pathname === '/huge') return c.text('x'.repeat(7 * 1024 * 1024))
  if (url.pathname === '/binary') {
    return new Response(new Uint8Array(body), { status: 201, headers: { 'content-type': 'application/octet-stream' } })
  }
  const answer = c.json({ method: c.req.method, url: c.req.url, path: url.pathname, query, headers, bodyHex: body.toString('hex') } satisfies Echo, 200)
  answer.headers.append('set-cookie', 'a=1; Path=/')
  answer.headers.append('set-cookie', 'b=2; Path=/; HttpOnly')
  answer.headers.set('x-multi', 'one, two')
  return answer
})
const handler = lambdaHttpHandler(echoApp)

function echoOf(result: { body?: string }): Echo {
  return JSON.parse(result.body!) as Echo
}

const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i))

describe('Lambda event translation', () => {
  it('recognises each shape in events/ and nothing else', () => {
    expect(eventKind(load('rest-api-v1.json'))).toBe('v1')
    expect(eventKind(load('http-api-v2.json'))).toBe('v2')
    expect(eventKind(load('http-api-v2-post.json'))).toBe('v2')
    expect(eventKind(load('function-url.json'))).toBe('v2')
    expect(eventKind(load('alb.json'))).toBe('alb')
    expect(eventKind(load('alb-single-value.json'))).toBe('alb')
    for (const other of [{}, null, 'GET /', [], { Records: [{ eventSource: 'aws:sqs' }] }, { requestContext: {} }, { requestContext: { elb: {} } }]) {
      expect(eventKind(other)).toBeUndefined()
    }
  })

  it('API Gateway REST (v1): path without stage, multi-value query and headers, cookies both ways', async () => {
    const event = load<APIGatewayProxyEvent>('rest-api-v1.json')
    const result = await handler(event)
    expect(result.statusCode).toBe(200)
    const echo = echoOf(result)
    expect(echo).toMatchObject({ method: 'GET', path: '/health', query: { probe: ['sam', 'local'] } })
    expect(echo.url.startsWith('https://k9l8m7n6o5.execute-api.us-east-1.amazonaws.com/health?')).toBe(true)
    expect(echo.headers.cookie).toBe('theme=dark; session=abc')
    expect(echo.headers['x-forwarded-for']).toBe('203.0.113.10, 130.176.1.20')
    // v1 events with multiValueHeaders get multiValueHeaders back: every cookie survives.
    const multi = (result as { multiValueHeaders: Record<string, string[]> }).multiValueHeaders
    expect(multi['set-cookie']).toEqual(['a=1; Path=/', 'b=2; Path=/; HttpOnly'])
    expect(multi['content-type']).toEqual(['application/json'])
  })

  it('API Gateway REST (v1): query parameters with reserved characters are re-encoded', async () => {
    const event = load<APIGatewayProxyEvent>('rest-api-v1.json')
    event.multiValueQueryStringParameters = { 'q&x': ['a b', 'c=d&e'], empty: [''] }
    const echo = echoOf(await handler(event))
    expect(echo.query).toEqual({ 'q&x': ['a b', 'c=d&e'], empty: [''] })
  })

  it('HTTP API (v2): raw query string, cookies array, set-cookie to cookies[]', async () => {
    const result = await handler(load<APIGatewayProxyEventV2>('http-api-v2.json'))
    const echo = echoOf(result)
    expect(echo).toMatchObject({ method: 'GET', path: '/health', query: { probe: ['sam', 'local'] } })
    expect(echo.headers.cookie).toBe('theme=dark; session=abc')
    expect((result as { cookies: string[] }).cookies).toEqual(['a=1; Path=/', 'b=2; Path=/; HttpOnly'])
    expect((result as { headers: Record<string, string> }).headers['x-multi']).toBe('one, two')
    expect((result as { headers: Record<string, string> }).headers['set-cookie']).toBeUndefined()
  })

  it('HTTP API (v2): a base64 body arrives as the exact bytes', async () => {
    const event = load<APIGatewayProxyEventV2>('http-api-v2-post.json')
    const echo = echoOf(await handler(event))
    expect(echo.method).toBe('POST')
    expect(Buffer.from(echo.bodyHex, 'hex').toString('utf8')).toBe('{"email":"new.user@example.com","password":"correct-horse-42"}')
    const binary = { ...event, rawPath: '/echo', body: ALL_BYTES.toString('base64'), isBase64Encoded: true }
    expect(echoOf(await handler(binary)).bodyHex).toBe(ALL_BYTES.toString('hex'))
    const text = { ...event, body: 'plain text é', isBase64Encoded: false }
    expect(Buffer.from(echoOf(await handler(text)).bodyHex, 'hex').toString('utf8')).toBe('plain text é')
  })

  it('binary answers are base64-encoded for every event shape', async () => {
    const body = ALL_BYTES.toString('base64')
    const events = [
      { ...load<APIGatewayProxyEventV2>('http-api-v2-post.json'), rawPath: '/binary', body, isBase64Encoded: true },
      { ...load<APIGatewayProxyEvent>('rest-api-v1.json'), httpMethod: 'POST', path: '/binary', body, isBase64Encoded: true },
      { ...load<ALBEvent>('alb.json'), httpMethod: 'POST', path: '/binary', body, isBase64Encoded: true },
    ]
    for (const event of events) {
      const result = await handler(event)
      expect(result.statusCode).toBe(201)
      expect(result.isBase64Encoded).toBe(true)
      expect(Buffer.from(result.body!, 'base64').equals(ALL_BYTES)).toBe(true)
    }
  })

  it('HTTP API (v2) on a named stage: the stage prefix is removed from the path', async () => {
    const event = load<APIGatewayProxyEventV2>('http-api-v2.json')
    event.requestContext.stage = 'prod'
    event.rawPath = '/prod/rest/v1/todos'
    expect(echoOf(await handler(event)).path).toBe('/rest/v1/todos')
    event.rawPath = '/prod'
    expect(echoOf(await handler(event)).path).toBe('/')
    event.rawPath = '/production/x' // not the stage: untouched
    expect(echoOf(await handler(event)).path).toBe('/production/x')
  })

  it('Function URL (v2 shape): host from the URL domain, cookies, query', async () => {
    const result = await handler(load<APIGatewayProxyEventV2>('function-url.json'))
    const echo = echoOf(result)
    expect(echo.url).toBe('https://p7q6r5s4t3u2v1w0x9y8z7a6b5c4d3e2.lambda-url.us-east-1.on.aws/health?probe=url')
    expect(echo.headers.cookie).toBe('theme=dark')
    expect((result as { cookies: string[] }).cookies).toHaveLength(2)
  })

  it('ALB with multi-value headers: values joined with commas (cookies with ;), set-cookie kept whole, statusDescription set', async () => {
    const event = load<ALBEvent>('alb.json')
    event.multiValueHeaders!['accept'] = ['application/json', 'text/plain']
    const result = await handler(event)
    const echo = echoOf(result)
    expect(echo).toMatchObject({ method: 'GET', path: '/health', query: { probe: ['alb', 'target'] } })
    expect(echo.headers.accept).toBe('application/json, text/plain')
    expect(echo.headers.cookie).toBe('theme=dark; session=abc')
    expect(echo.url.startsWith('https://gatekeeper-1234567890.us-east-1.elb.amazonaws.com/health')).toBe(true)
    expect((result as { statusDescription: string }).statusDescription).toBe('200 OK')
    expect((result as { multiValueHeaders: Record<string, string[]> }).multiValueHeaders['set-cookie']).toEqual(['a=1; Path=/', 'b=2; Path=/; HttpOnly'])
  })

  it('ALB with single-value headers: answer headers single-valued; the host header names the URL', async () => {
    const result = await handler(load<ALBEvent>('alb-single-value.json'))
    expect(result.statusCode).toBe(200)
    expect((result as { statusDescription: string }).statusDescription).toBe('200 OK')
    const echo = echoOf(result)
    expect(echo.url).toBe('https://gatekeeper-1234567890.us-east-1.elb.amazonaws.com/health?probe=alb')
    // ALB without multi-value headers can carry one set-cookie only (an ALB limit).
    expect((result as { headers: Record<string, string> }).headers['set-cookie']).toBe('a=1; Path=/')
  })

  it('answers a non-HTTP event with 400 unsupported_event, not a crash', async () => {
    const result = await handler({ Records: [{ eventSource: 'aws:sqs', body: 'x' }] })
    expect(result.statusCode).toBe(400)
    expect(JSON.parse(result.body!)).toMatchObject({ code: 'unsupported_event' })
  })

  it('answers a body marked base64 that is not base64 with 400 invalid_body, in the event format', async () => {
    const v2 = { ...load<APIGatewayProxyEventV2>('http-api-v2-post.json'), body: '%%% not base64 %%%' }
    const r2 = await handler(v2)
    expect(r2.statusCode).toBe(400)
    expect(JSON.parse(r2.body!)).toMatchObject({ code: 'invalid_body' })
    const alb = { ...load<ALBEvent>('alb.json'), httpMethod: 'POST', body: 'a', isBase64Encoded: true }
    const rAlb = await handler(alb)
    expect(rAlb).toMatchObject({ statusCode: 400, statusDescription: '400 Bad Request' })
    const objectBody = { ...load<APIGatewayProxyEventV2>('http-api-v2-post.json'), body: { email: 'x' }, isBase64Encoded: false }
    const rObject = await handler(objectBody)
    expect(rObject.statusCode).toBe(400)
    expect(JSON.parse(rObject.body!)).toMatchObject({ code: 'invalid_body' })
  })

  it('a GET carrying a body, or an event without a host, still gets an answer', async () => {
    const event = load<APIGatewayProxyEvent>('rest-api-v1.json')
    const odd = { ...event, body: 'stray', headers: {}, multiValueHeaders: {}, requestContext: { ...event.requestContext, domainName: undefined } }
    const result = await handler(odd as unknown as APIGatewayProxyEvent)
    expect(result.statusCode).toBe(200)
    expect(echoOf(result).url.startsWith('https://localhost/health')).toBe(true)
  })

  it('passes the Lambda request id on as X-Request-Id unless the client sent one', async () => {
    const event = load<APIGatewayProxyEventV2>('http-api-v2.json')
    expect(echoOf(await handler(event, { awsRequestId: 'req-123' })).headers['x-request-id']).toBe('req-123')
    const own = { ...event, headers: { ...event.headers, 'x-request-id': 'mine' } }
    expect(echoOf(await handler(own, { awsRequestId: 'req-123' })).headers['x-request-id']).toBe('mine')
    const alb = load<ALBEvent>('alb.json')
    expect(echoOf(await handler(alb, { awsRequestId: 'req-alb' })).headers['x-request-id']).toBe('req-alb')
  })

  it('API Gateway REST (v1) without a query string (null parameters, as API Gateway sends them)', async () => {
    const event = { ...load<APIGatewayProxyEvent>('rest-api-v1.json'), queryStringParameters: null, multiValueQueryStringParameters: null, pathParameters: null }
    const result = await handler(event)
    expect(result.statusCode).toBe(200)
    expect(echoOf(result)).toMatchObject({ path: '/health', query: {} })
    expect(echoOf(result).url).toBe('https://k9l8m7n6o5.execute-api.us-east-1.amazonaws.com/health')
  })

  it('answers 500 response_too_large instead of exceeding the 6 MB result limit', async () => {
    const event = { ...load<APIGatewayProxyEventV2>('http-api-v2.json'), rawPath: '/huge' }
    const result = await handler(event)
    expect(result.statusCode).toBe(500)
    expect(JSON.parse(result.body!)).toMatchObject({ code: 'response_too_large' })
  })

  it('does not modify the event it was given', async () => {
    const event = load<ALBEvent>('alb.json')
    const before = JSON.stringify(event)
    await handler(event, { awsRequestId: 'x' })
    expect(JSON.stringify(event)).toBe(before)
  })
})
