/**
 * The Lambda handler end to end on a real PostgreSQL (a fresh database per suite, bootstrapped as
 * `resolution db init` would on deploy): every event shape answered, the one connection reused
 * across invocations and replaced after it is killed, no DDL from the handler, and start-up
 * failures answered with a 500 that names nothing secret while the log names the variable.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import type { ALBEvent, APIGatewayProxyEvent, APIGatewayProxyEventV2 } from 'aws-lambda'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPgDatabase } from '../../src/db/pg-driver.ts'
import { createLambdaRuntime, type LambdaRuntime } from '../../src/runtime/lambda-runtime.ts'
import { bootstrap } from '../../src/schema/bootstrap.ts'
import { createServerDatabase } from '../support/databases.ts'
import { JWT_SECRET, lambdaEnv } from './support/lambda-env.ts'

const EVENTS = ['rest-api-v1.json', 'http-api-v2.json', 'function-url.json', 'alb.json', 'alb-single-value.json']

function load<T = Record<string, unknown>>(name: string): T {
  return JSON.parse(readFileSync(new URL(`../../events/${name}`, import.meta.url), 'utf8')) as T
}

function bodyOf(result: { body?: string }): Record<string, unknown> {
  return JSON.parse(result.body ?? 'null') as Record<string, unknown>
}

const quiet = { write: () => {} }

describe.skipIf(!process.env.TEST_DATABASE_URL)('Lambda handler on PostgreSQL', () => {
  let server: Awaited<ReturnType<typeof createServerDatabase>>
  let runtime: LambdaRuntime
  let admin: pg.Client

  beforeAll(async () => {
    server = await createServerDatabase()
    const database = createPgDatabase({ url: server.url, poolMax: 1 })
    await bootstrap(database)
    await database.close()
    runtime = await createLambdaRuntime(await lambdaEnv(server.url), { logDestination: quiet })
    admin = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL })
    await admin.connect()
  }, 120_000)

  afterAll(async () => {
    await runtime?.close()
    await admin?.end()
    await server?.drop()
  })

  it('starts without error and opens no connection before the first request', async () => {
    expect(runtime.startupError).toBeUndefined()
    const { rows } = await admin.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [new URL(server.url).pathname.slice(1)])
    expect(rows[0].n).toBe(0)
  })

  it.each(EVENTS)('answers GET /health from %s with the database reachable', async (name) => {
    const result = await runtime.handler(load(name), { awsRequestId: `req-${name}` })
    expect(result.statusCode).toBe(200)
    expect(bodyOf(result)).toEqual({ status: 'ok', database: 'ok' })
    if (name.startsWith('alb')) expect((result as { statusDescription?: string }).statusDescription).toBe('200 OK')
  })

  it('keeps one connection across invocations and replaces it after the server kills it', async () => {
    const services = runtime.services!
    const pid = async () => (await (await services.database()).query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid
    await runtime.handler(load('http-api-v2.json'))
    const first = await pid()
    await runtime.handler(load('http-api-v2.json'))
    expect(await pid()).toBe(first) // reused, a pool of one

    const { rows } = await admin.query('SELECT pg_terminate_backend($1) AS killed', [first])
    expect(rows[0].killed).toBe(true)
    // Let the client see the socket close (on Lambda this happens while the environment thaws).
    await new Promise((resolve) => setTimeout(resolve, 200))

    const result = await runtime.handler(load('http-api-v2.json'))
    expect(result.statusCode).toBe(200)
    const second = await pid()
    expect(second).not.toBe(first)
    const db = new URL(server.url).pathname.slice(1)
    const count = await admin.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = $2', [db, 'resolution'])
    expect(count.rows[0].n).toBe(1)
  })

  it('a connection the server dropped while the environment was frozen is replaced, not answered with 503', async () => {
    const services = runtime.services!
    const sleepSync = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
    for (let round = 0; round < 5; round++) {
      expect((await runtime.handler(load('rest-api-v1.json'))).statusCode).toBe(200)
      const { rows } = await (await services.database()).query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
      // Like a frozen Lambda: the event loop does not run while the server drops the connection
      // (psql, synchronously), and the next invocation starts right after the thaw.
      execFileSync('psql', [process.env.TEST_DATABASE_URL!, '-qAtc', `SELECT pg_terminate_backend(${Number(rows[0]!.pid)})`])
      sleepSync(100)
      const after = await runtime.handler(load('rest-api-v1.json'))
      expect(after.statusCode).toBe(200)
    }
  })

  it('serves the real API in every shape: sign up (v2, base64 body), sign in (v1), read the user (ALB), REST (Function URL)', async () => {
    const env = await lambdaEnv(server.url)
    const api = await createLambdaRuntime({ ...env, AUTH_AUTOCONFIRM: 'true' }, { logDestination: quiet })
    try {
      const signUp = load<APIGatewayProxyEventV2>('http-api-v2-post.json')
      signUp.headers.apikey = env.ANON_KEY
      const created = await api.handler(signUp)
      expect(created.statusCode).toBe(200)
      expect(bodyOf(created)).toMatchObject({ user: { email: 'new.user@example.com' } })

      const signIn = load<APIGatewayProxyEvent>('rest-api-v1.json')
      signIn.httpMethod = 'POST'
      signIn.path = '/auth/v1/token'
      signIn.queryStringParameters = { grant_type: 'password' }
      signIn.multiValueQueryStringParameters = { grant_type: ['password'] }
      signIn.multiValueHeaders = { ...signIn.multiValueHeaders, apikey: [env.ANON_KEY!], 'Content-Type': ['application/json'] }
      signIn.body = JSON.stringify({ email: 'new.user@example.com', password: 'correct-horse-42' })
      const session = await api.handler(signIn)
      expect(session.statusCode).toBe(200)
      const token = bodyOf(session).access_token as string
      expect(token).toMatch(/^ey/)

      const me = load<ALBEvent>('alb.json')
      me.path = '/auth/v1/user'
      me.multiValueHeaders = { ...me.multiValueHeaders, apikey: [env.ANON_KEY!], authorization: [`Bearer ${token}`] }
      const user = await api.handler(me)
      expect(user.statusCode).toBe(200)
      expect(bodyOf(user)).toMatchObject({ email: 'new.user@example.com', role: 'authenticated' })

      const rest = load<APIGatewayProxyEventV2>('function-url.json')
      rest.rawPath = '/rest/v1/'
      rest.rawQueryString = ''
      rest.headers.apikey = env.ANON_KEY
      const openapi = await api.handler(rest)
      expect(openapi.statusCode).toBe(200)
      expect(bodyOf(openapi)).toHaveProperty('paths')

      const anonymous = { ...me, multiValueHeaders: { ...me.multiValueHeaders, authorization: ['Bearer not-a-token'] } }
      const refused = await api.handler(anonymous)
      expect([401, 403]).toContain(refused.statusCode)
      expect(JSON.stringify(bodyOf(refused))).toContain('bad_jwt')
    } finally {
      await api.close()
    }
  })

  it('passes base64 bodies through to the app: an oversize body is refused with 413 by the app', async () => {
    const event = load<APIGatewayProxyEventV2>('http-api-v2-post.json')
    event.rawPath = '/nowhere'
    event.body = Buffer.alloc(4096, 7).toString('base64')
    event.headers['content-length'] = '4096'
    const tooLarge = await runtime.handler(event)
    expect(tooLarge.statusCode).toBe(413)
    expect(bodyOf(tooLarge)).toMatchObject({ code: 'payload_too_large' })
    event.body = Buffer.alloc(100, 7).toString('base64')
    event.headers['content-length'] = '100'
    const notFound = await runtime.handler(event)
    expect(notFound.statusCode).toBe(404)
    expect(bodyOf(notFound)).toMatchObject({ code: 'not_found' })
  })

  it('answers a CORS preflight from a REST API event with the CORS headers', async () => {
    const event = load<APIGatewayProxyEvent>('rest-api-v1.json')
    event.httpMethod = 'OPTIONS'
    event.multiValueHeaders = { ...event.multiValueHeaders, Origin: ['https://app.example.com'], 'Access-Control-Request-Method': ['POST'] }
    const result = (await runtime.handler(event)) as { statusCode: number; multiValueHeaders: Record<string, string[]> }
    expect(result.statusCode).toBeLessThan(300)
    expect(Object.keys(result.multiValueHeaders).map((k) => k.toLowerCase())).toContain('access-control-allow-origin')
  })

  it('never runs DDL: against an empty database it answers and creates nothing', async () => {
    const empty = await createServerDatabase()
    const bare = await createLambdaRuntime(await lambdaEnv(empty.url), { logDestination: quiet })
    try {
      for (const name of EVENTS) expect((await bare.handler(load(name))).statusCode).toBe(200)
      const client = new pg.Client({ connectionString: empty.url })
      await client.connect()
      const { rows } = await client.query("SELECT nspname FROM pg_namespace WHERE nspname IN ('auth', 'vault', 'extensions', '_resolution')")
      await client.end()
      expect(rows).toEqual([])
    } finally {
      await bare.close()
      await empty.drop()
    }
  })

  it('answers 503 database_unavailable (not a crash) when the database is unreachable', async () => {
    const env = await lambdaEnv('postgres://postgres@127.0.0.1:1/nowhere')
    const down = await createLambdaRuntime(env, { logDestination: quiet })
    try {
      const result = await down.handler(load<ALBEvent>('alb.json'))
      expect(result.statusCode).toBe(503)
      expect(bodyOf(result)).toMatchObject({ code: 'database_unavailable' })
    } finally {
      await down.close()
    }
  })
})

describe('Lambda handler start-up failures', () => {
  const cases: Array<[string, Record<string, string | undefined>, string]> = [
    ['no DATABASE_URL', { DATABASE_URL: undefined }, 'DATABASE_URL'],
    ['an unresolved dynamic reference (sam local without env.json)', { DATABASE_URL: '{{resolve:secretsmanager:arn:aws:secretsmanager:us-east-1:123456789012:secret:app:SecretString:DATABASE_URL}}' }, 'DATABASE_URL'],
    ['a short JWT secret', { JWT_SECRET: 'short' }, 'JWT_SECRET'],
    ['no service role key', { SERVICE_ROLE_KEY: '' }, 'SERVICE_ROLE_KEY'],
    ['a malformed vault key', { VAULT_ROOT_KEY: 'xyz' }, 'VAULT_ROOT_KEY'],
  ]

  it.each(cases)('%s: one log line naming the variable and a 500 configuration_error on every invocation', async (_title, change, variable) => {
    const env = { ...(await lambdaEnv('postgres://postgres@127.0.0.1:5432/postgres')), ...change }
    const lines: string[] = []
    const runtime = await createLambdaRuntime(env, { log: (line) => lines.push(line), logDestination: quiet })
    expect(runtime.startupError).toContain(variable)
    for (const [i, name] of EVENTS.entries()) {
      const result = await runtime.handler(load(name), { awsRequestId: `r${i}` })
      expect(result.statusCode).toBe(500)
      const body = bodyOf(result)
      expect(body).toMatchObject({ code: 'configuration_error' })
      // The client learns nothing about the config; the log says what to fix.
      expect(JSON.stringify(body)).not.toContain(variable)
      expect(lines).toHaveLength(i + 1)
      expect(JSON.parse(lines[i]!)).toMatchObject({ level: 'fatal', code: 'configuration_error', requestId: `r${i}` })
      expect(lines[i]).toContain(variable)
    }
    // Secrets never reach the log line.
    for (const line of lines) expect(line).not.toContain(JWT_SECRET)
  })
})
