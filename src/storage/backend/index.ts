/**
 * The backend the config names: the local file system (default) or S3.
 * @module
 */
import type { StorageConfig } from '../../config/storage.ts'
import { createFileBackend } from './file.ts'
import { createS3Backend } from './s3.ts'
import type { StorageBackend } from './types.ts'

export function createBackend(config: StorageConfig): StorageBackend {
  if (config.backend === 's3' && config.s3) return createS3Backend(config.s3)
  return createFileBackend(config.dir)
}
