/**
 * Response pieces PostgREST clients read: `Content-Range`, the status that goes with it (200,
 * 206, 416) and media types. CSV is written in SQL (query/read-query.ts).
 * @module
 */
import { invalidRange } from './errors.ts'

export const JSON_TYPE = 'application/json; charset=utf-8'
export const OBJECT_TYPE = 'application/vnd.pgrst.object+json; charset=utf-8'
export const CSV_TYPE = 'text/csv; charset=utf-8'
export const GEOJSON_MEDIA = 'application/geo+json'
export const GEOJSON_TYPE = `${GEOJSON_MEDIA}; charset=utf-8`

/** `0-4/5`, `*\/0`, `0-4/*` … */
export function contentRange(offset: number, rows: number, total: number | undefined): string {
  const totalText = total === undefined ? '*' : String(total)
  if (rows === 0) return `*/${totalText}`
  return `${offset}-${offset + rows - 1}/${totalText}`
}

/** 200, 206 (a known total larger than what was returned) or 416 (offset past the total). */
export function rangeStatus(offset: number, rows: number, total: number | undefined): number {
  if (total === undefined) return 200
  if (offset > total) throw invalidRange(`An offset of ${offset} was requested, but there are only ${total} rows.`)
  return rows < total ? 206 : 200
}
