import { Writable } from 'node:stream'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createApp } from '../../src/app.ts'
import { issueApiKey } from '../../src/jwt/service.ts'
import { loadConfig } from '../../src/config/config.ts'
import { createLogger } from '../../src/logger.ts'
import { createServices, type Services } from '../../src/services.ts'
import { startTestApp, TEST_JWT_SECRET, type TestApp } from '../support/app.ts'
import { describeEachDatabase } from '../support/databases.ts'

interface Call {
  status: number
  body: Record<string, unknown> & Array<Record<string, unknown>>
  headers: Headers
}

describeEachDatabase('vault HTTP API /vault/v1', (ctx) => {
  let app: TestApp
  let authenticatedToken: string
  beforeAll(async () => {
    app = await startTestApp(ctx())
    authenticatedToken = await app.services.jwt.sign({ role: 'authenticated', sub: '00000000-0000-0000-0000-000000000001', exp: Math.floor(Date.now() / 1000) + 600 })
  })
  afterAll(async () => {
    await app?.close()
  })

  async function call(method: string, path: string, options: { token?: string | null; body?: unknown; raw?: string } = {}): Promise<Call> {
    const token = options.token === undefined ? app.serviceRoleKey : options.token
    const headers: Record<string, string> = {}
    if (token) Object.assign(headers, { apikey: token, authorization: `Bearer ${token}` })
    if (options.body !== undefined || options.raw !== undefined) headers['content-type'] = 'application/json'
    const response = await fetch(`${app.url}/vault/v1${path}`, {
      method,
      headers,
      body: options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
    })
    const text = await response.text()
    return { status: response.status, body: text ? JSON.parse(text) : undefined, headers: response.headers }
  }

  it('anonymous and anon-key callers get 401, authenticated users 403, bad tokens 401', async () => {
    for (const [method, path] of [
      ['GET', '/secrets'],
      ['POST', '/secrets'],
      ['GET', '/secrets/x'],
      ['PATCH', '/secrets/x'],
      ['DELETE', '/secrets/x'],
      ['GET', '/unknown'],
    ] as const) {
      const body = method === 'GET' ? undefined : { name: 'n', secret: 's' }
      expect((await call(method, path, { token: null, body })).status).toBe(401)
      expect((await call(method, path, { token: app.anonKey, body })).status).toBe(401)
      const forbidden = await call(method, path, { token: authenticatedToken, body })
      expect(forbidden.status).toBe(403)
      expect(forbidden.body.code).toBe('forbidden')
    }
    expect((await call('GET', '/secrets', { token: 'not-a-jwt' })).status).toBe(401)
    expect((await call('GET', '/secrets', { token: app.serviceRoleKey.slice(0, -2) + 'xx' })).status).toBe(401)
    // Nothing was written by any of them.
    expect((await call('GET', '/secrets')).body).toEqual([])
  })

  it('POST creates (201, no value), GET lists metadata only, GET one returns the value with no-store', async () => {
    const created = await call('POST', '/secrets', { body: { name: 'openai', secret: 'sk-live-abc', description: 'OpenAI key' } })
    expect(created.status).toBe(201)
    expect(Object.keys(created.body).sort()).toEqual(['created_at', 'description', 'id', 'name', 'updated_at'])
    expect(created.body).toMatchObject({ name: 'openai', description: 'OpenAI key' })

    const list = await call('GET', '/secrets')
    expect(list.status).toBe(200)
    expect(list.body.map((s) => s.name)).toEqual(['openai'])
    expect(JSON.stringify(list.body)).not.toContain('sk-live-abc')

    for (const ref of [created.body.id as string, 'openai']) {
      const one = await call('GET', `/secrets/${ref}`)
      expect(one.status).toBe(200)
      expect(one.body).toMatchObject({ id: created.body.id, name: 'openai', secret: 'sk-live-abc' })
      expect(one.headers.get('cache-control')).toBe('no-store')
    }
  })

  it('PATCH updates value, name and description; DELETE removes; both 404 when absent', async () => {
    const created = await call('POST', '/secrets', { body: { name: 'patch-me', secret: 'v1' } })
    const patched = await call('PATCH', `/secrets/${created.body.id}`, { body: { secret: 'v2', description: 'new' } })
    expect(patched.status).toBe(200)
    expect(patched.body).toMatchObject({ name: 'patch-me', description: 'new' })
    expect(patched.body).not.toHaveProperty('secret')
    expect((await call('GET', '/secrets/patch-me')).body.secret).toBe('v2')
    expect((await call('PATCH', `/secrets/${created.body.id}`, { body: { name: 'patched' } })).body.name).toBe('patched')
    expect((await call('GET', '/secrets/patched')).body.secret).toBe('v2')

    const deleted = await call('DELETE', `/secrets/${created.body.id}`)
    expect(deleted.status).toBe(200)
    expect(deleted.body.id).toBe(created.body.id)
    for (const [method, body] of [['GET', undefined], ['DELETE', undefined], ['PATCH', { secret: 'x' }]] as const) {
      const missing = await call(method, `/secrets/${created.body.id}`, { body })
      expect(missing.status).toBe(404)
      expect(missing.body.code).toBe('vault_secret_not_found')
    }
  })

  it('a duplicate name is 409 vault_duplicate_name', async () => {
    await call('POST', '/secrets', { body: { name: 'only-once', secret: 'a' } })
    const again = await call('POST', '/secrets', { body: { name: 'only-once', secret: 'b' } })
    expect(again.status).toBe(409)
    expect(again.body.code).toBe('vault_duplicate_name')
    expect((await call('GET', '/secrets/only-once')).body.secret).toBe('a')
  })

  it('bad input is a 4xx with a stable code, never a 500', async () => {
    const cases: Array<[string, string, { body?: unknown; raw?: string }, number, string]> = [
      ['POST', '/secrets', { raw: '{not json' }, 400, 'invalid_json'],
      ['POST', '/secrets', { raw: '' }, 400, 'vault_invalid_request'],
      ['POST', '/secrets', { body: [] }, 400, 'vault_invalid_request'],
      ['POST', '/secrets', { body: 'string' }, 400, 'vault_invalid_request'],
      ['POST', '/secrets', { body: { secret: 'no name' } }, 400, 'vault_invalid_request'],
      ['POST', '/secrets', { body: { name: 'no-secret' } }, 400, 'vault_invalid_request'],
      ['POST', '/secrets', { body: { name: 'x', secret: '' } }, 400, 'vault_invalid_request'],
      ['POST', '/secrets', { body: { name: 'x', secret: 5 } }, 400, 'vault_invalid_request'],
      ['POST', '/secrets', { body: { name: 'x', secret: 'a\u0000b' } }, 400, 'vault_invalid_request'],
      ['POST', '/secrets', { raw: '{"name":"x","secret":"\\ud800"}' }, 400, 'vault_invalid_request'],
      ['POST', '/secrets', { body: { name: 'x', secret: 's', key_id: 'abc' } }, 400, 'vault_invalid_request'],
      ['POST', '/secrets', { body: { name: 'x', secret: 's', description: 7 } }, 400, 'vault_invalid_request'],
      ['PATCH', '/secrets/whatever', { body: {} }, 400, 'vault_invalid_request'],
      ['PATCH', '/secrets/whatever', { body: { name: null } }, 400, 'vault_invalid_request'],
      ['GET', '/secrets?limit=abc', {}, 400, 'vault_invalid_request'],
      ['GET', '/secrets?limit=5000', {}, 400, 'vault_invalid_request'],
      ['GET', '/secrets?offset=-1', {}, 400, 'vault_invalid_request'],
      ['PUT', '/secrets', { body: {} }, 405, 'method_not_allowed'],
      ['PUT', '/secrets/x', { body: {} }, 405, 'method_not_allowed'],
    ]
    for (const [method, path, options, status, code] of cases) {
      const response = await call(method, path, options)
      expect({ method, path, status: response.status, code: response.body?.code }).toEqual({ method, path, status, code })
    }
  })

  it('concurrent creates of one name: exactly one 201, the rest 409, never a 500', async () => {
    const responses = await Promise.all(Array.from({ length: 6 }, (_, i) => call('POST', '/secrets', { body: { name: 'race', secret: `v${i}` } })))
    expect(responses.map((r) => r.status).sort()).toEqual([201, 409, 409, 409, 409, 409])
  })

  it('names with spaces, slashes, percent signs and unicode round-trip through the path', async () => {
    for (const name of ['with space', 'a/b', '100%', 'ключ 🔑', '5f0d3c9a-1b2e-4c7d-8e9f-0a1b2c3d4e5f']) {
      const created = await call('POST', '/secrets', { body: { name, secret: `value of ${name}` } })
      expect(created.status).toBe(201)
      const read = await call('GET', `/secrets/${encodeURIComponent(name)}`)
      expect({ name, status: read.status, secret: read.body.secret }).toEqual({ name, status: 200, secret: `value of ${name}` })
    }
  })

  it('pages the list with limit and offset', async () => {
    const all = (await call('GET', '/secrets')).body
    expect(all.length).toBeGreaterThan(3)
    const page = (await call('GET', '/secrets?limit=2&offset=1')).body
    expect(page.map((s) => s.id)).toEqual(all.slice(1, 3).map((s) => s.id))
  })
})

