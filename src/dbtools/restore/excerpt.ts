/**
 * A statement's first line, whitespace folded and cut to `max` characters: how findings, errors
 * and the summary quote SQL. Its own module so the report and the safety screen share it.
 * @module
 */
export function excerpt(sql: string, max = 100): string {
  const first = sql.slice(0, 1000).trim().split('\n')[0]!.replace(/\s+/g, ' ')
  return first.length > max ? `${first.slice(0, max - 1)}…` : first
}
