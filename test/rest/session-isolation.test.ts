/**
 * Settings never leak between requests on one pooled connection: with a pool of one, an
 * anonymous request right after an authenticated one sees no user. And `/health` tells the load
 * balancer when the database dies after start-up.
 */
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPgDatabase } from '../../src/db/pg-driver.ts'
import type { Database } from '../../src/db/types.ts'
import { startTestApp, type TestApp } from '../support/app.ts'
import { createServerDatabase, describeEachDatabase } from '../support/databases.ts'
import { ALICE, loadFixture } from './support.ts'

describeEachDatabase('REST: one pooled connection, two callers', (ctx) => {
  let app: TestApp
  let single: Database
  beforeAll(async () => {
    await loadFixture(ctx())
    // PGlite is one connection already; on the server, a pool of exactly one.
    single = ctx().url ? createPgDatabase({ url: ctx().url!, poolMax: 1 }) : ctx().database
    app = await startTestApp({ ...ctx(), database: single })
  })
  afterAll(async () => {
    await app?.close()
    if (single !== ctx().database) await single.close()
  })

  const context = async (token: string | undefined) => {
    const headers: Record<string, string> = { apikey: app.anonKey }
    if (token) headers.Authorization = `Bearer ${token}`
    const response = await fetch(`${app.url}/rest/v1/rpc/request_context`, { headers })
    expect(response.status).toBe(200)
    return (await response.json()) as { role: string; sub: string | null; claims_role: string }
  }

  it('an anonymous request after an authenticated one sees auth.uid() null and the anon role', async () => {
    const now = Math.floor(Date.now() / 1000)
    const token = await app.services.jwt.sign({ sub: ALICE, role: 'authenticated', iat: now, exp: now + 600 })
    for (let round = 0; round < 3; round++) {
      expect(await context(token)).toMatchObject({ role: 'authenticated', sub: ALICE, claims_role: 'authenticated' })
      expect(await context(undefined)).toMatchObject({ role: 'anon', sub: null, claims_role: 'anon' })
    }
  })
})

describe.runIf(!!process.env.TEST_DATABASE_URL)('/health after the database dies [postgres]', () => {
  let server: Awaited<ReturnType<typeof createServerDatabase>>
  let database: Database
  let app: TestApp
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL })
    await client.connect()
    try {
      await client.query(sql)
    } finally {
      await client.end()
    }
  }
  beforeAll(async () => {
    server = await createServerDatabase()
    database = createPgDatabase({ url: server.url, poolMax: 2 })
    app = await startTestApp({ target: 'postgres', database, url: server.url })
  }, 120_000)
  afterAll(async () => {
    await app?.close()
    await database?.close()
    await admin(`ALTER DATABASE "${server.name}" ALLOW_CONNECTIONS true`).catch(() => {})
    await server?.drop()
  })

  it('turns 503 database_unavailable while the database refuses connections, and 200 again after', async () => {
    expect((await fetch(`${app.url}/health`)).status).toBe(200)
    await admin(`ALTER DATABASE "${server.name}" ALLOW_CONNECTIONS false`)
    await admin(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${server.name}' AND pid <> pg_backend_pid()`)
    const down = await fetch(`${app.url}/health`)
    expect(down.status).toBe(503)
    expect(((await down.json()) as { code: string }).code).toBe('database_unavailable')
    await admin(`ALTER DATABASE "${server.name}" ALLOW_CONNECTIONS true`)
    expect((await fetch(`${app.url}/health`)).status).toBe(200)
  })
})
