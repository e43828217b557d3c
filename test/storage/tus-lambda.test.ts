/**
 * Resumable uploads through the Lambda handler (in-process, API Gateway HTTP API v2 events on a
 * named stage) with the S3 backend on moto: tus-js-client's requests become events, each under
 * Lambda's 6 MB payload limit (4 MiB chunks, base64 in the event), alternating between two
 * function instances — the upload's state lives in S3, so either takes the next PATCH; and a
 * signed resumable upload (`/upload/resumable/sign`, the token in `x-signature`, no JWT) the same way.
 * Needs TEST_DATABASE_URL (Lambda runs on PostgreSQL) and moto_server.
 */
import { randomUUID } from 'node:crypto'
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3'
import pg from 'pg'
import type * as tus from 'tus-js-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPgDatabase } from '../../src/db/pg-driver.ts'
import type { LambdaHttpResult } from '../../src/runtime/lambda-events.ts'
import { createLambdaRuntime, type LambdaRuntime } from '../../src/runtime/lambda-runtime.ts'
import { bootstrap } from '../../src/schema/bootstrap.ts'
import { lambdaEnv } from '../deploy/support/lambda-env.ts'
import { createServerDatabase } from '../support/databases.ts'
import { hasMoto, MiB, randomFile, startMoto, tusUpload } from './tus-support.ts'

/** Lambda's limit on a synchronous invocation's payload (the event JSON), bytes. */
const LAMBDA_PAYLOAD_LIMIT = 6 * 1024 * 1024
const HOST = 'a1b2c3d4e5.execute-api.us-east-1.amazonaws.com'
const STAGE = 'prod'

interface Invocation {
  method: string
  eventBytes: number
  instance: number
}

/** A tus-js-client HTTP stack that turns each request into an HTTP API v2 event for the next instance in turn. */
function lambdaStack(instances: LambdaRuntime[], log: Invocation[]): tus.HttpStack {
  let turn = 0
  return {
    getName: () => 'lambda-events',
    createRequest(method, url) {
      const headers: Record<string, string> = {}
      return {
        getMethod: () => method,
        getURL: () => url,
        setHeader: (name, value) => void (headers[name.toLowerCase()] = value),
        getHeader: (name) => headers[name.toLowerCase()],
        setProgressHandler: () => {},
        abort: async () => {},
        getUnderlyingObject: () => undefined,
        async send(body?: Buffer | Uint8Array) {
          const { pathname } = new URL(url)
          const payload = body ? Buffer.from(body) : undefined
          if (payload) headers['content-length'] = String(payload.length)
          const event = {
            version: '2.0',
            routeKey: '$default',
            rawPath: pathname,
            rawQueryString: '',
            headers: { ...headers, host: HOST, 'x-forwarded-proto': 'https', 'x-forwarded-port': '443' },
            requestContext: {
              accountId: '123456789012',
              apiId: 'a1b2c3d4e5',
              domainName: HOST,
              domainPrefix: 'a1b2c3d4e5',
              http: { method, path: pathname, protocol: 'HTTP/1.1', sourceIp: '203.0.113.10', userAgent: 'tus-js-client' },
              requestId: randomUUID(),
              routeKey: '$default',
              stage: STAGE,
              time: new Date().toUTCString(),
              timeEpoch: Date.now(),
            },
            body: payload?.toString('base64'),
            isBase64Encoded: payload !== undefined,
          }
          const instance = turn++ % instances.length
          log.push({ method, eventBytes: Buffer.byteLength(JSON.stringify(event)), instance })
          const result: LambdaHttpResult = await instances[instance]!.handler(event, { awsRequestId: randomUUID() })
          const out = result as { statusCode: number; headers?: Record<string, string>; body?: string; isBase64Encoded?: boolean }
          const responseHeaders = Object.fromEntries(Object.entries(out.headers ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)]))
          const text = out.isBase64Encoded ? Buffer.from(out.body ?? '', 'base64').toString('utf8') : (out.body ?? '')
          return {
            getStatus: () => out.statusCode,
            getHeader: (name: string) => responseHeaders[name.toLowerCase()],
            getBody: () => text,
            getUnderlyingObject: () => out,
          }
        },
      }
    },
  }
}