describeEachDatabase('vault values never reach the logs', (ctx) => {
  it('exercises the whole API with LOG_LEVEL=debug and finds no value, root key or token in the output', async () => {
    const lines: string[] = []
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk))
        done()
      },
    })
    const rootKey = 'd4dc5b6d4a1d6a10b2c1e76112c994d65db7cec380572cc1839624d4be3fa275'
    const config = loadConfig({ JWT_SECRET: TEST_JWT_SECRET, LOG_LEVEL: 'debug', VAULT_ROOT_KEY: rootKey, RESOLUTION_DATA_DIR: '/tmp/resolution-vault-log-test' })
    const services: Services = await createServices(config, { database: ctx().database, logger: createLogger('debug', sink) })
    const app = createApp(services)
    const key = await issueApiKey(services.jwt, 'service_role')
    const headers = { apikey: key, authorization: `Bearer ${key}`, 'content-type': 'application/json' }
    const values = ['LOGTEST-value-one-7f3a', 'LOGTEST-value-two-91bc', 'LOGTEST-dup-value-c0de']

    const created = await app.request('/vault/v1/secrets', { method: 'POST', headers, body: JSON.stringify({ name: 'log-a', secret: values[0] }) })
    expect(created.status).toBe(201)
    const id = ((await created.json()) as { id: string }).id
    expect((await app.request(`/vault/v1/secrets/${id}`, { headers })).status).toBe(200)
    expect((await app.request(`/vault/v1/secrets/log-a`, { method: 'PATCH', headers, body: JSON.stringify({ secret: values[1] }) })).status).toBe(200)
    expect((await app.request('/vault/v1/secrets', { method: 'POST', headers, body: JSON.stringify({ name: 'log-a', secret: values[2] }) })).status).toBe(409)
    expect((await app.request('/vault/v1/secrets', { method: 'POST', headers, body: `{"name":"bad","secret":"${values[2]}"` })).status).toBe(400)
    expect((await app.request('/vault/v1/secrets', { headers })).status).toBe(200)
    // A failure path that logs at warn: the row no longer authenticates.
    await ctx().database.query(`UPDATE vault.secrets SET description = 'x', id = gen_random_uuid() WHERE name = 'log-a'`)
    expect((await app.request(`/vault/v1/secrets/log-a`, { headers })).status).toBe(500)
    expect((await app.request(`/vault/v1/secrets/log-a`, { method: 'DELETE', headers })).status).toBe(200)

    const output = lines.join('')
    expect(lines.length).toBeGreaterThan(5) // the requests were logged at all
    expect(output).toContain('/vault/v1/secrets')
    for (const secret of [...values, rootKey, key]) expect(output).not.toContain(secret)
  })
})

describeEachDatabase(
  'vault HTTP API on a database without vault.secrets',
  (ctx) => {
    it('answers 503 vault_not_configured, not a 500', async () => {
      const config = loadConfig({ JWT_SECRET: TEST_JWT_SECRET, LOG_LEVEL: 'silent', VAULT_ROOT_KEY: 'ab'.repeat(32), RESOLUTION_DATA_DIR: '/tmp/resolution-vault-nodb-test' })
      const services = await createServices(config, { database: ctx().database })
      const key = await issueApiKey(services.jwt, 'service_role')
      const response = await createApp(services).request('/vault/v1/secrets', { headers: { apikey: key, authorization: `Bearer ${key}` } })
      expect(response.status).toBe(503)
      expect(((await response.json()) as { code: string }).code).toBe('vault_not_configured')
    })
  },
  { bootstrapped: false },
)
