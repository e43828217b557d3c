/**
 * Resumable uploads on the file backend: @tus/file-store keeps each upload's bytes and state in
 * `<STORAGE_DIR>/.tus/<sha256 of the id>` (+ `.json`) — `.tus` is a name the backend's escaping
 * never makes (a leading `.` is always escaped). When the upload is finished its file is renamed
 * to the object's versioned key (the same rename a normal upload's commit does): no copy.
 * @module
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { FileStore } from '@tus/file-store'
import type { Upload } from '@tus/server'
import { placeFile } from '../backend/file.ts'
import type { StagedObject } from '../backend/types.ts'
import { MappedStore } from './mapped-store.ts'
import type { TusStore } from './store.ts'

export const TUS_DIR = '.tus'

function sha256(id: string): string {
  return createHash('sha256').update(id).digest('hex')
}

async function md5Of(file: string): Promise<string> {
  const hash = createHash('md5')
  await pipeline(createReadStream(file, { highWaterMark: 1024 * 1024 }), hash)
  return hash.digest('hex')
}

export async function fileTusStore(root: string, expirationMs: number): Promise<TusStore> {
  const directory = path.join(path.resolve(root), TUS_DIR)
  // FileStore makes its folder without waiting (and throws outside any promise on failure): make it first.
  await fs.mkdir(directory, { recursive: true })
  const inner = new FileStore({ directory, expirationPeriodInMilliseconds: expirationMs })
  const datastore = new MappedStore(inner, sha256)

  return {
    datastore,
    async staged(upload: Upload): Promise<StagedObject> {
      const file = path.join(directory, sha256(upload.id))
      const size = (await fs.stat(file)).size
      const etag = await md5Of(file)
      let settled = false
      return {
        size,
        etag,
        async commit() {
          settled = true
          await placeFile(root, file, upload.id)
        },
        async discard() {
          if (settled) return
          settled = true
          await fs.rm(file, { force: true })
        },
      }
    },
    async forget(id: string) {
      await inner.configstore.delete(sha256(id))
      await fs.rm(path.join(directory, sha256(id)), { force: true })
    },
  }
}
