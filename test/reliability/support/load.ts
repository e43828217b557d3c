/**
 * The reliability load generator: closed-loop workers run actions (one HTTP call each) until told
 * to stop, and every call is recorded with its start time, latency, status and error code, so a
 * scenario can slice the record by phase (before, during, after an outage) and assert on it.
 * @module
 */

export interface Outcome {
  /** HTTP status; 0 when no response arrived (connection refused/reset, client timeout). */
  status: number
  /** The error `code` of a JSON error body (`error_code` for auth errors). */
  code?: string
  retryAfter?: string | null
  /** Network-level failure, e.g. `ECONNREFUSED`, `timeout`. */
  error?: string
  /** Parsed JSON body of a 2xx answer, for actions that need it. */
  body?: unknown
}

export interface Sample extends Outcome {
  action: string
  /** ms since the recorder was created. */
  at: number
  ms: number
}

export interface Summary {
  requests: number
  statuses: Record<string, number>
  codes: Record<string, number>
  count5xx: number
  networkErrors: number
  p50: number
  p99: number
  max: number
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
}

const round = (n: number) => Math.round(n * 10) / 10

export function summarize(samples: readonly Sample[]): Summary {
  const latencies = samples.map((s) => s.ms).sort((a, b) => a - b)
  const statuses: Record<string, number> = {}
  const codes: Record<string, number> = {}
  for (const s of samples) {
    const key = s.status === 0 ? `net:${s.error}` : String(s.status)
    statuses[key] = (statuses[key] ?? 0) + 1
    if (s.code) codes[s.code] = (codes[s.code] ?? 0) + 1
  }
  return {
    requests: samples.length,
    statuses,
    codes,
    count5xx: samples.filter((s) => s.status >= 500).length,
    networkErrors: samples.filter((s) => s.status === 0).length,
    p50: round(percentile(latencies, 50)),
    p99: round(percentile(latencies, 99)),
    max: round(latencies.at(-1) ?? NaN),
  }
}

export class Recorder {
  readonly samples: Sample[] = []
  readonly #t0 = performance.now()

  now(): number {
    return performance.now() - this.#t0
  }

  /** Runs one call and records it. */
  async record(action: string, call: () => Promise<Outcome>): Promise<Sample> {
    const at = this.now()
    const outcome = await call()
    const sample: Sample = { action, at, ms: this.now() - at, ...outcome }
    this.samples.push(sample)
    return sample
  }

  between(from: number, to: number): Sample[] {
    return this.samples.filter((s) => s.at >= from && s.at < to)
  }
}

export interface CallOptions {
  timeoutMs?: number
  /** Keep the parsed JSON body of 2xx answers on the outcome. */
  keepBody?: boolean
}

/** One HTTP call that never throws: failures become an outcome with status 0. */
export async function call(url: string, init: RequestInit = {}, options: CallOptions = {}): Promise<Outcome> {
  try {
    const response = await fetch(url, { ...init, signal: AbortSignal.timeout(options.timeoutMs ?? 15_000) })
    const text = await response.text()
    let json: unknown
    try {
      json = text ? JSON.parse(text) : undefined
    } catch {
      json = undefined
    }
    const outcome: Outcome = { status: response.status, retryAfter: response.headers.get('retry-after') }
    if (response.status >= 400 && json && typeof json === 'object') {
      const body = json as { code?: unknown; error_code?: unknown }
      const code = typeof body.error_code === 'string' ? body.error_code : typeof body.code === 'string' ? body.code : undefined
      if (code) outcome.code = code
    }
    if (options.keepBody && response.ok) outcome.body = json
    return outcome
  } catch (error) {
    return { status: 0, error: networkError(error) }
  }
}

function networkError(error: unknown): string {
  const e = error as { name?: string; code?: string; cause?: { code?: string; name?: string } }
  if (e?.name === 'TimeoutError') return 'timeout'
  return e?.cause?.code ?? e?.code ?? e?.cause?.name ?? e?.name ?? 'unknown'
}

export interface LoadOptions {
  concurrency: number
  /** Stop after this long … */
  durationMs?: number
  /** … or when this fires (whichever comes first). */
  signal?: AbortSignal
  /** Stop after this many calls in total. */
  maxRequests?: number
}

/**
 * Closed loop: `concurrency` workers each run `next(worker)` back to back. Resolves once every
 * worker has finished its last call after the stop condition.
 */
export async function runLoad(next: (worker: number) => Promise<unknown>, options: LoadOptions): Promise<number> {
  const deadline = options.durationMs === undefined ? Infinity : performance.now() + options.durationMs
  let started = 0
  const more = () => performance.now() < deadline && !options.signal?.aborted && (options.maxRequests === undefined || started < options.maxRequests)
  await Promise.all(
    Array.from({ length: options.concurrency }, async (_, worker) => {
      while (more()) {
        started++
        await next(worker)
      }
    }),
  )
  return started
}

/** Weighted choice: `pick([['read', 5], ['write', 1]])`. */
export function weighted<T>(choices: ReadonlyArray<readonly [T, number]>): () => T {
  const total = choices.reduce((sum, [, w]) => sum + w, 0)
  return () => {
    let r = Math.random() * total
    for (const [value, w] of choices) {
      r -= w
      if (r < 0) return value
    }
    return choices.at(-1)![0]
  }
}

/**
 * Recovery after the fault ended at `t`: among requests sent from `t` on, the time from `t` to
 * the answer of the first request of the unbroken run of successes that lasts to the end
 * (Infinity when the run ends in failure). Requests sent during the fault are the fault's, even
 * when their answer comes later.
 */
export function recoveryAfter(samples: readonly Sample[], t: number): { recoveryMs: number; failedAfter: number } {
  const after = samples.filter((s) => s.at >= t).sort((a, b) => a.at - b.at)
  const ok = (s: Sample) => s.status >= 200 && s.status < 300
  let lastFailure = -1
  after.forEach((s, i) => {
    if (!ok(s)) lastFailure = i
  })
  const first = after[lastFailure + 1]
  return { recoveryMs: first ? Math.max(0, Math.round(first.at + first.ms - t)) : Infinity, failedAfter: after.filter((s) => !ok(s)).length }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
