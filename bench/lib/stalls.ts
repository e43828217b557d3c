/**
 * BENCH_STALLS=1 in a bench's server child: event-loop delay and GC pauses over the child's life,
 * written to stderr when it exits, so a p99 gap between two servers can be traced to stalls
 * (big-body JSON parsing, major GCs) or ruled out.
 * @module
 */
import { monitorEventLoopDelay, PerformanceObserver, constants } from 'node:perf_hooks'

export function reportStallsOnExit(name: string): void {
  if (!process.env.BENCH_STALLS) return
  const delay = monitorEventLoopDelay({ resolution: 1 })
  delay.enable()
  const gc = new Map<string, { count: number; totalMs: number; maxMs: number }>()
  const kinds: Record<number, string> = {
    [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
    [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
    [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
    [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
  }
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = kinds[(entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind ?? -1] ?? 'other'
      const s = gc.get(kind) ?? { count: 0, totalMs: 0, maxMs: 0 }
      s.count++
      s.totalMs += entry.duration
      s.maxMs = Math.max(s.maxMs, entry.duration)
      gc.set(kind, s)
    }
  }).observe({ entryTypes: ['gc'] })
  process.on('exit', () => {
    const ms = (ns: number) => Math.round(ns / 1e4) / 100
    const gcLine = [...gc].map(([k, s]) => `${k} ${s.count}× max ${Math.round(s.maxMs * 100) / 100} ms total ${Math.round(s.totalMs)} ms`).join(', ')
    process.stderr.write(`[stalls] ${name}: event-loop delay p50 ${ms(delay.percentile(50))} p99 ${ms(delay.percentile(99))} max ${ms(delay.max)} ms; gc ${gcLine}\n`)
  })
}
