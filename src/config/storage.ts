/**
 * Settings of the Supabase-Storage-compatible `/storage/v1`.
 * @module
 */
import path from 'node:path'
import { integer, text, type Env } from './env.ts'

export interface StorageConfig {
  /** `STORAGE_DIR`: root of the file-system backend; default `<RESOLUTION_DATA_DIR>/storage`. */
  dir: string
  /** `STORAGE_FILE_SIZE_LIMIT`: largest object accepted, bytes (Supabase's global limit, 50 MiB). */
  fileSizeLimit: number
}

export function storageConfig(env: Env, dataDir: string): StorageConfig {
  return {
    dir: path.resolve(text(env, 'STORAGE_DIR') ?? path.join(dataDir, 'storage')),
    fileSizeLimit: integer(env, 'STORAGE_FILE_SIZE_LIMIT', 50 * 1024 * 1024, 1, Number.MAX_SAFE_INTEGER),
  }
}
