/**
 * The backend the config names. Only the file system for now; S3 joins here.
 * @module
 */
import type { StorageConfig } from '../../config/storage.ts'
import { createFileBackend } from './file.ts'
import type { StorageBackend } from './types.ts'

export function createBackend(config: StorageConfig): StorageBackend {
  return createFileBackend(config.dir)
}
