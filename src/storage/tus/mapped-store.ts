/**
 * A tus `DataStore` that keeps each upload under a name of its own choosing: the server and our
 * hooks see the upload id (`bucket/name/version`), the store beneath sees `storeId(id)` — a hash
 * for the file store (hostile names never become paths), the S3 key for the S3 store.
 * @module
 */
import type { Readable } from 'node:stream'
import { DataStore, Upload } from '@tus/server'

export class MappedStore<Inner extends DataStore> extends DataStore {
  /**
   * Uploads finished in this process whose state is about to go: the server reads a finished
   * upload once more while it answers, after the bytes have moved to their key.
   */
  private readonly finished = new Map<string, Upload>()

  constructor(
    readonly inner: Inner,
    readonly storeId: (id: string) => string,
  ) {
    super()
    this.extensions = inner.extensions
  }

  override async create(upload: Upload): Promise<Upload> {
    const stored = await this.inner.create(new Upload({ ...upload, id: this.storeId(upload.id) }))
    upload.creation_date = stored.creation_date
    upload.storage = stored.storage
    return upload
  }

  override write(stream: Readable, id: string, offset: number): Promise<number> {
    return this.inner.write(stream, this.storeId(id), offset)
  }

  markFinished(upload: Upload): void {
    this.finished.set(upload.id, new Upload({ ...upload, offset: upload.size ?? upload.offset }))
  }

  unmarkFinished(id: string): void {
    this.finished.delete(id)
  }

  override async getUpload(id: string): Promise<Upload> {
    const finished = this.finished.get(id)
    if (finished) return finished
    const upload = await this.inner.getUpload(this.storeId(id))
    return new Upload({ ...upload, id })
  }

  override remove(id: string): Promise<void> {
    return this.inner.remove(this.storeId(id))
  }

  override declareUploadLength(id: string, length: number): Promise<void> {
    return this.inner.declareUploadLength(this.storeId(id), length)
  }

  override deleteExpired(): Promise<number> {
    return this.inner.deleteExpired()
  }

  override getExpiration(): number {
    return this.inner.getExpiration()
  }
}
