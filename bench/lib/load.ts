/**
 * A small closed-loop load generator for the benches: `concurrency` workers call `request`
 * back to back for `durationMs`; latencies and status codes are recorded.
 */
export interface LoadResult {
  requests: number
  seconds: number
  rps: number
  p50: number
  p99: number
  statuses: Record<string, number>
  failures: number
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

export async function load(request: () => Promise<number>, options: { concurrency: number; durationMs: number; warmupMs?: number }): Promise<LoadResult> {
  if (options.warmupMs) await load(request, { concurrency: options.concurrency, durationMs: options.warmupMs })
  const latencies: number[] = []
  const statuses: Record<string, number> = {}
  let failures = 0
  const started = performance.now()
  const deadline = started + options.durationMs
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      while (performance.now() < deadline) {
        const t0 = performance.now()
        try {
          const status = await request()
          statuses[status] = (statuses[status] ?? 0) + 1
        } catch {
          failures++
        }
        latencies.push(performance.now() - t0)
      }
    }),
  )
  const seconds = (performance.now() - started) / 1000
  latencies.sort((a, b) => a - b)
  return {
    requests: latencies.length,
    seconds: Math.round(seconds * 100) / 100,
    rps: Math.round(latencies.length / seconds),
    p50: Math.round(percentile(latencies, 50) * 100) / 100,
    p99: Math.round(percentile(latencies, 99) * 100) / 100,
    statuses,
    failures,
  }
}

/** `fetch` and drain the body, returning the status. */
export async function hit(url: string, init?: RequestInit): Promise<number> {
  const response = await fetch(url, init)
  await response.arrayBuffer()
  return response.status
}
