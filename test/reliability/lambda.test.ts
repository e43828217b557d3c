/**
 * Lambda: the one pooled connection is killed between invocations, on our own PostgreSQL, and the
 * next invocation must reconnect and answer (never a 5xx):
 *  - `between`: the backend is terminated while the handler is idle and the client notices;
 *  - `thaw`: terminated while the event loop is blocked (a frozen execution environment), and
 *    the handler invoked in the same tick, before the client has seen the socket close;
 *  - `restart`: the whole server restarts between two invocations.
 * Reads, health checks and vault writes are all invoked; every acknowledged write is stored.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import type { APIGatewayProxyEventV2 } from 'aws-lambda'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createJwtService, issueApiKey } from '../../src/jwt/service.ts'
import { loadConfig } from '../../src/config/config.ts'
import { createLambdaRuntime, type LambdaRuntime } from '../../src/runtime/lambda-runtime.ts'
import { JWT_SECRET, prepareDatabase, serveEnv, type FixtureDatabase } from './support/fixture.ts'
import { percentile, sleep } from './support/load.ts'
import { startPgInstance, type PgInstance } from './support/pg-instance.ts'
import { report, scale } from './support/profile.ts'

const ROUNDS = scale(2, 40)
const quiet = { write: () => {} }

type Kill = 'between' | 'thaw' | 'restart'

describe('Lambda: connection killed between invocations', () => {
  let instance: PgInstance
  let fixture: FixtureDatabase
  let runtime: LambdaRuntime
  let anon: string
  let service: string
  const template = JSON.parse(readFileSync(new URL('../../events/http-api-v2.json', import.meta.url), 'utf8')) as APIGatewayProxyEventV2

  function event(method: 'GET' | 'POST', rawPath: string, options: { key?: string; body?: unknown; query?: string } = {}): APIGatewayProxyEventV2 {
    const key = options.key ?? anon
    const body = options.body === undefined ? undefined : JSON.stringify(options.body)
    return {
      ...template,
      rawPath,
      rawQueryString: options.query ?? '',
      queryStringParameters: undefined,
      cookies: undefined,
      headers: { ...template.headers, apikey: key, authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-length': String(body?.length ?? 0) },
      body,
      requestContext: { ...template.requestContext, http: { ...template.requestContext.http, method, path: rawPath } },
    }
  }

  const backendPid = async () => {
    const database = await runtime.services!.database()
    return (await database.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid
  }

  /** Terminates `pid` from another process while this one's event loop is blocked, like a frozen Lambda. */
  function terminateWhileFrozen(pid: number): void {
    execFileSync('psql', [instance.url, '-qAt', '-c', `SELECT pg_terminate_backend(${Number(pid)})`, '-c', `SELECT pg_sleep(0.2)`], { stdio: 'ignore' })
  }

  beforeAll(async () => {
    instance = await startPgInstance()
    fixture = await prepareDatabase(instance.url)
    const jwt = await createJwtService(loadConfig({ JWT_SECRET }))
    anon = await issueApiKey(jwt, 'anon')
    service = await issueApiKey(jwt, 'service_role')
    runtime = await createLambdaRuntime({ ...serveEnv(fixture.url), ANON_KEY: anon, SERVICE_ROLE_KEY: service, NODE_ENV: 'production', LOG_LEVEL: 'silent' }, { logDestination: quiet })
    expect(runtime.startupError).toBeUndefined()
  })

  afterAll(async () => {
    await runtime?.close()
    await instance?.destroy()
  })

  it('reconnects on the next invocation and answers, whatever killed the connection', async () => {
    let admin = new pg.Client({ connectionString: fixture.url })
    await admin.connect()
    const results: Array<{ kill: Kill; call: string; status: number; ms: number; newConnection: boolean }> = []
    const acked: string[] = []
    try {
      const calls = [
        { name: 'health', event: () => event('GET', '/health') },
        { name: 'restRead', event: () => event('GET', '/rest/v1/items', { query: 'select=id&limit=5' }) },
        {
          name: 'vaultInsert',
          event: () => {
            const name = `lambda-${acked.length}-${Math.random().toString(36).slice(2)}`
            return Object.assign(event('POST', '/vault/v1/secrets', { key: service, body: { name, secret: 'v' } }), { __name: name })
          },
        },
      ]
      for (let round = 0; round < ROUNDS; round++) {
        for (const kill of ['between', 'thaw', 'restart'] as const) {
          for (const c of calls) {
            await runtime.handler(event('GET', '/health'))
            const before = await backendPid()
            if (kill === 'between') {
              await admin.query('SELECT pg_terminate_backend($1)', [before])
              await sleep(200)
            } else if (kill === 'restart') {
              await admin.end().catch(() => {})
              await instance.restart()
            } else {
              terminateWhileFrozen(before)
            }
            const e = c.event()
            const t0 = performance.now()
            const result = await runtime.handler(e)
            const ms = Math.round(performance.now() - t0)
            if (kill === 'restart') {
              admin = new pg.Client({ connectionString: fixture.url })
              await admin.connect()
            }
            const name = (e as { __name?: string }).__name
            if (name && (result.statusCode ?? 500) < 300) acked.push(name)
            results.push({ kill, call: c.name, status: result.statusCode ?? 0, ms, newConnection: (await backendPid()) !== before })
          }
        }
      }
      const stored = await admin.query<{ name: string }>('SELECT name FROM vault.secrets WHERE name = ANY($1)', [acked])
      const byKill = Object.fromEntries(
        (['between', 'thaw', 'restart'] as const).map((kill) => {
          const of = results.filter((r) => r.kill === kill)
          const statuses: Record<string, number> = {}
          for (const r of of) statuses[r.status] = (statuses[r.status] ?? 0) + 1
          const ms = of.map((r) => r.ms).sort((a, b) => a - b)
          return [kill, { invocations: of.length, statuses, p50: percentile(ms, 50), max: ms.at(-1) }]
        }),
      )
      report('Lambda connection killed between invocations', { rounds: ROUNDS, byKill, writesAcked: acked.length, writesStored: stored.rowCount })

      expect(results.filter((r) => r.status !== 200 && r.status !== 201)).toEqual([])
      expect(results.filter((r) => !r.newConnection)).toEqual([])
      expect(stored.rowCount).toBe(acked.length)
    } finally {
      await admin.end().catch(() => {})
    }
  })
})
