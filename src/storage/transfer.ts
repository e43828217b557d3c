/**
 * `storage import` / `storage export`: for every `storage.objects` row (the ones `db restore`
 * kept), copy its bytes from a source to a target. Resumable: an object already at the target
 * with the row's size is skipped, so a second run only does what the first did not finish.
 * Rows are never changed — the bytes follow the rows, not the other way round. Rows are read as
 * the connecting role (all of them), like the sweep.
 * @module
 */
import type { Queryable } from '../db/types.ts'
import { UnportableName, type TransferItem, type TransferSource, type TransferTarget } from './transfer-ends.ts'

export interface TransferSummary {
  total: number
  copied: number
  skipped: number
  /** Rows whose bytes the source does not have. */
  missing: number
  failed: number
  /** The first few failures and missing objects, `bucket/name: why`. */
  problems: string[]
}

export interface TransferOptions {
  /** Only these buckets (all when empty). */
  buckets?: readonly string[]
  /** Objects copied at once. */
  concurrency?: number
  onProgress?: (summary: Readonly<TransferSummary>) => void
}

const MAX_PROBLEMS = 20

export async function listTransferItems(database: Queryable, buckets: readonly string[] = []): Promise<TransferItem[]> {
  const result = await database.query<{ bucket_id: string; name: string; version: string | null; size: string | null }>(
    `SELECT bucket_id, name, version, metadata->>'size' AS size FROM storage.objects
     WHERE cardinality($1::text[]) = 0 OR bucket_id = ANY($1::text[])
     ORDER BY bucket_id COLLATE "C", name COLLATE "C"`,
    [buckets],
  )
  return result.rows.map((row) => {
    const size = row.size === null ? NaN : Number(row.size)
    return { bucket: row.bucket_id, name: row.name, version: row.version, size: Number.isSafeInteger(size) && size >= 0 ? size : null }
  })
}

type Outcome = 'copied' | 'skipped' | 'missing'

async function transferOne(item: TransferItem, source: TransferSource, target: TransferTarget): Promise<Outcome> {
  const present = await target.size(item)
  // A row without a size cannot be checked: what is there is taken as done.
  if (present !== undefined && (item.size === null || present === item.size)) return 'skipped'
  const body = await source.open(item)
  if (!body) return 'missing'
  await target.write(item, body)
  // A source that differs from the row is reported, not hidden: a rerun would copy it again.
  const written = await target.size(item)
  if (item.size !== null && written !== item.size) throw new Error(`copied ${written ?? 'no'} bytes, the row says ${item.size}`)
  return 'copied'
}

export async function transferObjects(database: Queryable, source: TransferSource, target: TransferTarget, options: TransferOptions = {}): Promise<TransferSummary> {
  const items = await listTransferItems(database, options.buckets)
  const summary: TransferSummary = { total: items.length, copied: 0, skipped: 0, missing: 0, failed: 0, problems: [] }
  const note = (item: TransferItem, why: string) => {
    if (summary.problems.length < MAX_PROBLEMS) summary.problems.push(`${item.bucket}/${item.name}: ${why}`)
  }
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!
      try {
        const outcome = await transferOne(item, source, target)
        summary[outcome]++
        if (outcome === 'missing') note(item, 'not in the source')
      } catch (error) {
        summary.failed++
        note(item, error instanceof UnportableName ? 'not a portable file path' : error instanceof Error ? error.message : String(error))
      }
      options.onProgress?.(summary)
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 4) }, worker))
  summary.problems.sort() // in name order, whichever worker met them first
  return summary
}
