/**
 * Timestamps as GoTrue sends them: RFC 3339 in UTC with the fraction PostgreSQL stored
 * (`2026-01-01T12:00:00.123456Z`). Both drivers hand timestamps over as text in the session's
 * time zone; this converts without losing microseconds.
 * @module
 */

const PG_TIMESTAMP = /^(\d{4,})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(\.\d+)?(?:([+-])(\d{2})(?::?(\d{2}))?(?::?(\d{2}))?|Z)?$/

/** PostgreSQL timestamptz text → RFC 3339 UTC; anything unparseable (`infinity`) is returned as is. */
export function rfc3339(value: string | null | undefined): string | undefined {
  if (value === null || value === undefined) return undefined
  const m = PG_TIMESTAMP.exec(value)
  if (!m) return value
  const [, y, mo, d, h, mi, s, frac = '', sign, oh = '0', om = '0', os = '0'] = m
  let ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s))
  if (sign) {
    const offset = (Number(oh) * 3600 + Number(om) * 60 + Number(os)) * 1000
    ms += sign === '+' ? -offset : offset
  }
  const iso = new Date(ms).toISOString().slice(0, 19) // whole seconds, UTC
  return `${iso}${frac}Z`
}

/** Seconds since the epoch of a timestamptz text (for `amr` timestamps, expiry checks). */
export function unixSeconds(value: string): number {
  const iso = rfc3339(value)
  const ms = iso ? Date.parse(iso) : NaN
  return Number.isNaN(ms) ? 0 : Math.floor(ms / 1000)
}

export const nowSeconds = (): number => Math.floor(Date.now() / 1000)
