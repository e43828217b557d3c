/**
 * Lambda HTTP events ↔ the Hono app. `hono/aws-lambda`'s `handle()` does the translation for API
 * Gateway REST (v1), HTTP API (v2), Function URL (v2 shape) and ALB events; this module patches
 * the few places where it falls short, before and after it:
 *
 * - an event that is none of those shapes gets a 400 `unsupported_event` instead of a guess;
 * - a body marked base64 that is not base64, or a body that is not a string (a hand-written event
 *   with a JSON object), gets a 400 `invalid_body` (handle() would throw, or send "[object Object]");
 * - ALB multi-value headers are joined with ", " (handle() joins every header with "; ", which is
 *   right only for `Cookie`);
 * - an HTTP API stage other than `$default` puts its name in `rawPath`; it is removed so routes match;
 * - an event without a host (hand-written events, some test tools) gets `localhost` instead of
 *   the URL `https://undefined/…`;
 * - a GET/HEAD carrying a body (a malformed event) drops the body instead of failing;
 * - ALB answers carry the `statusDescription` the load balancer expects;
 * - an answer over Lambda's 6 MB result limit becomes a 500 `response_too_large`.
 *
 * Hono marks `hono/aws-lambda` deprecated in favour of `@hono/aws-lambda`, which is not on npm yet;
 * when it is, only the import changes.
 * @module
 */
import { STATUS_CODES } from 'node:http'
import type { ALBEvent, ALBResult, APIGatewayProxyEvent, APIGatewayProxyEventV2, APIGatewayProxyResult, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda'
import type { Hono } from 'hono'
import { handle } from 'hono/aws-lambda'

export type LambdaHttpEvent = APIGatewayProxyEvent | APIGatewayProxyEventV2 | ALBEvent
export type LambdaHttpResult = APIGatewayProxyResult | APIGatewayProxyStructuredResultV2 | ALBResult
export type EventKind = 'v1' | 'v2' | 'alb'
export type LambdaHttpHandler = (event: unknown, context?: Partial<Context>) => Promise<LambdaHttpResult>

/** Lambda refuses synchronous results above 6 MB (the JSON of the result, not only the body). */
export const MAX_RESULT_BYTES = 6 * 1024 * 1024 - 64 * 1024

type AnyRecord = Record<string, unknown>

function isRecord(value: unknown): value is AnyRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Which HTTP event shape this is, or undefined for anything else (S3, SQS, `{}` …). */
export function eventKind(event: unknown): EventKind | undefined {
  if (!isRecord(event) || !isRecord(event.requestContext)) return undefined
  const context = event.requestContext
  if (isRecord(context.elb)) return typeof event.httpMethod === 'string' && typeof event.path === 'string' ? 'alb' : undefined
  if (typeof event.rawPath === 'string' && isRecord(context.http) && typeof context.http.method === 'string') return 'v2'
  if (typeof event.httpMethod === 'string' && typeof event.path === 'string') return 'v1'
  return undefined
}

function headerValue(headers: unknown, name: string): string | undefined {
  if (!isRecord(headers)) return undefined
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== name) continue
    if (typeof value === 'string') return value
    if (Array.isArray(value) && typeof value[0] === 'string') return value[0]
  }
  return undefined
}

function isValidBase64(body: string): boolean {
  const compact = body.replace(/\s+/g, '')
  return compact.length % 4 !== 1 && /^[A-Za-z0-9+/_-]*={0,2}$/.test(compact)
}

function methodOf(event: AnyRecord, kind: EventKind): string {
  const raw = kind === 'v2' ? (event.requestContext as { http: { method: string } }).http.method : (event.httpMethod as string)
  return raw.toUpperCase()
}

