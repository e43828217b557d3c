/**
 * The sweep: removes stored bytes no `storage.objects` row points at — left when a COMMIT failed
 * after the bytes were placed, when removing a replaced version failed, or by a process killed
 * mid-upload (file staging). Only items older than a grace period go, so uploads in flight (bytes
 * placed, row not yet committed) are never touched. Rows are read as the connecting role (all of them).
 * @module
 */
import type { Queryable } from '../db/types.ts'
import { objectKey, type StorageBackend } from './backend/types.ts'

export interface SweepReport {
  stored: number
  orphans: number
  removed: number
}

export async function sweepOrphans(database: Queryable, backend: StorageBackend, options: { olderThanMs: number; dryRun?: boolean; now?: number }): Promise<SweepReport> {
  const rows = await database.query<{ bucket_id: string; name: string; version: string | null }>('SELECT bucket_id, name, version FROM storage.objects')
  const live = new Set(rows.rows.map((row) => backend.locate(objectKey(row.bucket_id, row.name, row.version ?? ''))))
  const cutoff = (options.now ?? Date.now()) - options.olderThanMs
  const orphans: string[] = []
  let stored = 0
  for await (const item of backend.listStored()) {
    stored++
    if (!live.has(item.location) && item.lastModified.getTime() < cutoff) orphans.push(item.location)
  }
  if (!options.dryRun) await backend.removeStored(orphans)
  return { stored, orphans: orphans.length, removed: options.dryRun ? 0 : orphans.length }
}
