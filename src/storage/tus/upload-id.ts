/**
 * A resumable upload's id is the backend key its bytes end at, `<bucket>/<name>/<version>`
 * (storage-api's `bucket/object/version`); its URL carries it as base64url, one path segment.
 * @module
 */
import { objectKey } from '../backend/types.ts'
import { storageErrors } from '../errors.ts'
import { checkBucketName, checkObjectName } from '../names.ts'

export interface UploadId {
  bucket: string
  name: string
  version: string
}

const VERSION = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

export function uploadIdString(id: UploadId): string {
  return objectKey(id.bucket, id.name, id.version)
}

/** Bucket before the first `/`, version after the last; refuses ids this server never made. */
export function parseUploadId(id: string): UploadId {
  const first = id.indexOf('/')
  const last = id.lastIndexOf('/')
  const version = id.slice(last + 1)
  if (first <= 0 || last <= first + 1 || !VERSION.test(version)) throw storageErrors.invalidRequest('Invalid upload id')
  return { bucket: checkBucketName(id.slice(0, first)), name: checkObjectName(id.slice(first + 1, last)), version }
}

export function urlSegmentOf(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64url')
}

/** The id in a URL's last segment, or undefined when it is not one. */
export function idOfUrlSegment(segment: string): string | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(segment)) return undefined
  return Buffer.from(segment, 'base64url').toString('utf8')
}
