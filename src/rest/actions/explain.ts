/**
 * `Accept: application/vnd.pgrst.plan+json|+text` (PostgREST's execution plan media type, on
 * when `DB_PLAN_ENABLED`): the request's own statement under EXPLAIN, with the options asked
 * for (analyze, verbose, settings, buffers, wal), in JSON or text.
 * @module
 */
import type { RequestTx } from '../../db/session.ts'
import type { Explain, MediaType } from '../parse/types.ts'
import type { RestResult } from './result.ts'

const FOR: Record<MediaType['kind'], string> = {
  json: 'application/json',
  object: 'application/vnd.pgrst.object+json',
  array: 'application/vnd.pgrst.array+json',
  csv: 'text/csv',
  geojson: 'application/geo+json',
  openapi: 'application/openapi+json',
}

/** `application/vnd.pgrst.plan+json; for="application/json"`, as PostgREST labels the answer. */
export function explainMediaType(explain: Explain, media: MediaType): string {
  return `application/vnd.pgrst.plan+${explain.format}; for="${FOR[media.kind]}"`
}

export async function explainStatement(tx: RequestTx, sql: string, params: unknown[], explain: Explain, media: MediaType): Promise<RestResult> {
  // Option names come from a closed list (parse/media.ts), never from the request text.
  const options = [`FORMAT ${explain.format === 'json' ? 'JSON' : 'TEXT'}`, ...explain.options.map((o) => o.toUpperCase())]
  const { rows } = await tx.query<Record<string, unknown>>(`EXPLAIN (${options.join(', ')}) ${sql}`, params)
  const lines = rows.map((row) => Object.values(row)[0])
  const body = explain.format === 'json' ? (typeof lines[0] === 'string' ? lines[0] : JSON.stringify(lines[0])) : lines.join('\n')
  return { status: 200, headers: { 'Content-Type': `${explainMediaType(explain, media)}; charset=utf-8` }, body }
}
