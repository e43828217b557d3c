/**
 * `ban_duration` as GoTrue reads it: a Go duration (`"24h"`, `"1h30m"`, `"90s"`, `"876000h"`) or
 * `"none"` to lift a ban.
 * @module
 */
import { validationFailed } from './errors.ts'

const UNIT_SECONDS: Record<string, number> = { ns: 1e-9, us: 1e-6, 'µs': 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 }

/** Seconds of the ban, or `null` for `"none"` (unban). Throws 400 on anything else. */
export function parseBanDuration(raw: string): number | null {
  const value = raw.trim()
  if (value === 'none') return null
  const invalid = () => validationFailed('invalid format for ban duration: ' + JSON.stringify(raw))
  if (!/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(value)) throw invalid()
  let seconds = 0
  for (const part of value.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) seconds += Number(part[1]) * UNIT_SECONDS[part[2]!]!
  if (!Number.isFinite(seconds) || seconds > 1e11) throw invalid()
  return seconds
}
