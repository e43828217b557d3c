/**
 * Which bucket names and object names are accepted. storage-api's S3-safe character set, plus
 * Unicode letters, marks and digits (Supabase refuses those; accepting more keeps every Supabase
 * key valid here). Control characters (NUL included) and backslashes never pass. `..` segments
 * are legal names, as in S3: the backends map names so that none can leave their root.
 * @module
 */
import { storageErrors } from './errors.ts'

const OBJECT_NAME = /^[\p{L}\p{M}\p{N}_/!.*'() &$=@;:+,?-]+$/u
const BUCKET_NAME = /^[\p{L}\p{M}\p{N}_!.*'() &$=@;:+,?-]+$/u
/** S3's key limit, in UTF-8 bytes. */
export const MAX_NAME_BYTES = 1024
const MAX_BUCKET_NAME_LENGTH = 100

export function checkBucketName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0) throw storageErrors.invalidBucketName('a bucket needs a name')
  if (name.length > MAX_BUCKET_NAME_LENGTH) throw storageErrors.invalidBucketName(`longer than ${MAX_BUCKET_NAME_LENGTH} characters`)
  if (!BUCKET_NAME.test(name)) throw storageErrors.invalidBucketName('only letters, digits, spaces and _!.*\'()&$=@;:+,?- are allowed')
  return name
}

export function checkObjectName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0) throw storageErrors.invalidKey('', 'empty')
  if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) throw storageErrors.invalidKey(name, `longer than ${MAX_NAME_BYTES} bytes`)
  if (!OBJECT_NAME.test(name)) throw storageErrors.invalidKey(name, 'only letters, digits, spaces, / and _!.*\'()&$=@;:+,?- are allowed')
  return name
}

/** The path after `/<prefix>/`: percent-decoded (storage-js sends it raw; fetch escapes it). */
export function decodePath(raw: string): string {
  try {
    return decodeURIComponent(raw)
  } catch {
    throw storageErrors.invalidKey(raw, 'bad percent-encoding')
  }
}

/** `bucket/name` of a request path (everything after the first `/` is the object name). */
export function splitObjectPath(path: string): { bucket: string; name: string } {
  const decoded = decodePath(path)
  const slash = decoded.indexOf('/')
  if (slash <= 0) throw storageErrors.invalidKey(decoded, 'the path must be <bucket>/<object name>')
  return { bucket: checkBucketName(decoded.slice(0, slash)), name: checkObjectName(decoded.slice(slash + 1)) }
}
