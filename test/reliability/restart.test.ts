/**
 * Database restart under load: our own throwaway PostgreSQL is stopped and started while clients
 * keep calling the real `serve` process. During the outage every answer is a quick 503 with the
 * code `database_unavailable` and `Retry-After` (no hang, no network failure); once the database
 * is back, requests succeed again within 5 s without restarting the service, and no
 * acknowledged write is lost.
 */
import { describe, expect, it } from 'vitest'
import { DEFAULT_MIX, Traffic } from './support/fixture.ts'
import { Recorder, recoveryAfter, runLoad, sleep, summarize } from './support/load.ts'
import { report, scale } from './support/profile.ts'
import { signUpWorkers, useServedPostgres } from './support/scenario.ts'

const CONCURRENCY = scale(8, 24)
/** The client gives up after this; no request may come near it. */
const REQUEST_TIMEOUT_MS = 10_000
const CYCLES: Array<{ mode: 'fast' | 'immediate'; before: number; outage: number; after: number }> = scale(
  [{ mode: 'fast', before: 1500, outage: 2500, after: 6000 }],
  [
    { mode: 'fast', before: 10_000, outage: 5000, after: 15_000 },
    { mode: 'immediate', before: 5000, outage: 15_000, after: 15_000 },
    { mode: 'fast', before: 5000, outage: 1000, after: 15_000 },
  ],
)

interface CycleFigures {
  mode: string
  outageMs: number
  outageRequests: number
  outage503: number
  outageP99: number
  outageMax: number
  /** From `pg_ctl start` returning to the first success. */
  firstSuccessMs: number
  /** See `recoveryAfter`: from `pg_ctl start` returning, over requests sent from then on. */
  recoveryMs: number
  failedAfterUp: number
}

describe('database restart under load', () => {
  const scenario = useServedPostgres({ env: { DB_POOL_MAX: '10' } })

  it('answers 503 database_unavailable quickly during the outage and recovers within 5 s', async () => {
    const { instance, fixture, server } = scenario()
    const recorder = new Recorder()
    // Sign-ups are bcrypt-heavy; they happen once per worker, before the first outage.
    const mix = DEFAULT_MIX.filter(([name]) => name !== 'signIn')
    const traffic = new Traffic(server.url, { anon: server.anonKey, service: server.serviceRoleKey }, recorder, mix, REQUEST_TIMEOUT_MS)
    expect(await traffic.probeRestWrites()).toBe(true)
    await signUpWorkers(traffic, CONCURRENCY)

    const stop = new AbortController()
    const loading = runLoad((worker) => traffic.step(worker), { concurrency: CONCURRENCY, signal: stop.signal })
    const cycles: CycleFigures[] = []
    try {
      for (const cycle of CYCLES) {
        await sleep(cycle.before)
        const down = recorder.now()
        await instance.stop(cycle.mode)
        const stopped = recorder.now()
        await sleep(cycle.outage)
        const starting = recorder.now()
        await instance.start()
        const up = recorder.now()
        await sleep(cycle.after)

        // Requests sent while the server was fully down.
        const outage = recorder.between(stopped, starting)
        const outageSummary = summarize(outage)
        const recovery = recoveryAfter(recorder.samples, up)
        const firstSuccess = recorder.samples.filter((s) => s.at >= up && s.status >= 200 && s.status < 300).sort((a, b) => a.at - b.at)[0]
        cycles.push({
          mode: cycle.mode,
          outageMs: Math.round(up - down),
          outageRequests: outage.length,
          outage503: outage.filter((s) => s.status === 503).length,
          outageP99: outageSummary.p99,
          outageMax: outageSummary.max,
          firstSuccessMs: firstSuccess ? Math.round(firstSuccess.at + firstSuccess.ms - up) : Infinity,
          recoveryMs: recovery.recoveryMs,
          failedAfterUp: recovery.failedAfter,
        })
      }
    } finally {
      stop.abort()
      await loading
    }

    const summary = summarize(recorder.samples)
    const audit = await traffic.audit(fixture.url)
    const failures = recorder.samples.filter((s) => s.status < 200 || s.status >= 300)
    const failureKinds = summarize(failures)
    report('database restart under load', {
      concurrency: CONCURRENCY,
      requests: summary.requests,
      statuses: summary.statuses,
      codes: summary.codes,
      count5xx: summary.count5xx,
      p50: summary.p50,
      p99: summary.p99,
      max: summary.max,
      cycles,
      writes: { acked: audit.acked, refused: audit.refused, unknown: audit.unknown, lost: audit.lost.length, phantom: audit.phantom.length },
    })

    // Every failure is the documented one: 503 database_unavailable with Retry-After.
    expect(failureKinds.statuses).toEqual(failures.length ? { 503: failures.length } : {})
    expect(Object.keys(failureKinds.codes)).toEqual(failures.length ? ['database_unavailable'] : [])
    expect(failures.filter((s) => !s.retryAfter)).toEqual([])
    expect(summary.max).toBeLessThan(REQUEST_TIMEOUT_MS)
    for (const cycle of cycles) {
      expect(cycle.outageRequests).toBeGreaterThan(CONCURRENCY)
      expect(cycle.outage503).toBe(cycle.outageRequests)
      // "Quickly": refused at once, not after a connect timeout.
      expect(cycle.outageP99).toBeLessThan(1000)
      expect(cycle.recoveryMs).toBeLessThan(5000)
    }
    expect(audit.lost).toEqual([])
    expect(audit.phantom).toEqual([])
  })
})
