/**
 * Running the Lambda handler without Docker, as a developer does: `resolution invoke` (like
 * `sam local invoke`, from source and from the built bundle) and `resolution serve --lambda`
 * (like `sam local start-api`), as real processes against a fresh PostgreSQL database; plus the
 * bundle itself (no PGlite inside, exports `handler`) and the HTTP ↔ event translation of the
 * local API.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer as createHttpServer, request as httpRequest } from 'node:http'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import type { APIGatewayProxyEventV2 } from 'aws-lambda'
import { createClient } from '@supabase/supabase-js'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPgDatabase } from '../../src/db/pg-driver.ts'
import { parseEnvVars } from '../../src/runtime/lambda-local.ts'
import { lambdaRequestListener, MAX_EVENT_BODY_BYTES, serveThroughLambda } from '../../src/runtime/lambda-serve.ts'
import { bootstrap } from '../../src/schema/bootstrap.ts'
import { createServerDatabase } from '../support/databases.ts'
import { lambdaEnv } from './support/lambda-env.ts'
import { freePort } from '../support/ports.ts'

const run = promisify(execFile)
const BIN = path.resolve('bin/resolution.mjs')
const EVENTS = ['rest-api-v1.json', 'http-api-v2.json', 'function-url.json', 'alb.json', 'alb-single-value.json']
const tmp = mkdtempSync(path.join(os.tmpdir(), 'resolution-lambda-'))
const children = new Set<ChildProcess>()
afterAll(() => {
  for (const child of children) child.kill('SIGKILL')
})

const baseEnv = { PATH: process.env.PATH ?? '', HOME: os.tmpdir() }

async function resolution(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { env: { ...baseEnv, ...env }, timeout: 60_000 })
    return { code: 0, stdout, stderr }
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string }
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr }
  }
}


describe('SAM env-vars files', () => {
  it('merges Parameters with the function section, the function winning', () => {
    const text = JSON.stringify({ Parameters: { A: '1', B: 'shared', N: 5, T: true }, ResolutionFunction: { B: 'own' }, OtherFunction: { C: 'x' } })
    expect(parseEnvVars(text)).toEqual({ A: '1', B: 'own', N: '5', T: 'true' })
  })

  it('refuses what SAM would refuse, with the file named', () => {
    expect(() => parseEnvVars('{', 'env.json')).toThrow(/env\.json: is not valid JSON/)
    expect(() => parseEnvVars('[]', 'env.json')).toThrow(/must be a JSON object/)
    expect(() => parseEnvVars('{"ResolutionFunction": {"A": {"nested": 1}}}', 'env.json')).toThrow(/ResolutionFunction\.A: must be a string/)
    expect(() => parseEnvVars('{"Parameters": "x"}', 'env.json')).toThrow(/Parameters: must be an object/)
  })

  it('env.json.example is in the format and names the function of the template', () => {
    const example = readFileSync('env.json.example', 'utf8')
    const variables = parseEnvVars(example, 'env.json.example')
    expect(Object.keys(variables)).toEqual(expect.arrayContaining(['DATABASE_URL', 'JWT_SECRET', 'ANON_KEY', 'SERVICE_ROLE_KEY', 'VAULT_ROOT_KEY']))
  })
})

describe('HTTP → HTTP API event → HTTP (serve --lambda)', () => {
  let seen: APIGatewayProxyEventV2[] = []
  let answer: unknown
  let url: string
  const server = createHttpServer(
    lambdaRequestListener(async (event) => {
      seen.push(event as APIGatewayProxyEventV2)
      if (answer instanceof Error) throw answer
      return answer as never
    }),
  )
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`
  })
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

  function rawRequest(target: string, headers: Array<[string, string]>, method = 'GET', body?: Buffer) {
    return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }>((resolve, reject) => {
      const req = httpRequest(`${url}${target}`, { method, headers: [['Host', 'localhost:5050'], ...headers].flat() as unknown as Record<string, string> }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }))
      })
      req.on('error', reject)
      req.end(body)
    })
  }

  it('builds the event API Gateway would: raw path and query, cookies apart, repeated headers joined', async () => {
    seen = []
    answer = { statusCode: 204, headers: { 'x-a': 'b' }, cookies: ['s=1; HttpOnly', 't=2'] }
    const res = await rawRequest('/rest/v1/todos?select=id,title&order=id.desc&x=%20y', [
      ['Cookie', 'a=1; b=2'],
      ['X-Dup', 'one'],
      ['X-Dup', 'two'],
      ['Accept', 'application/json'],
    ])
    expect(res.status).toBe(204)
    expect(res.headers['x-a']).toBe('b')
    expect(res.headers['set-cookie']).toEqual(['s=1; HttpOnly', 't=2'])
    const event = seen[0]!
    expect(event).toMatchObject({ version: '2.0', routeKey: '$default', rawPath: '/rest/v1/todos', rawQueryString: 'select=id,title&order=id.desc&x=%20y', cookies: ['a=1', 'b=2'], isBase64Encoded: false })
    expect(event.headers['x-dup']).toBe('one,two')
    expect(event.headers.cookie).toBeUndefined()
    expect(event.queryStringParameters).toEqual({ select: 'id,title', order: 'id.desc', x: ' y' })
    expect(event.requestContext).toMatchObject({ stage: '$default', http: { method: 'GET', path: '/rest/v1/todos', sourceIp: '127.0.0.1' } })
    expect(event.body).toBeUndefined()
  })

  it('sends JSON bodies as text and binary bodies base64, and decodes base64 answers', async () => {
    seen = []
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i))
    answer = { statusCode: 200, headers: { 'content-type': 'application/octet-stream' }, body: bytes.toString('base64'), isBase64Encoded: true }
    const res = await rawRequest('/upload', [['Content-Type', 'application/octet-stream']], 'POST', bytes)
    expect(res.body.equals(bytes)).toBe(true)
    expect(seen[0]).toMatchObject({ isBase64Encoded: true, body: bytes.toString('base64') })
    await rawRequest('/json', [['Content-Type', 'application/json; charset=utf-8']], 'POST', Buffer.from('{"é":1}'))
    expect(seen[1]).toMatchObject({ isBase64Encoded: false, body: '{"é":1}' })
  })

  it('refuses a body too large for a Lambda invocation with 413, without invoking', async () => {
    seen = []
    const res = await rawRequest('/upload', [['Content-Type', 'application/octet-stream']], 'POST', Buffer.alloc(MAX_EVENT_BODY_BYTES + 1))
    expect(res.status).toBe(413)
    expect(seen).toEqual([])
  })

  it('answers like API Gateway when the result has no statusCode or the function throws', async () => {
    answer = { hello: 'world' }
    const plain = await rawRequest('/', [])
    expect(plain.status).toBe(200)
    expect(JSON.parse(plain.body.toString())).toEqual({ hello: 'world' })
    answer = new Error('boom')
    const failed = await rawRequest('/', [])
    expect(failed.status).toBe(502)
    expect(JSON.parse(failed.body.toString())).toEqual({ message: 'Internal Server Error' })
  })
})

describe.skipIf(!process.env.TEST_DATABASE_URL)('resolution invoke and serve --lambda on PostgreSQL', () => {
  let server: Awaited<ReturnType<typeof createServerDatabase>>
  let envFile: string
  let env: Record<string, string>

  beforeAll(async () => {
    server = await createServerDatabase()
    const database = createPgDatabase({ url: server.url, poolMax: 1 })
    await bootstrap(database)
    await database.close()
    env = await lambdaEnv(server.url)
    envFile = path.join(tmp, 'env.json')
    // SAM's format: shared Parameters plus the function's own section.
    const { LOG_LEVEL, ...own } = env
    writeFileSync(envFile, JSON.stringify({ Parameters: { LOG_LEVEL }, ResolutionFunction: own }))
  }, 120_000)

  afterAll(async () => {
    await server?.drop()
  })

  it.each(EVENTS)('invoke --event events/%s prints the handler result on stdout', async (name) => {
    const result = await resolution(['invoke', '--event', `events/${name}`, '--env-vars', envFile])
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    const answer = JSON.parse(result.stdout) as { statusCode: number; body: string }
    expect(answer.statusCode).toBe(200)
    expect(JSON.parse(answer.body)).toEqual({ status: 'ok', database: 'ok' })
  })

  it('invoke --event - reads the event from standard input; --database-url overrides the env file', async () => {
    const child = spawn(process.execPath, [BIN, 'invoke', '--event', '-', '--env-vars', envFile, '--database-url', server.url], { env: baseEnv, stdio: ['pipe', 'pipe', 'pipe'] })
    children.add(child)
    let out = ''
    child.stdout!.on('data', (chunk) => (out += chunk))
    const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
    child.stdin!.end(readFileSync('events/alb-single-value.json'))
    expect(await exit).toBe(0)
    children.delete(child)
    expect(JSON.parse(out)).toMatchObject({ statusCode: 200, statusDescription: '200 OK' })
  })

  it('invoke without the env file answers 500 configuration_error and logs the variable on stderr', async () => {
    const result = await resolution(['invoke', '--event', 'events/http-api-v2.json'])
    expect(result.code).toBe(0)
    expect(JSON.parse(JSON.parse(result.stdout).body)).toMatchObject({ code: 'configuration_error' })
    expect(result.stderr).toContain('DATABASE_URL')
  })

  it('invoke fails with one clear line for a missing event file or a broken env file', async () => {
    const missing = await resolution(['invoke', '--event', 'events/nope.json'])
    expect(missing.code).toBe(1)
    expect(missing.stderr.trim()).toBe('resolution: --event events/nope.json: cannot read (ENOENT)')
    const broken = path.join(tmp, 'broken.json')
    writeFileSync(broken, '{"ResolutionFunction": ')
    const bad = await resolution(['invoke', '--event', 'events/alb.json', '--env-vars', broken])
    expect(bad.code).toBe(1)
    expect(bad.stderr).toMatch(/^resolution: .*broken\.json: is not valid JSON/)
  })

  it('the bundle: built without PGlite, exports handler, and answers through invoke --bundle', async () => {
    const outdir = path.join(tmp, 'bundle')
    await run(process.execPath, ['scripts/build-lambda.mjs', '--outdir', outdir, '--metafile'], { timeout: 120_000 })
    const bundle = readFileSync(path.join(outdir, 'index.mjs'), 'utf8')
    // The handler and the chunks it loads on first use (S3, WebAuthn, mail).
    const chunks = readdirSync(path.join(outdir, 'chunks')).filter((name) => name.endsWith('.mjs'))
    expect(chunks.length).toBeGreaterThan(0)
    for (const code of [bundle, ...chunks.map((name) => readFileSync(path.join(outdir, 'chunks', name), 'utf8'))]) {
      expect(code).not.toMatch(/@electric-sql|pglite\.wasm|PGlite/)
      expect(code).not.toMatch(/libpg-query|libpg_query/)
    }
    const meta = JSON.parse(readFileSync(path.join(outdir, 'meta.json'), 'utf8')) as { inputs: Record<string, unknown> }
    const inputs = Object.keys(meta.inputs)
    expect(inputs.some((input) => input.includes('@electric-sql') || input.endsWith('pglite-driver.ts'))).toBe(false)
    expect(inputs.some((input) => input.includes('node_modules/pg/'))).toBe(true)
    expect(bundle.length).toBeLessThan(1024 * 1024)
    // sharp (native) stays out: image transformations answer 501 and say where they work.
    expect(inputs.some((input) => input.includes('node_modules/sharp/') || input.includes('node_modules/@img/'))).toBe(false)
    const renderEvent = path.join(tmp, 'render-image.json')
    const event = JSON.parse(readFileSync('events/rest-api-v1.json', 'utf8')) as Record<string, unknown>
    writeFileSync(renderEvent, JSON.stringify({ ...event, path: '/storage/v1/render/image/public/pictures/cat.png', queryStringParameters: { width: '100' }, multiValueQueryStringParameters: { width: ['100'] } }))
    const render = await resolution(['invoke', '--event', renderEvent, '--env-vars', envFile, '--bundle', path.join(outdir, 'index.mjs')])
    expect(JSON.parse(render.stdout).statusCode).toBe(501)
    expect(JSON.parse(JSON.parse(render.stdout).body)).toMatchObject({ code: 'NotSupported', message: expect.stringContaining('container') })
    for (const name of ['rest-api-v1.json', 'alb.json']) {
      const result = await resolution(['invoke', '--event', `events/${name}`, '--env-vars', envFile, '--bundle', path.join(outdir, 'index.mjs')])
      expect(result.code).toBe(0)
      expect(JSON.parse(result.stdout).statusCode).toBe(200)
    }
  }, 120_000)

  it('serve --lambda serves HTTP through the handler and stops on SIGTERM', async () => {
    const port = await freePort()
    const child = spawn(process.execPath, [BIN, 'serve', '--lambda', '--port', String(port)], { env: { ...baseEnv, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    children.add(child)
    let out = ''
    child.stdout!.on('data', (chunk) => (out += chunk))
    const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
    const deadline = Date.now() + 30_000
    while (!out.includes('ready on') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
    expect(out).toContain(`ready on http://127.0.0.1:${port}`)

    const health = await fetch(`http://127.0.0.1:${port}/health`, { headers: { cookie: 'a=1' } })
    expect(health.status).toBe(200)
    expect(await health.json()).toEqual({ status: 'ok', database: 'ok' })
    expect(health.headers.get('x-request-id')).toBeTruthy()

    const tooLarge = await fetch(`http://127.0.0.1:${port}/anything`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: new Uint8Array(5000) })
    expect(tooLarge.status).toBe(413)
    expect(await tooLarge.json()).toMatchObject({ code: 'payload_too_large' })

    const missing = await fetch(`http://127.0.0.1:${port}/nope?x=1`)
    expect(missing.status).toBe(404)
    expect(await missing.json()).toMatchObject({ code: 'not_found' })

    child.kill('SIGTERM')
    expect(await exit).toBe(0)
    children.delete(child)
  }, 60_000)

  it('the Supabase client works unchanged through serveThroughLambda: auth, RLS-protected REST', async () => {
    const admin = new pg.Client({ connectionString: server.url })
    await admin.connect()
    await admin.query(`
      CREATE TABLE public.notes (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, body text NOT NULL,
        owner uuid NOT NULL DEFAULT auth.uid());
      ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY;
      CREATE POLICY own_notes ON public.notes USING (owner = auth.uid()) WITH CHECK (owner = auth.uid());
      GRANT SELECT, INSERT ON public.notes TO authenticated;`)
    await admin.end()
    const local = await serveThroughLambda({ port: 0, env: { ...env, AUTH_AUTOCONFIRM: 'true' }, logDestination: { write: () => {} } })
    try {
      // Node 20 has no WebSocket; realtime is unused, so it gets an inert transport.
      const client = () => createClient(local.url, env.ANON_KEY!, { auth: { persistSession: false, autoRefreshToken: false }, realtime: { transport: class {} as never } })
      const alice = client()
      const signUp = await alice.auth.signUp({ email: 'alice@example.com', password: 'alice-password-1' })
      expect(signUp.error).toBeNull()
      const inserted = await alice.from('notes').insert({ body: 'from alice' }).select()
      expect(inserted.error).toBeNull()
      expect(inserted.data).toMatchObject([{ body: 'from alice' }])

      const bob = client()
      expect((await bob.auth.signUp({ email: 'bob@example.com', password: 'bob-password-12' })).error).toBeNull()
      const seenByBob = await bob.from('notes').select('body')
      expect(seenByBob.error).toBeNull()
      expect(seenByBob.data).toEqual([])
      expect((await alice.from('notes').select('body')).data).toEqual([{ body: 'from alice' }])

      const wrong = await client().auth.signInWithPassword({ email: 'alice@example.com', password: 'not-her-password' })
      expect(wrong.error?.status).toBe(400)
    } finally {
      await local.close()
    }
  })

  it('serve --lambda refuses a bad port with one line', async () => {
    const result = await resolution(['serve', '--lambda', '--port', 'eighty'], env)
    expect(result.code).toBe(1)
    expect(result.stderr.trim()).toBe('resolution: PORT: must be a whole number between 0 and 65535, got "eighty"')
  })
})
