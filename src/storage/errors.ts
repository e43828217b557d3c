/**
 * Storage's error catalogue, in storage-api's shape: the body carries the status as a string
 * (`{"statusCode":"404","code":"NoSuchKey","error":"not_found","message":"Object not found"}`)
 * and, as storage-api answers, the HTTP status is 400 for every refusal (500 for failures) unless
 * the error says otherwise (403 for a token that may not act at all). storage-js reads the body.
 * @module
 */
import { HttpError } from '../errors.ts'

/** storage-api's codes and the `statusCode` its body reports for each. */
export const StorageErrorStatus = {
  NoSuchBucket: 404,
  NoSuchKey: 404,
  InvalidJWT: 400,
  InvalidRequest: 400,
  InvalidParameter: 400,
  MissingParameter: 400,
  InvalidBucketName: 400,
  InvalidKey: 400,
  InvalidRange: 416,
  InvalidMimeType: 415,
  InvalidSignature: 400,
  ExpiredToken: 400,
  EntityTooLarge: 413,
  AccessDenied: 403,
  KeyAlreadyExists: 409,
  BucketAlreadyExists: 409,
  ResourceNotEmpty: 409,
  DatabaseTimeout: 544,
  InternalError: 500,
  NotSupported: 501,
} as const

export type StorageErrorCode = keyof typeof StorageErrorStatus

declare module '../errors.ts' {
  interface ErrorCatalogues {
    storage: StorageErrorCode
  }
}

export class StorageError extends HttpError {
  constructor(code: StorageErrorCode, message: string, options: { error?: string; httpStatus?: number; cause?: unknown } = {}) {
    const statusCode = StorageErrorStatus[code]
    const httpStatus = options.httpStatus ?? (statusCode >= 500 ? statusCode : 400)
    super(httpStatus, code, message, { body: { statusCode: String(statusCode), code, error: options.error ?? code, message }, cause: options.cause })
    this.name = 'StorageError'
  }
}

/** The refusals storage-api sends, with its exact messages (storage-js tests compare them). */
export const storageErrors = {
  noSuchBucket: () => new StorageError('NoSuchBucket', 'Bucket not found', { error: 'Bucket not found' }),
  noSuchKey: () => new StorageError('NoSuchKey', 'Object not found', { error: 'not_found' }),
  invalidBucketName: (detail?: string) => new StorageError('InvalidBucketName', detail ? `Bucket name invalid: ${detail}` : 'Bucket name invalid', { error: 'Invalid Input' }),
  invalidKey: (key: string, why: string) => new StorageError('InvalidKey', `Invalid key: ${JSON.stringify(key.slice(0, 200))} (${why})`),
  invalidRequest: (message: string) => new StorageError('InvalidRequest', message),
  missingParameter: (name: string) => new StorageError('MissingParameter', `Missing Required Parameter ${name}`),
  invalidParameter: (name: string, message?: string) => new StorageError('InvalidParameter', message ?? `Invalid Parameter ${name}`),
  entityTooLarge: () => new StorageError('EntityTooLarge', 'The object exceeded the maximum allowed size', { error: 'Payload too large' }),
  invalidMimeType: (mimeType: string) => new StorageError('InvalidMimeType', `mime type ${mimeType} is not supported`, { error: 'invalid_mime_type' }),
  invalidRange: () => new StorageError('InvalidRange', 'invalid range provided', { error: 'invalid_range', httpStatus: 416 }),
  keyAlreadyExists: () => new StorageError('KeyAlreadyExists', 'The resource already exists', { error: 'Duplicate' }),
  bucketAlreadyExists: () => new StorageError('BucketAlreadyExists', 'The resource already exists', { error: 'Duplicate' }),
  bucketNotEmpty: () => new StorageError('ResourceNotEmpty', 'The bucket you tried to delete is not empty'),
  /** Row-level security refused the row (SQLSTATE 42501), as storage-api words it. */
  rlsViolation: (cause?: unknown) => new StorageError('AccessDenied', 'new row violates row-level security policy', { error: 'Unauthorized', cause }),
  accessDenied: (message: string) => new StorageError('AccessDenied', message, { error: 'Unauthorized', httpStatus: 403 }),
  invalidJwt: (message: string) => new StorageError('InvalidJWT', message || 'Invalid JWT'),
  invalidSignature: (message = 'Invalid signature') => new StorageError('InvalidSignature', message),
  expiredToken: () => new StorageError('ExpiredToken', 'The provided token has expired.'),
  databaseTimeout: (cause?: unknown) => new StorageError('DatabaseTimeout', 'The connection to the database timed out', { cause }),
  notSupported: (feature: string) => new StorageError('NotSupported', `${feature} is not supported by this server`, { httpStatus: 501 }),
  /** A feature this deployment cannot offer, with why. */
  notSupportedHere: (message: string, cause?: unknown) => new StorageError('NotSupported', message, { httpStatus: 501, cause }),
}
