import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp } from '../../src/app.ts'
import { loadConfig } from '../../src/config/config.ts'
import { createServices } from '../../src/services.ts'
import { startTestApp, TEST_JWT_SECRET, type TestApp } from '../support/app.ts'
import { describeEachDatabase } from '../support/databases.ts'

describeEachDatabase('HTTP app', (ctx) => {
  let app: TestApp
  beforeAll(async () => {
    app = await startTestApp(ctx(), { BODY_LIMIT: '2048' })
  })
  afterAll(() => app.close())

  it('answers /health with 200 when the database answers', async () => {
    const response = await fetch(`${app.url}/health`)
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ status: 'ok', database: 'ok' })
    expect(response.headers.get('x-request-id')).toMatch(/.+/)
  })

  it('renders unknown routes as JSON with a code', async () => {
    const response = await fetch(`${app.url}/nope`)
    expect(response.status).toBe(404)
    expect(await response.json()).toMatchObject({ code: 'not_found' })
  })

  it('refuses bodies past the limit with 413 and a code', async () => {
    const response = await fetch(`${app.url}/health`, { method: 'POST', body: 'x'.repeat(5000), headers: { 'content-type': 'text/plain' } })
    expect(response.status).toBe(413)
    expect(await response.json()).toMatchObject({ code: 'payload_too_large' })
  })

  it('answers CORS preflights with the headers Supabase clients need', async () => {
    const response = await fetch(`${app.url}/rest/v1/things`, {
      method: 'OPTIONS',
      headers: { origin: 'http://example.test', 'access-control-request-method': 'POST', 'access-control-request-headers': 'apikey, authorization, prefer, x-client-info' },
    })
    expect(response.status).toBe(204)
    const allowed = response.headers.get('access-control-allow-headers') ?? ''
    for (const header of ['apikey', 'authorization', 'prefer', 'x-client-info']) expect(allowed).toContain(header)
    const get = await fetch(`${app.url}/health`, { headers: { origin: 'http://example.test' } })
    const exposed = get.headers.get('access-control-expose-headers') ?? ''
    for (const header of ['content-range', 'x-total-count', 'x-supabase-api-version', 'location']) expect(exposed).toContain(header)
  })
})

describe('HTTP app without a database', () => {
  const config = loadConfig({ DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none', JWT_SECRET: TEST_JWT_SECRET, LOG_LEVEL: 'silent' })
  let services: Awaited<ReturnType<typeof createServices>>
  beforeAll(async () => {
    services = await createServices(config)
  })
  afterAll(() => services.close())

  it('answers /health with 503, a code and Retry-After, quickly', async () => {
    const started = Date.now()
    const response = await createApp(services).request('/health')
    expect(response.status).toBe(503)
    expect(response.headers.get('retry-after')).toBe('1')
    expect(await response.json()).toMatchObject({ code: 'database_unavailable' })
    expect(Date.now() - started).toBeLessThan(5000)
  })
})