/** A copy of the event with the patches above applied; the original is not touched. */
export function normaliseEvent(event: AnyRecord, kind: EventKind): AnyRecord {
  const requestContext = { ...(event.requestContext as AnyRecord) }
  const copy: AnyRecord = { ...event, requestContext }

  const method = methodOf(event, kind)
  if ((method === 'GET' || method === 'HEAD') && copy.body) copy.body = null

  if (typeof requestContext.domainName !== 'string' || requestContext.domainName === '') {
    const host = headerValue(event.headers, 'host') ?? headerValue(event.multiValueHeaders, 'host')
    requestContext.domainName = host ?? 'localhost'
  }

  if (kind === 'v2') {
    const stage = requestContext.stage
    const rawPath = event.rawPath as string
    if (typeof stage === 'string' && stage !== '$default' && stage !== '') {
      const prefix = `/${stage}`
      if (rawPath === prefix) copy.rawPath = '/'
      else if (rawPath.startsWith(`${prefix}/`)) copy.rawPath = rawPath.slice(prefix.length)
    }
    if (copy.rawQueryString === undefined || copy.rawQueryString === null) copy.rawQueryString = ''
  }

  if (kind === 'alb' && isRecord(event.multiValueHeaders)) {
    const joined: Record<string, string[]> = {}
    for (const [name, values] of Object.entries(event.multiValueHeaders)) {
      if (!Array.isArray(values) || values.length === 0) continue
      joined[name] = [values.join(name.toLowerCase() === 'cookie' ? '; ' : ', ')]
    }
    copy.multiValueHeaders = joined
  }
  return copy
}

function jsonResult(kind: EventKind | undefined, status: number, body: Record<string, unknown>): LambdaHttpResult {
  const text = JSON.stringify(body)
  const contentType = 'application/json; charset=UTF-8'
  if (kind === 'v1' || kind === 'alb') {
    const result = { statusCode: status, isBase64Encoded: false, body: text, multiValueHeaders: { 'content-type': [contentType] } }
    return kind === 'alb' ? { ...result, statusDescription: statusDescription(status) } : result
  }
  return { statusCode: status, isBase64Encoded: false, body: text, headers: { 'content-type': contentType } }
}

function statusDescription(status: number): string {
  return `${status} ${STATUS_CODES[status] ?? 'Unknown'}`
}

/**
 * The Lambda handler for a Hono app: validates and normalises the event, lets `hono/aws-lambda`
 * translate, and finishes the result for the event's source.
 */
export function lambdaHttpHandler(app: Hono): LambdaHttpHandler {
  const translate = handle(app)
  return async function lambdaHttp(event, context) {
    const kind = eventKind(event)
    if (!kind) {
      return jsonResult(undefined, 400, {
        code: 'unsupported_event',
        message: 'This function answers HTTP events only (API Gateway REST or HTTP API, Function URL, ALB)',
      })
    }
    const record = event as AnyRecord
    if (record.body !== undefined && record.body !== null && typeof record.body !== 'string') {
      return jsonResult(kind, 400, { code: 'invalid_body', message: 'The event body must be a string (JSON text, or base64 with isBase64Encoded)' })
    }
    if (record.isBase64Encoded === true && typeof record.body === 'string' && !isValidBase64(record.body)) {
      return jsonResult(kind, 400, { code: 'invalid_body', message: 'The event body is marked base64 but is not valid base64' })
    }
    const normalised = normaliseEvent(record, kind)
    // Log lines then carry the id CloudWatch shows for the invocation.
    if (context?.awsRequestId && !headerValue(record.headers, 'x-request-id') && !headerValue(record.multiValueHeaders, 'x-request-id')) {
      normalised.headers = { ...(isRecord(record.headers) ? record.headers : {}), 'x-request-id': context.awsRequestId }
      if (isRecord(normalised.multiValueHeaders)) normalised.multiValueHeaders = { ...normalised.multiValueHeaders, 'x-request-id': [context.awsRequestId] }
    }
    const result = (await translate(normalised as never, context as never)) as LambdaHttpResult
    // Otherwise Lambda fails the invocation and the client sees a bare 502 from API Gateway.
    if (Buffer.byteLength(result.body ?? '') > MAX_RESULT_BYTES) {
      return jsonResult(kind, 500, {
        code: 'response_too_large',
        message: 'The answer exceeds the 6 MB Lambda response limit; ask for less (limit, Range, select fewer columns)',
      })
    }
    if (kind === 'alb') return { ...result, statusDescription: statusDescription(result.statusCode ?? 200) } as ALBResult
    return result
  }
}

/** A handler that answers every HTTP event with one JSON error (used when start-up failed). */
export function lambdaErrorHandler(status: number, body: Record<string, unknown>): LambdaHttpHandler {
  return async (event) => jsonResult(eventKind(event), status, body)
}
