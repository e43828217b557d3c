/**
 * Checks what callers hand the vault (HTTP bodies, CLI arguments, app code) before any SQL runs,
 * so bad input is a 400 with `vault_invalid_request`, never a database error.
 * @module
 */
import { VaultError } from './errors.ts'

export const MAX_NAME_LENGTH = 1024
export const MAX_DESCRIPTION_LENGTH = 8192
/** Vault has no limit; this one keeps a single secret well inside a request body and a row. */
export const MAX_SECRET_BYTES = 1024 * 1024

export interface CreateSecretInput {
  name?: string | null
  secret: string
  description?: string
}

export interface UpdateSecretInput {
  name?: string
  secret?: string
  description?: string
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export function isUuid(value: string): boolean {
  return UUID.test(value)
}

function invalid(message: string): VaultError {
  return new VaultError('vault_invalid_request', message)
}

/** Text PostgreSQL can store and UTF-8 can carry unchanged: no NUL, no lone surrogate. */
export function checkText(field: string, value: unknown, options: { maxLength: number; allowEmpty: boolean }): string {
  if (typeof value !== 'string') throw invalid(`"${field}" must be a string`)
  if (!options.allowEmpty && value.length === 0) throw invalid(`"${field}" must not be empty`)
  if (value.includes('\u0000')) throw invalid(`"${field}" must not contain NUL characters`)
  if (LONE_SURROGATE.test(value)) throw invalid(`"${field}" must be valid Unicode (it holds a lone surrogate)`)
  const size = field === 'secret' ? Buffer.byteLength(value, 'utf8') : value.length
  if (size > options.maxLength) throw invalid(`"${field}" is too long (at most ${options.maxLength} ${field === 'secret' ? 'bytes' : 'characters'})`)
  return value
}

export function checkName(value: unknown): string {
  const name = checkText('name', value, { maxLength: MAX_NAME_LENGTH, allowEmpty: false })
  if (name.trim() !== name) throw invalid('"name" must not start or end with whitespace')
  return name
}

/** An empty secret is refused: Vault's decrypt rejects ciphertexts of 32 bytes or fewer. */
export function checkSecret(value: unknown): string {
  return checkText('secret', value, { maxLength: MAX_SECRET_BYTES, allowEmpty: false })
}

export function checkDescription(value: unknown): string {
  return checkText('description', value, { maxLength: MAX_DESCRIPTION_LENGTH, allowEmpty: true })
}

/** An id or a name in a path (`/secrets/{id or name}`, `vault get <id|name>`). */
export function checkReference(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) throw invalid('a secret id or name is required')
  return checkText('id or name', value, { maxLength: MAX_NAME_LENGTH, allowEmpty: false })
}

function asObject(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('the body must be a JSON object')
  return body as Record<string, unknown>
}

function rejectUnknown(body: Record<string, unknown>, allowed: readonly string[]): void {
  const unknown = Object.keys(body).filter((key) => !allowed.includes(key))
  if (unknown.length) throw invalid(`unknown field${unknown.length > 1 ? 's' : ''}: ${unknown.map((k) => JSON.stringify(k)).join(', ')} (allowed: ${allowed.join(', ')})`)
}

/** `{name, secret, description?}` for `POST /secrets`. */
export function parseCreateBody(body: unknown): CreateSecretInput & { name: string } {
  const object = asObject(body)
  rejectUnknown(object, ['name', 'secret', 'description'])
  if (object.name === undefined || object.name === null) throw invalid('"name" is required')
  if (object.secret === undefined || object.secret === null) throw invalid('"secret" is required')
  return {
    name: checkName(object.name),
    secret: checkSecret(object.secret),
    description: object.description === undefined || object.description === null ? '' : checkDescription(object.description),
  }
}

/** `{name?, secret?, description?}`, at least one, for `PATCH /secrets/{id}`. */
export function parseUpdateBody(body: unknown): UpdateSecretInput {
  const object = asObject(body)
  rejectUnknown(object, ['name', 'secret', 'description'])
  const update: UpdateSecretInput = {}
  if (object.name !== undefined) update.name = checkName(object.name)
  if (object.secret !== undefined) update.secret = checkSecret(object.secret)
  if (object.description !== undefined) update.description = checkDescription(object.description)
  if (Object.keys(update).length === 0) throw invalid('nothing to update: give "name", "secret" or "description"')
  return update
}