/** One plain HTTP API v2 event (no body) on the default stage. */
function apiEvent(method: string, path: string, headers: Record<string, string>) {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: '',
    headers: { host: HOST, ...headers },
    requestContext: { http: { method, path, protocol: 'HTTP/1.1', sourceIp: '203.0.113.10', userAgent: 'test' }, stage: '$default', requestId: randomUUID(), routeKey: '$default', domainName: HOST, timeEpoch: Date.now() },
    isBase64Encoded: false,
  }
}

describe.runIf(hasMoto && process.env.TEST_DATABASE_URL)('resumable uploads through the Lambda handler (S3 on moto)', () => {
  let moto: Awaited<ReturnType<typeof startMoto>>
  let server: Awaited<ReturnType<typeof createServerDatabase>>
  let instances: LambdaRuntime[] = []
  let env: Record<string, string>
  const s3Bucket = `lambda-tus-${Date.now()}`

  beforeAll(async () => {
    moto = await startMoto()
    process.env.AWS_ACCESS_KEY_ID = 'test'
    process.env.AWS_SECRET_ACCESS_KEY = 'test'
    await new S3Client({ region: 'us-east-1', endpoint: moto.endpoint, forcePathStyle: true }).send(new CreateBucketCommand({ Bucket: s3Bucket }))
    server = await createServerDatabase()
    const database = createPgDatabase({ url: server.url, poolMax: 1 })
    await bootstrap(database)
    await database.close()
    env = { ...(await lambdaEnv(server.url)), STORAGE_BACKEND: 's3', STORAGE_S3_BUCKET: s3Bucket, STORAGE_S3_ENDPOINT: moto.endpoint, LOG_LEVEL: 'error' }
    const quiet = { write: () => {} }
    instances = [await createLambdaRuntime(env, { logDestination: quiet }), await createLambdaRuntime(env, { logDestination: quiet })]
    const admin = new pg.Client({ connectionString: server.url })
    await admin.connect()
    await admin.query("INSERT INTO storage.buckets (id, name) VALUES ('big', 'big')")
    await admin.end()
  }, 120_000)

  afterAll(async () => {
    for (const instance of instances) await instance.close()
    await server?.drop()
    moto?.stop()
  })

  it('a 13 MiB upload in 4 MiB chunks: every event under 6 MB, instances alternate, the bytes and row land in S3', async () => {
    const bytes = randomFile(13 * MiB + 7)
    const log: Invocation[] = []
    const outcome = await tusUpload(bytes, {
      endpoint: `https://${HOST}/${STAGE}/storage/v1/upload/resumable`,
      token: env.SERVICE_ROLE_KEY!,
      apikey: env.ANON_KEY!,
      bucket: 'big',
      name: 'video/clip.mp4',
      contentType: 'video/mp4',
      chunkSize: 4 * MiB,
      httpStack: lambdaStack(instances, log),
    })
    expect(outcome.status).toBe('done')
    // The Location was relative, so the client kept the stage prefix.
    expect(outcome.url).toMatch(new RegExp(`^https://${HOST}/${STAGE}/storage/v1/upload/resumable/[A-Za-z0-9_-]+$`))
    expect(log.map((entry) => entry.method)).toEqual(['POST', 'PATCH', 'PATCH', 'PATCH'])
    expect(new Set(log.map((entry) => entry.instance))).toEqual(new Set([0, 1]))
    for (const entry of log) expect(entry.eventBytes).toBeLessThan(LAMBDA_PAYLOAD_LIMIT)

    const admin = new pg.Client({ connectionString: server.url })
    await admin.connect()
    const { rows } = await admin.query("SELECT version, metadata FROM storage.objects WHERE bucket_id = 'big' AND name = 'video/clip.mp4'")
    await admin.end()
    expect(rows[0].metadata).toMatchObject({ size: bytes.length, mimetype: 'video/mp4' })
    const s3 = new S3Client({ region: 'us-east-1', endpoint: moto.endpoint, forcePathStyle: true })
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: s3Bucket }))
    // Only the object at its versioned key: the upload's state went with its completion.
    expect((listed.Contents ?? []).map((object) => object.Key)).toEqual([`big/video/clip.mp4/${rows[0].version}`])

    // Through the function a download is capped at 6 MB too: read a range there, the whole from S3.
    const ranged = (await instances[0]!.handler(
      apiEvent('GET', '/storage/v1/object/big/video/clip.mp4', { authorization: `Bearer ${env.SERVICE_ROLE_KEY}`, apikey: env.ANON_KEY!, range: 'bytes=0-1048575' }),
      { awsRequestId: randomUUID() },
    )) as { statusCode: number; body: string; isBase64Encoded: boolean }
    expect(ranged.statusCode).toBe(206)
    expect(Buffer.from(ranged.body, ranged.isBase64Encoded ? 'base64' : 'utf8').equals(bytes.subarray(0, MiB))).toBe(true)
    const whole = await s3.send(new GetObjectCommand({ Bucket: s3Bucket, Key: `big/video/clip.mp4/${rows[0].version}` }))
    expect(Buffer.from(await whole.Body!.transformToByteArray()).equals(bytes)).toBe(true)
  }, 180_000)

  it('a signed resumable upload: the token from /object/upload/sign in x-signature, 4 MiB chunks on alternating instances', async () => {
    const signed = (await instances[0]!.handler(
      apiEvent('POST', '/storage/v1/object/upload/sign/big/signed/clip.bin', { authorization: `Bearer ${env.SERVICE_ROLE_KEY}`, apikey: env.ANON_KEY! }),
      { awsRequestId: randomUUID() },
    )) as { statusCode: number; body: string }
    expect(signed.statusCode).toBe(200)
    const { token } = JSON.parse(signed.body) as { token: string }
    const bytes = randomFile(5 * MiB + 3)
    const log: Invocation[] = []
    const outcome = await tusUpload(bytes, {
      endpoint: `https://${HOST}/${STAGE}/storage/v1/upload/resumable/sign`,
      signature: token,
      bucket: 'big',
      name: 'signed/clip.bin',
      chunkSize: 4 * MiB,
      httpStack: lambdaStack(instances, log),
    })
    expect(outcome.status).toBe('done')
    expect(outcome.url).toMatch(new RegExp(`^https://${HOST}/${STAGE}/storage/v1/upload/resumable/sign/[A-Za-z0-9_-]+$`))
    expect(log.map((entry) => entry.method)).toEqual(['POST', 'PATCH'])
    expect(new Set(log.map((entry) => entry.instance))).toEqual(new Set([0, 1]))
    const admin = new pg.Client({ connectionString: server.url })
    await admin.connect()
    const { rows } = await admin.query("SELECT version, metadata FROM storage.objects WHERE bucket_id = 'big' AND name = 'signed/clip.bin'")
    await admin.end()
    expect(rows[0].metadata).toMatchObject({ size: bytes.length })
    const s3 = new S3Client({ region: 'us-east-1', endpoint: moto.endpoint, forcePathStyle: true })
    const stored = await s3.send(new GetObjectCommand({ Bucket: s3Bucket, Key: `big/signed/clip.bin/${rows[0].version}` }))
    expect(Buffer.from(await stored.Body!.transformToByteArray()).equals(bytes)).toBe(true)
  }, 120_000)

  it('an upsert through the handler returns only once the replaced version is removed (the environment may freeze after)', async () => {
    const upload = (text: string) =>
      instances[0]!.handler({
        version: '2.0',
        routeKey: '$default',
        rawPath: '/storage/v1/object/big/notes.txt',
        rawQueryString: '',
        headers: { host: HOST, authorization: `Bearer ${env.SERVICE_ROLE_KEY}`, apikey: env.ANON_KEY, 'content-type': 'text/plain', 'x-upsert': 'true' },
        requestContext: { http: { method: 'POST', path: '/storage/v1/object/big/notes.txt', protocol: 'HTTP/1.1', sourceIp: '203.0.113.10', userAgent: 'test' }, stage: '$default', requestId: randomUUID(), routeKey: '$default', domainName: HOST, timeEpoch: Date.now() },
        body: Buffer.from(text).toString('base64'),
        isBase64Encoded: true,
      }) as Promise<{ statusCode: number }>
    expect((await upload('one')).statusCode).toBe(200)
    expect((await upload('two')).statusCode).toBe(200)
    // Nothing left running once the handler has returned: the old version is already gone.
    expect(instances[0]!.services!.background.pending).toBe(0)
    const s3 = new S3Client({ region: 'us-east-1', endpoint: moto.endpoint, forcePathStyle: true })
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: s3Bucket, Prefix: 'big/notes.txt/' }))
    expect(listed.Contents ?? []).toHaveLength(1)
  }, 60_000)
})
