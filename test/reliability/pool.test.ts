/**
 * Pool exhaustion and slow queries: more clients than pool connections run a query that never
 * finishes, with a per-request statement timeout (`DB_STATEMENT_TIMEOUT`). Each slow request
 * answers 504 `statement_timeout` close to the timeout; fast requests keep being served (2xx
 * only) meanwhile; afterwards no connection is leaked: the pool's connections are all idle, none
 * is left in a transaction, and a burst larger than the pool is served.
 */
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Traffic } from './support/fixture.ts'
import { call, Recorder, runLoad, sleep, summarize } from './support/load.ts'
import { report, scale } from './support/profile.ts'
import { signUpWorkers, useServedPostgres } from './support/scenario.ts'

const POOL_MAX = 4
const STATEMENT_TIMEOUT_MS = 600
const SLOW_CLIENTS = POOL_MAX * 2
const FAST_CLIENTS = 4
const DURATION_MS = scale(5000, 60_000)

interface Backend {
  state: string | null
  application_name: string
}

describe('pool exhaustion and slow queries', () => {
  const scenario = useServedPostgres({ env: { DB_POOL_MAX: String(POOL_MAX), DB_STATEMENT_TIMEOUT: String(STATEMENT_TIMEOUT_MS) } })
  let admin: pg.Client

  const backends = async (): Promise<Backend[]> =>
    (await admin.query<Backend>("SELECT state, application_name FROM pg_stat_activity WHERE datname = $1 AND application_name = 'resolution'", [scenario().fixture.name])).rows

  beforeAll(async () => {
    admin = new pg.Client({ connectionString: scenario().instance.url })
    await admin.connect()
  })

  afterAll(async () => {
    await admin?.end().catch(() => {})
  })

  it('answers 504 statement_timeout to slow requests while fast ones are served, and leaks no connection', async () => {
    const { fixture, server } = scenario()
    const keys = { anon: server.anonKey, service: server.serviceRoleKey }
    const slow = new Recorder()
    const fast = new Recorder()
    const traffic = new Traffic(server.url, keys, fast, [
      ['health', 1],
      ['restRead', 3],
      ['vaultRead', 1],
      ['vaultInsert', 1],
      ['refresh', 1],
      ['getUser', 1],
    ])
    expect(await traffic.probeRestWrites()).toBe(true)
    await signUpWorkers(traffic, FAST_CLIENTS)
    fast.samples.length = 0

    const headers = { apikey: keys.anon, Authorization: `Bearer ${keys.anon}` }
    let peak = 0
    const watching = new AbortController()
    const watcher = (async () => {
      while (!watching.signal.aborted) {
        peak = Math.max(peak, (await backends()).length)
        await sleep(100)
      }
    })()
    await Promise.all([
      runLoad(() => slow.record('slow', () => call(`${server.url}/rest/v1/slow_view?select=one`, { headers })), { concurrency: SLOW_CLIENTS, durationMs: DURATION_MS }),
      runLoad((worker) => traffic.step(worker), { concurrency: FAST_CLIENTS, durationMs: DURATION_MS }),
    ])
    watching.abort()
    await watcher

    const slowSummary = summarize(slow.samples)
    const fastSummary = summarize(fast.samples)
    // Connections return to the pool as idle once the work is done.
    let after = await backends()
    for (let i = 0; i < 20 && after.some((b) => b.state !== 'idle'); i++) {
      await sleep(100)
      after = await backends()
    }
    // A burst of twice the pool size is still served: nothing is held by a leaked checkout.
    const burst = await Promise.all(Array.from({ length: POOL_MAX * 2 }, () => call(`${server.url}/rest/v1/items?select=id&limit=1`, { headers }, { timeoutMs: 5000 })))
    const audit = await traffic.audit(fixture.url)
    report('pool exhaustion and slow queries', {
      poolMax: POOL_MAX,
      statementTimeoutMs: STATEMENT_TIMEOUT_MS,
      slow: { clients: SLOW_CLIENTS, requests: slowSummary.requests, statuses: slowSummary.statuses, codes: slowSummary.codes, p50: slowSummary.p50, p99: slowSummary.p99 },
      fast: { clients: FAST_CLIENTS, requests: fastSummary.requests, statuses: fastSummary.statuses, count5xx: fastSummary.count5xx, p50: fastSummary.p50, p99: fastSummary.p99, max: fastSummary.max },
      peakConnections: peak,
      afterConnections: after.map((b) => b.state),
      burst: burst.map((b) => b.status),
      writes: { acked: audit.acked, lost: audit.lost.length, phantom: audit.phantom.length },
    })

    expect(slowSummary.requests).toBeGreaterThanOrEqual(SLOW_CLIENTS)
    expect(slowSummary.statuses).toEqual({ 504: slowSummary.requests })
    expect(slowSummary.codes).toEqual({ statement_timeout: slowSummary.requests })
    // Cancelled at the timeout, not after a pool wait of many seconds.
    expect(slowSummary.p50).toBeGreaterThanOrEqual(STATEMENT_TIMEOUT_MS)
    expect(fastSummary.requests).toBeGreaterThan(FAST_CLIENTS * 3)
    expect(Object.keys(fastSummary.statuses).filter((s) => !/^2\d\d$/.test(s))).toEqual([])
    expect(peak).toBeLessThanOrEqual(POOL_MAX)
    expect(after.length).toBeLessThanOrEqual(POOL_MAX)
    expect(after.filter((b) => b.state !== 'idle')).toEqual([])
    expect(burst.map((b) => b.status)).toEqual(Array(POOL_MAX * 2).fill(200))
    expect(audit.lost).toEqual([])
  })
})
