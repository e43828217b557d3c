/**
 * Sustained mixed load on PostgreSQL: concurrent clients sign up (each client once, first), then
 * sign in, refresh, read and write for a fixed time against the real `serve` process. Zero 5xx,
 * zero network failures, every acknowledged write stored and no refused one; p50/p99 reported.
 */
import { describe, expect, it } from 'vitest'
import { Traffic } from './support/fixture.ts'
import { Recorder, runLoad, summarize } from './support/load.ts'
import { report, scale } from './support/profile.ts'
import { signUpWorkers, useServedPostgres } from './support/scenario.ts'

const DURATION_MS = scale(8_000, 120_000)
const CONCURRENCY = scale(12, 32)

describe('sustained mixed load on PostgreSQL', () => {
  const scenario = useServedPostgres({ env: { DB_POOL_MAX: '10' } })

  it('serves every request without a 5xx and loses no write', async () => {
    const { fixture, server } = scenario()
    const recorder = new Recorder()
    const traffic = new Traffic(server.url, { anon: server.anonKey, service: server.serviceRoleKey }, recorder)
    const restWrites = await traffic.probeRestWrites()
    expect(restWrites).toBe(true)
    // Each client signs its user up first (bcrypt, all at once): reported, but apart from the steady mix.
    await signUpWorkers(traffic, CONCURRENCY)
    const signUps = summarize(recorder.samples)
    recorder.samples.length = 0
    await runLoad((worker) => traffic.step(worker), { concurrency: CONCURRENCY, durationMs: DURATION_MS })
    const summary = summarize(recorder.samples)
    const audit = await traffic.audit(fixture.url)
    const perAction = Object.fromEntries(
      [...new Set(recorder.samples.map((s) => s.action))].map((action) => {
        const s = summarize(recorder.samples.filter((x) => x.action === action))
        return [action, { n: s.requests, p50: s.p50, p99: s.p99 }]
      }),
    )
    report('sustained mixed load', {
      seconds: DURATION_MS / 1000,
      concurrency: CONCURRENCY,
      rps: Math.round(summary.requests / (DURATION_MS / 1000)),
      ...summary,
      signUps: { n: signUps.requests, statuses: signUps.statuses, p50: signUps.p50, max: signUps.max },
      writes: { acked: audit.acked, refused: audit.refused, unknown: audit.unknown, lost: audit.lost.length, phantom: audit.phantom.length },
      perAction,
    })

    expect(summary.requests).toBeGreaterThan(CONCURRENCY * 10)
    expect(signUps.statuses).toEqual({ 200: CONCURRENCY })
    expect(summary.count5xx).toBe(0)
    expect(summary.networkErrors).toBe(0)
    // Every answer is a success: the harness sends only valid requests.
    expect(Object.keys(summary.statuses).filter((s) => !/^2\d\d$/.test(s))).toEqual([])
    expect(audit.acked).toBeGreaterThan(CONCURRENCY)
    expect(audit.lost).toEqual([])
    expect(audit.phantom).toEqual([])
    expect(audit.unknown).toBe(0)
  })
})
