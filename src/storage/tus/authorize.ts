/**
 * May this caller write `bucket/name` now? storage-api's `canUpload`, run at a resumable upload's
 * creation and again on every PATCH and DELETE: the bucket's rules (read as the service), then
 * the caller's own policies tried in a transaction that is rolled back — INSERT, or with
 * `x-upsert` UPDATE over an existing row — so a refused caller never stores a byte. A signed
 * upload URL's holder writes as the service: only the bucket's rules and a free name (unless
 * the token says upsert) are checked, its policy having admitted the row when the URL was made.
 * @module
 */
import type { RequestTx } from '../../db/session.ts'
import type { Services } from '../../services.ts'
import { inOneStatement, inTransaction, ownerUuid } from '../access.ts'
import { storageErrors } from '../errors.ts'
import { canInsert, findObject } from '../objects.ts'
import { uploadLimit, type UploadWriter } from '../upload.ts'
import type { UploadId } from './upload-id.ts'

export interface UploadIntent {
  id: UploadId
  upsert: boolean
  contentType: string
  /** Upload-Length, when known: refused past the bucket's or the global limit. */
  length: number | undefined
}

/** Whether the caller's UPDATE policy admits rewriting the existing row (the transaction ends in ROLLBACK). */
async function canReplace(tx: RequestTx, rowId: string, ownerId: string | undefined): Promise<void> {
  tx.markRollback()
  const result = await tx.query('UPDATE storage.objects SET owner = $2, owner_id = $3, updated_at = now() WHERE id = $1', [rowId, ownerUuid(ownerId), ownerId ?? null])
  if (result.rowCount === 0) throw storageErrors.rlsViolation()
}

export async function authorizeUpload(services: Services, caller: UploadWriter, intent: UploadIntent): Promise<void> {
  const { bucket, name } = intent.id
  await uploadLimit(services, { bucket, name, upsert: intent.upsert, declaredLength: intent.length }, intent.contentType)
  if ('service' in caller) {
    if (!intent.upsert && (await inOneStatement(services, 'service', (tx) => findObject(tx, bucket, name)))) throw storageErrors.keyAlreadyExists()
    return
  }
  await inTransaction(services, caller, async (tx) => {
    const existing = await findObject(tx, bucket, name)
    if (existing && !intent.upsert) throw storageErrors.keyAlreadyExists()
    if (existing) await canReplace(tx, existing.id, caller.ownerId)
    else await canInsert(tx, bucket, name, caller.ownerId)
  })
}
