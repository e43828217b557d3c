/**
 * The backend the config names: the local file system (default) or S3. The S3 backend loads the
 * AWS SDK on its first use, not at start-up: most processes never need it, and on Lambda the
 * SDK sits in a chunk of its own beside the handler's bundle.
 * @module
 */
import type { StorageConfig } from '../../config/storage.ts'
import { createFileBackend } from './file.ts'
import type { S3BackendOptions } from './s3.ts'
import { s3Key, storageKeyOfS3 } from './s3-keys.ts'
import type { StorageBackend, StoredItem } from './types.ts'

export function createBackend(config: StorageConfig): StorageBackend {
  if (config.backend === 's3' && config.s3) return lazyS3Backend(config.s3)
  return createFileBackend(config.dir)
}

function lazyS3Backend(options: S3BackendOptions): StorageBackend {
  let loading: Promise<StorageBackend> | undefined
  const s3 = () => (loading ??= import('./s3.ts').then((module) => module.createS3Backend(options)))
  return {
    kind: 's3',
    stage: async (key, body, limits) => (await s3()).stage(key, body, limits),
    read: async (key, range) => (await s3()).read(key, range),
    stat: async (key) => (await s3()).stat(key),
    remove: async (keys) => (await s3()).remove(keys),
    copy: async (fromKey, toKey) => (await s3()).copy(fromKey, toKey),
    locate: s3Key,
    keyAt: storageKeyOfS3,
    removeStored: async (locations) => (await s3()).removeStored(locations),
    async *listStored(): AsyncIterable<StoredItem> {
      yield* (await s3()).listStored()
    },
  }
}
