/**
 * Memory: the real `serve` process under a steady mixed load of reads, writes and auth calls.
 * Its RSS after the full run must stay within 10% of its RSS at a tenth of the run (long form:
 * 10,000 → 100,000 requests; short form: 800 → 8,000 after a 1,500-request warm-up, which still
 * fails on a leak of 4 KB per request: bench/reliability/leak-injector.mjs). RSS saws with
 * garbage collection by tens of MiB, so at every tenth of the run the process is made to run a
 * full collection (support/gc-on-signal.mjs, SIGUSR2) and RSS is read just after: the memory it
 * retains. The raw curve (one sample per 1% of the run, no forced collection) is reported too.
 */
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { Traffic, type ActionName } from './support/fixture.ts'
import { Recorder, runLoad, sleep, summarize } from './support/load.ts'
import { report, scale } from './support/profile.ts'
import { signUpWorkers, useServedPostgres } from './support/scenario.ts'

const WARMUP = scale(1500, 0)
const TOTAL = scale(8000, 100_000)
const BASELINE = TOTAL / 10
const GC_ON_SIGNAL = fileURLToPath(new URL('./support/gc-on-signal.mjs', import.meta.url))
/** One RSS sample per 1% of the run. */
const SAMPLE_EVERY = TOTAL / 100
const CONCURRENCY = 16

/** Cheap calls (no bcrypt), so the request count is reached in reasonable time. */
const MIX: ReadonlyArray<readonly [ActionName, number]> = [
  ['health', 2],
  ['restRead', 4],
  ['restInsert', 1],
  ['vaultInsert', 1],
  ['vaultRead', 1],
  ['refresh', 1],
  ['getUser', 2],
]

describe('memory under sustained load', () => {
  const scenario = useServedPostgres({ env: { DB_POOL_MAX: '10' }, nodeArgs: ['--import', GC_ON_SIGNAL] })

  it(`keeps RSS after ${TOTAL} requests within 10% of RSS after ${BASELINE}`, async () => {
    const { server } = scenario()
    const recorder = new Recorder()
    const traffic = new Traffic(server.url, { anon: server.anonKey, service: server.serviceRoleKey }, recorder, MIX)
    expect(await traffic.probeRestWrites()).toBe(true)
    await signUpWorkers(traffic, CONCURRENCY)
    if (WARMUP) await runLoad((worker) => traffic.step(worker), { concurrency: CONCURRENCY, maxRequests: WARMUP })
    recorder.samples.length = 0
    const samples: Array<{ requests: number; rssMiB: number }> = [{ requests: 0, rssMiB: server.rssMiB() }]
    const retained: Array<{ requests: number; rssMiB: number }> = []
    const checkpoints: Array<Promise<void>> = []
    /** RSS right after a full collection in the server. */
    const afterCollection = async (requests: number) => {
      process.kill(server.pid, 'SIGUSR2')
      await sleep(300)
      retained.push({ requests, rssMiB: server.rssMiB() })
    }
    const started = performance.now()
    let done = 0
    await runLoad(
      async (worker) => {
        await traffic.step(worker)
        done++
        if (done % SAMPLE_EVERY === 0) samples.push({ requests: done, rssMiB: server.rssMiB() })
        if (done % (TOTAL / 10) === 0) checkpoints.push(afterCollection(done))
      },
      { concurrency: CONCURRENCY, maxRequests: TOTAL },
    )
    await Promise.all(checkpoints)
    const seconds = (performance.now() - started) / 1000
    const summary = summarize(recorder.samples)
    const baseline = retained.find((p) => p.requests === BASELINE)!.rssMiB
    const final = retained.find((p) => p.requests === TOTAL)!.rssMiB
    const growth = (final - baseline) / baseline
    const round = (n: number) => Math.round(n * 10) / 10
    const curve = samples.filter((p) => p.requests % (TOTAL / 10) === 0).map((p) => ({ requests: p.requests, rssMiB: round(p.rssMiB) }))
    report('memory', {
      requests: summary.requests,
      rps: Math.round(summary.requests / seconds),
      count5xx: summary.count5xx,
      p50: summary.p50,
      p99: summary.p99,
      warmup: WARMUP,
      rssBaselineMiB: round(baseline),
      rssFinalMiB: round(final),
      growthPercent: Math.round(growth * 1000) / 10,
      retainedCurve: retained.map((p) => ({ requests: p.requests, rssMiB: round(p.rssMiB) })),
      curve,
    })

    expect(samples.at(-1)!.requests).toBe(TOTAL)
    expect(summary.count5xx).toBe(0)
    expect(growth).toBeLessThanOrEqual(0.1)
  })
})
