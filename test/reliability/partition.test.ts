/**
 * Network partition between the service and PostgreSQL (a TCP proxy that silently drops every
 * byte, then heals): unlike a stopped server, nothing tells the client its connections are dead.
 * Every request must still be answered within the request timeout — 503 `database_unavailable`
 * or 504 `statement_timeout`, never a hang — and once the network heals, requests succeed again
 * within 5 s without restarting the service (the connections lost in the partition are replaced).
 */
import { describe, expect, it } from 'vitest'
import { DEFAULT_MIX, Traffic } from './support/fixture.ts'
import { Recorder, recoveryAfter, runLoad, sleep, summarize } from './support/load.ts'
import { report, scale } from './support/profile.ts'
import { signUpWorkers, useServedPostgres } from './support/scenario.ts'

const CONCURRENCY = 8
const STATEMENT_TIMEOUT_MS = 2000
/** The client gives up after this; every answer must come well before. */
const REQUEST_TIMEOUT_MS = 15_000
const PARTITION_MS = scale(6000, 20_000)

describe('network partition to the database', () => {
  const scenario = useServedPostgres({ env: { DB_POOL_MAX: '6', DB_STATEMENT_TIMEOUT: String(STATEMENT_TIMEOUT_MS) }, throughProxy: true })

  it('answers every request in bounded time during the partition and recovers after it', async () => {
    const { fixture, server, proxy } = scenario()
    if (!proxy) throw new Error('the scenario has no proxy')
    const recorder = new Recorder()
    const mix = DEFAULT_MIX.filter(([name]) => name !== 'signIn')
    const traffic = new Traffic(server.url, { anon: server.anonKey, service: server.serviceRoleKey }, recorder, mix, REQUEST_TIMEOUT_MS)
    expect(await traffic.probeRestWrites()).toBe(true)
    await signUpWorkers(traffic, CONCURRENCY)
    const stop = new AbortController()
    const loading = runLoad((worker) => traffic.step(worker), { concurrency: CONCURRENCY, signal: stop.signal })
    let healed = 0
    try {
      await sleep(1500)
      proxy.blackhole()
      await sleep(PARTITION_MS)
      proxy.heal()
      healed = recorder.now()
      await sleep(10_000)
    } finally {
      stop.abort()
      await loading
    }
    const all = recorder.samples
    const failures = all.filter((s) => s.status < 200 || s.status >= 300)
    const { recoveryMs, failedAfter } = recoveryAfter(all, healed)
    const summary = summarize(all)
    const audit = await traffic.audit(fixture.url)
    report('network partition', {
      partitionMs: PARTITION_MS,
      statementTimeoutMs: STATEMENT_TIMEOUT_MS,
      requests: summary.requests,
      statuses: summary.statuses,
      codes: summary.codes,
      p50: summary.p50,
      p99: summary.p99,
      max: summary.max,
      recoveryMs,
      failedAfterHeal: failedAfter,
      writes: { acked: audit.acked, refused: audit.refused, unknown: audit.unknown, lost: audit.lost.length, phantom: audit.phantom.length },
    })

    expect(summary.networkErrors).toBe(0)
    expect(summary.max).toBeLessThan(REQUEST_TIMEOUT_MS)
    expect(failures.filter((s) => !(s.status === 503 && s.code === 'database_unavailable') && !(s.status === 504 && s.code === 'statement_timeout'))).toEqual([])
    expect(recoveryMs).toBeLessThan(5000)
    expect(audit.lost).toEqual([])
  })
})
