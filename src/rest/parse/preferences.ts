/**
 * The `Prefer` header(s): a comma-separated list of `name=value`, merged across repeated
 * headers. Unknown or malformed entries are collected for `handling=strict`.
 * @module
 */
import type { Preferences } from './types.ts'

const ENUMS = {
  return: ['minimal', 'representation', 'headers-only'],
  count: ['exact', 'planned', 'estimated'],
  resolution: ['merge-duplicates', 'ignore-duplicates'],
  missing: ['default', 'null'],
  handling: ['lenient', 'strict'],
  tx: ['commit', 'rollback'],
  params: ['single-object'],
} as const

export function parsePreferences(headers: string[]): Preferences {
  const prefs: Preferences = { invalid: [] }
  for (const entry of headers.flatMap((h) => h.split(',')).map((s) => s.trim()).filter(Boolean)) {
    const eq = entry.indexOf('=')
    const name = (eq === -1 ? entry : entry.slice(0, eq)).trim().toLowerCase()
    const value = eq === -1 ? '' : entry.slice(eq + 1).trim()
    if (name in ENUMS && (ENUMS[name as keyof typeof ENUMS] as readonly string[]).includes(value)) {
      ;(prefs as unknown as Record<string, string>)[name] = value
    } else if (name === 'max-affected' && /^\d+$/.test(value) && value.length < 16) {
      prefs.maxAffected = Number(value)
    } else if (name === 'timezone' && /^[A-Za-z0-9_+\-/]{1,64}$/.test(value)) {
      prefs.timezone = value
    } else {
      prefs.invalid.push(entry)
    }
  }
  return prefs
}

/** The `Preference-Applied` value for the preferences that were honoured. */
export function appliedPreferences(prefs: Preferences, honoured: Array<keyof Preferences>): string | undefined {
  const parts: string[] = []
  for (const key of honoured) {
    const value = prefs[key]
    if (value === undefined || key === 'invalid') continue
    parts.push(key === 'maxAffected' ? `max-affected=${value}` : `${key}=${value}`)
  }
  return parts.length ? parts.join(', ') : undefined
}
