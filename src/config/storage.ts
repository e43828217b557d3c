/**
 * Settings of the Supabase-Storage-compatible `/storage/v1`.
 * @module
 */
import path from 'node:path'
import { boolean, choice, fail, integer, text, type Env } from './env.ts'

export interface S3Settings {
  /** `STORAGE_S3_BUCKET`: the S3 bucket every storage bucket's objects go into. */
  bucket: string
  /** `STORAGE_S3_REGION` (else `AWS_REGION`'s usual place: the SDK's chain), default us-east-1. */
  region: string
  /** `STORAGE_S3_ENDPOINT`: an S3-compatible endpoint (MinIO, Supabase Storage's S3, a test server). */
  endpoint: string | undefined
  /** `STORAGE_S3_FORCE_PATH_STYLE`: `endpoint/bucket/key` URLs, which most S3-compatible servers want. */
  forcePathStyle: boolean
}

export interface StorageConfig {
  /** `STORAGE_BACKEND`: where object bytes live, `file` (default) or `s3`. */
  backend: 'file' | 's3'
  /** Set when `backend` is `s3`. */
  s3: S3Settings | undefined
  /** `STORAGE_DIR`: root of the file-system backend; default `<RESOLUTION_DATA_DIR>/storage`. */
  dir: string
  /** `STORAGE_FILE_SIZE_LIMIT`: largest object accepted, bytes (Supabase's global limit, 50 MiB). */
  fileSizeLimit: number
  /** `STORAGE_IMAGE_TRANSFORMATION`: serve `/render/image/…` (needs sharp, so the container, not Lambda). */
  imageTransformation: boolean
}

function s3Settings(env: Env): S3Settings {
  const bucket = text(env, 'STORAGE_S3_BUCKET')
  if (!bucket) fail('STORAGE_S3_BUCKET', 'is required when STORAGE_BACKEND=s3')
  const endpoint = text(env, 'STORAGE_S3_ENDPOINT')
  if (endpoint !== undefined && !/^https?:\/\/[^\s]+$/.test(endpoint)) fail('STORAGE_S3_ENDPOINT', 'must be an http(s) URL')
  return { bucket, region: text(env, 'STORAGE_S3_REGION') ?? 'us-east-1', endpoint, forcePathStyle: boolean(env, 'STORAGE_S3_FORCE_PATH_STYLE', endpoint !== undefined) }
}

export function storageConfig(env: Env, dataDir: string): StorageConfig {
  const backend = choice(env, 'STORAGE_BACKEND', ['file', 's3'] as const, 'file')
  return {
    backend,
    s3: backend === 's3' ? s3Settings(env) : undefined,
    dir: path.resolve(text(env, 'STORAGE_DIR') ?? path.join(dataDir, 'storage')),
    fileSizeLimit: integer(env, 'STORAGE_FILE_SIZE_LIMIT', 50 * 1024 * 1024, 1, Number.MAX_SAFE_INTEGER),
    imageTransformation: boolean(env, 'STORAGE_IMAGE_TRANSFORMATION', true),
  }
}
