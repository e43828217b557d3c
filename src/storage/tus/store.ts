/**
 * Where a resumable upload's bytes and state live until it is finished, per backend (file or S3),
 * and how its finished bytes become a `StagedObject` that `writeUploadedObject` commits with the row.
 * @module
 */
import type { DataStore, Upload } from '@tus/server'
import type { StorageConfig } from '../../config/storage.ts'
import type { StagedObject } from '../backend/types.ts'
import type { MappedStore } from './mapped-store.ts'

export interface TusStore {
  datastore: MappedStore<DataStore>
  /** The bytes of a finished upload, already at (S3) or one rename from (file) their versioned key. */
  staged(upload: Upload): Promise<StagedObject>
  /** Drops the state of a finished upload once its row is written (the bytes stay). */
  forget(id: string): Promise<void>
}

/** Unfinished uploads expire an hour after creation, storage-api's default (TUS_URL_EXPIRY_MS). */
export const TUS_EXPIRATION_MS = 60 * 60 * 1000

export async function createTusStore(config: StorageConfig, kind: 'file' | 's3'): Promise<TusStore> {
  if (kind === 's3' && config.s3) {
    const { s3TusStore } = await import('./s3-store.ts')
    return s3TusStore(config.s3, TUS_EXPIRATION_MS)
  }
  const { fileTusStore } = await import('./file-store.ts')
  return fileTusStore(config.dir, TUS_EXPIRATION_MS)
}
