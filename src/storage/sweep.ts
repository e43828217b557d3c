/**
 * The sweep: removes stored bytes no `storage.objects` row points at — left when a COMMIT failed
 * after the bytes were placed, when removing a replaced version failed, or by a process killed
 * mid-upload (file staging). Only items older than a grace period go, so uploads in flight (bytes
 * placed, row not yet committed) are never touched. Rows are read as the connecting role (all of them).
 *
 * It works in batches, so a bucket of 100k objects is neither held in memory nor one query per
 * key: stored items stream from the backend; every `batchSize` old ones are checked against the
 * rows with one query (their keys read back from their locations) and the orphans among them
 * removed with one backend call. Only the few rows whose location cannot be read back (names so
 * long the backend hashed them) are collected up front.
 * @module
 */
import type { Queryable } from '../db/types.ts'
import { objectKey, type StorageBackend, type StoredItem } from './backend/types.ts'

export interface SweepReport {
  stored: number
  orphans: number
  removed: number
}

export interface SweepOptions {
  olderThanMs: number
  dryRun?: boolean
  now?: number
  /** Stored items checked (and orphans removed) per round; default 1000. */
  batchSize?: number
}

const BATCH = 1000
/** No segment of a name this short can reach a backend's hashing length (file: 240 escaped bytes, S3: 1024). */
const SHORT_NAME_BYTES = 80

export async function sweepOrphans(database: Queryable, backend: StorageBackend, options: SweepOptions): Promise<SweepReport> {
  const batchSize = Math.max(1, options.batchSize ?? BATCH)
  const cutoff = (options.now ?? Date.now()) - options.olderThanMs
  const hashedLive = await hashedLocations(database, backend, batchSize)
  const report: SweepReport = { stored: 0, orphans: 0, removed: 0 }
  let batch: StoredItem[] = []
  const settle = async () => {
    const orphans = await orphansAmong(database, backend, batch, hashedLive)
    batch = []
    report.orphans += orphans.length
    if (options.dryRun || orphans.length === 0) return
    await backend.removeStored(orphans)
    report.removed += orphans.length
  }
  for await (const item of backend.listStored()) {
    report.stored++
    if (item.lastModified.getTime() >= cutoff) continue
    batch.push(item)
    if (batch.length >= batchSize) await settle()
  }
  await settle()
  return report
}

/** Locations of live rows that `keyAt` cannot read back (hashed long names), read in keyset pages. */
async function hashedLocations(database: Queryable, backend: StorageBackend, pageSize: number): Promise<Set<string>> {
  const found = new Set<string>()
  let after = { bucket: '', name: '' }
  for (;;) {
    const page = await database.query<{ bucket_id: string; name: string; version: string | null }>(
      `SELECT bucket_id, name, version FROM storage.objects
       WHERE octet_length(name) > $1 AND (bucket_id, name) > ($2, $3) ORDER BY bucket_id, name LIMIT $4`,
      [SHORT_NAME_BYTES, after.bucket, after.name, pageSize],
    )
    for (const row of page.rows) {
      const location = backend.locate(objectKey(row.bucket_id, row.name, row.version ?? ''))
      if (backend.keyAt(location) === undefined) found.add(location)
    }
    if (page.rows.length < pageSize) return found
    const last = page.rows[page.rows.length - 1]!
    after = { bucket: last.bucket_id, name: last.name }
  }
}

/** The locations among `items` no row points at: one query for the lot. */
async function orphansAmong(database: Queryable, backend: StorageBackend, items: readonly StoredItem[], hashedLive: ReadonlySet<string>): Promise<string[]> {
  if (items.length === 0) return []
  const keyed = new Map<string, string>()
  const orphans: string[] = []
  for (const item of items) {
    const key = backend.keyAt(item.location)
    if (key !== undefined) keyed.set(key, item.location)
    else if (!hashedLive.has(item.location)) orphans.push(item.location)
  }
  if (keyed.size === 0) return orphans
  const columns: [string[], string[], string[]] = [[], [], []]
  for (const key of keyed.keys()) {
    const first = key.indexOf('/')
    const last = key.lastIndexOf('/')
    columns[0].push(key.slice(0, first))
    columns[1].push(key.slice(first + 1, last))
    columns[2].push(key.slice(last + 1))
  }
  const live = await database.query<{ bucket_id: string; name: string; version: string }>(
    `SELECT o.bucket_id, o.name, coalesce(o.version, '') AS version
     FROM storage.objects o JOIN unnest($1::text[], $2::text[], $3::text[]) AS k(bucket_id, name, version)
       ON o.bucket_id = k.bucket_id AND o.name = k.name AND coalesce(o.version, '') = k.version`,
    columns,
  )
  for (const row of live.rows) keyed.delete(objectKey(row.bucket_id, row.name, row.version))
  return [...orphans, ...keyed.values()]
}
