/**
 * The vault service over `vault.secrets`: create, get, list, update, delete. On a database with
 * the supabase_vault extension it goes through the extension's own `vault.create_secret`,
 * `vault.update_secret` and `vault.decrypted_secrets`; everywhere else (plain PostgreSQL, PGlite)
 * it seals rows itself in Vault 0.3.x form — KDF id 0 (key_id NULL), AD = the id — with the root
 * key from config, which never reaches the database. Plaintext is never logged or sent to SQL in
 * service mode; methods take the Queryable (a request's `db()` or a CLI transaction) to run on.
 * @module
 */
import { randomUUID } from 'node:crypto'
import { db } from '../db/session.ts'
import { hasSqlState } from '../db/sqlstate.ts'
import type { Queryable } from '../db/types.ts'
import { associatedDataV3, deriveKey, generateNonce, openSecret, parseRootKey, sealSecret } from './cipher.ts'
import { fromCipherError, VaultError } from './errors.ts'
import { keyIdColumn, OUR_KEY_ID_PATTERN, parseKeyIdColumn } from './key-id.ts'
import { checkDescription, checkName, checkReference, checkSecret, isUuid, type CreateSecretInput, type UpdateSecretInput } from './validate.ts'

/** What the API shows of a secret without its value. */
export interface SecretMetadata {
  id: string
  name: string | null
  description: string
  created_at: string
  updated_at: string
}

export interface SecretWithValue extends SecretMetadata {
  secret: string
}

export type VaultMode = { kind: 'service' } | { kind: 'extension'; version: string }

export interface ListOptions {
  limit?: number
  offset?: number
}

export interface VaultStore {
  /** Whether this database's vault is the supabase_vault extension or ours (detected once). */
  mode(q: Queryable): Promise<VaultMode>
  list(q: Queryable, options?: ListOptions): Promise<SecretMetadata[]>
  create(q: Queryable, input: CreateSecretInput): Promise<SecretMetadata>
  /** By id, or by name (an id-shaped reference matches the id first). Undefined when absent. */
  get(q: Queryable, reference: string): Promise<SecretWithValue | undefined>
  update(q: Queryable, reference: string, input: UpdateSecretInput): Promise<SecretMetadata>
  delete(q: Queryable, reference: string): Promise<SecretMetadata | undefined>
  /** The sealing key for a KDF id under the configured root key (service mode only). */
  keyFor(kdfId: bigint): Uint8Array
  /** Decrypts a row read with SEALED_COLUMNS under the configured root key (service mode). */
  open(row: SealedRow): string
  /** The KDF id new writes use: the highest in use after `vault rotate`, 0 before. */
  currentKdfId(q: Queryable): Promise<bigint>
}

export interface VaultStoreOptions {
  /** 64 hex characters; required in service mode only. */
  rootKey?: string
  /** `auto` (default) looks for the supabase_vault extension in pg_extension. */
  mode?: 'auto' | 'service' | 'extension'
}

/** Metadata columns, driver-independent: ids and times as text, times in UTC ISO 8601. */
export const METADATA_COLUMNS = `s.id::text AS id, s.name, s.description,
  to_char(s.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at,
  to_char(s.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS updated_at`

/** A stored row as the cipher needs it. */
export interface SealedRow extends SecretMetadata {
  sealed: string
  nonce_hex: string | null
  key_id: string | null
}

export const SEALED_COLUMNS = `${METADATA_COLUMNS}, s.secret AS sealed, encode(s.nonce, 'hex') AS nonce_hex, s.key_id::text AS key_id`

/**
 * `WHERE` for a reference: an id-shaped one matches the id or the name (the id first); anything
 * else the name. `$1` is always the reference as text, `$2` the same as uuid when id-shaped.
 */
function whereReference(reference: string): { sql: string; order: string; params: string[] } {
  return isUuid(reference)
    ? { sql: `(s.id = $2::uuid OR s.name = $1::text)`, order: `ORDER BY (s.id = $2::uuid) DESC LIMIT 1`, params: [reference, reference] }
    : { sql: `s.name = $1::text`, order: 'LIMIT 1', params: [reference] }
}

function metadataOf(row: SecretMetadata): SecretMetadata {
  return { id: row.id, name: row.name, description: row.description, created_at: row.created_at, updated_at: row.updated_at }
}

function isUniqueViolation(error: unknown): boolean {
  return hasSqlState(error, 'unique_violation')
}

function duplicateName(name: string | null | undefined, cause: unknown): VaultError {
  return new VaultError('vault_duplicate_name', `a secret named ${JSON.stringify(name)} already exists`, { cause })
}

function notFound(reference: string): VaultError {
  return new VaultError('vault_secret_not_found', `no secret with id or name ${JSON.stringify(reference)}`)
}

/** Errors raised by the extension's C functions, lifted to stable codes. */
function fromExtensionError(error: unknown, context: string): unknown {
  const message = (error as Error)?.message ?? ''
  if (/invalid ciphertext|invalid message|invalid nonce/.test(message)) {
    return new VaultError('vault_invalid_ciphertext', `${context}: the supabase_vault extension could not decrypt it (${message.replace(/^.*?: /, '')})`, { cause: error })
  }
  return error
}

export function createVaultStore(options: VaultStoreOptions = {}): VaultStore {
  const root = options.rootKey ? parseRootKey(options.rootKey) : undefined
  const keys = new Map<bigint, Uint8Array>()
  let detected: Promise<VaultMode> | undefined

  function keyFor(kdfId: bigint): Uint8Array {
    if (!root) throw new VaultError('vault_not_configured', 'the vault has no root key: set VAULT_ROOT_KEY (64 hex characters)')
    let key = keys.get(kdfId)
    if (!key) keys.set(kdfId, (key = deriveKey(root, kdfId)))
    return key
  }

  async function mode(q: Queryable): Promise<VaultMode> {
    if (options.mode === 'service') return { kind: 'service' }
    if (options.mode === 'extension') return { kind: 'extension', version: 'forced' }
    detected ??= q
      .query<{ extversion: string }>(`SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'supabase_vault'`)
      .then(({ rows }): VaultMode => (rows[0] ? { kind: 'extension', version: rows[0].extversion } : { kind: 'service' }))
      .catch((error) => {
        detected = undefined
        throw error
      })
    return detected
  }

  async function currentKdfId(q: Queryable): Promise<bigint> {
    const { rows } = await q.query<{ key_id: string | null }>(
      `SELECT max(key_id::text) AS key_id FROM vault.secrets WHERE key_id::text LIKE $1`,
      [OUR_KEY_ID_PATTERN],
    )
    const ref = parseKeyIdColumn(rows[0]?.key_id ?? null)
    return ref.kind === 'ours' ? ref.kdfId : 0n
  }

  function open(row: SealedRow): string {
    const ref = parseKeyIdColumn(row.key_id)
    if (ref.kind === 'foreign') {
      throw new VaultError(
        'vault_import_required',
        `secret ${row.id} was sealed by Supabase Vault 0.2.x under pgsodium key ${ref.uuid}; run \`resolution vault import --root-key <hex>\` with that project's root key`,
      )
    }
    try {
      return openSecret(row.sealed, associatedDataV3(row.id), row.nonce_hex === null ? null : Buffer.from(row.nonce_hex, 'hex'), keyFor(ref.kdfId))
    } catch (error) {
      throw fromCipherError(error, `secret ${row.id} cannot be decrypted with this service's root key (restored from another project? run \`resolution vault import --root-key <hex>\`)`)
    }
  }

  async function findSealed(q: Queryable, reference: string, lock: boolean): Promise<SealedRow | undefined> {
    const where = whereReference(reference)
    const { rows } = await q.query<SealedRow>(
      `SELECT ${SEALED_COLUMNS} FROM vault.secrets s WHERE ${where.sql} ${where.order}${lock ? ' FOR UPDATE' : ''}`,
      where.params,
    )
    return rows[0]
  }

  async function metadataById(q: Queryable, id: string): Promise<SecretMetadata> {
    const { rows } = await q.query<SecretMetadata>(`SELECT ${METADATA_COLUMNS} FROM vault.secrets s WHERE s.id = $1::uuid`, [id])
    if (!rows[0]) throw notFound(id)
    return rows[0]
  }

  /** Seals a value for row `id` under the current key: returns the column values. */
  async function seal(q: Queryable, id: string, value: string): Promise<{ secret: string; nonceHex: string; keyId: string | null }> {
    const kdfId = await currentKdfId(q)
    const nonce = generateNonce()
    return { secret: sealSecret(value, associatedDataV3(id), nonce, keyFor(kdfId)), nonceHex: Buffer.from(nonce).toString('hex'), keyId: keyIdColumn(kdfId) }
  }

  return {
    mode,
    keyFor,
    open,
    currentKdfId,

    async list(q, listOptions = {}) {
      const limit = listOptions.limit ?? 1000
      const offset = listOptions.offset ?? 0
      const { rows } = await q.query<SecretMetadata>(
        `SELECT ${METADATA_COLUMNS} FROM vault.secrets s ORDER BY s.created_at, s.id LIMIT $1 OFFSET $2`,
        [limit, offset],
      )
      return rows
    },

    async create(q, input) {
      const name = input.name === undefined || input.name === null ? null : checkName(input.name)
      const secret = checkSecret(input.secret)
      const description = input.description === undefined ? '' : checkDescription(input.description)
      const current = await mode(q)
      try {
        if (current.kind === 'extension') {
          const { rows } = await q.query<{ id: string }>(`SELECT vault.create_secret($1, $2, $3)::text AS id`, [secret, name, description])
          return await metadataById(q, rows[0]!.id)
        }
        const id = randomUUID()
        const sealed = await seal(q, id, secret)
        // The INSERT waits while `vault rotate` holds the table; its RETURNING then sees the
        // rotated rows, and a newer key id than the one sealed under means: seal again.
        const { rows } = await q.query<SecretMetadata & { latest_key_id: string | null }>(
          `INSERT INTO vault.secrets AS s (id, name, description, secret, key_id, nonce)
           VALUES ($1::uuid, $2, $3, $4, $5::uuid, decode($6, 'hex'))
           RETURNING ${METADATA_COLUMNS},
             (SELECT max(o.key_id::text) FROM vault.secrets o WHERE o.key_id::text LIKE $7) AS latest_key_id`,
          [id, name, description, sealed.secret, sealed.keyId, sealed.nonceHex, OUR_KEY_ID_PATTERN],
        )
        const { latest_key_id: latest, ...record } = rows[0]!
        if ((latest ?? null) !== null && latest !== sealed.keyId && parseKeyIdColumn(latest).kind === 'ours') {
          const again = await seal(q, id, secret)
          await q.query(`UPDATE vault.secrets SET secret = $2, nonce = decode($3, 'hex'), key_id = $4::uuid WHERE id = $1::uuid`, [id, again.secret, again.nonceHex, again.keyId])
        }
        return record
      } catch (error) {
        if (isUniqueViolation(error)) throw duplicateName(name, error)
        throw error
      }
    },

    async get(q, reference) {
      checkReference(reference)
      const current = await mode(q)
      if (current.kind === 'extension') {
        const where = whereReference(reference)
        try {
          const { rows } = await q.query<SecretMetadata & { decrypted_secret: string | null }>(
            `SELECT ${METADATA_COLUMNS}, s.decrypted_secret FROM vault.decrypted_secrets s WHERE ${where.sql} ${where.order}`,
            where.params,
          )
          const row = rows[0]
          if (!row) return undefined
          if (row.decrypted_secret === null) throw new VaultError('vault_invalid_ciphertext', `secret ${row.id} has no decryptable value`)
          return { ...metadataOf(row), secret: row.decrypted_secret }
        } catch (error) {
          throw fromExtensionError(error, `secret ${JSON.stringify(reference)}`)
        }
      }
      const row = await findSealed(q, reference, false)
      if (!row) return undefined
      return { ...metadataOf(row), secret: open(row) }
    },

    async update(q, reference, input) {
      checkReference(reference)
      const name = input.name === undefined ? null : checkName(input.name)
      const description = input.description === undefined ? null : checkDescription(input.description)
      const secret = input.secret === undefined ? null : checkSecret(input.secret)
      const current = await mode(q)
      // Under the extension nobody may UPDATE vault.secrets directly, so no FOR UPDATE either:
      // vault.update_secret (SECURITY DEFINER in 0.3.x) takes the row lock itself.
      const row = await findSealed(q, reference, current.kind === 'service')
      if (!row) throw notFound(reference)
      try {
        if (current.kind === 'extension') {
          await q.query(`SELECT vault.update_secret($1::uuid, $2, $3, $4)`, [row.id, secret, name, description])
          return await metadataById(q, row.id)
        }
        if (secret === null && parseKeyIdColumn(row.key_id).kind === 'foreign') {
          // A 0.2.x row binds description and updated_at into its AD: editing them alone would make it unreadable.
          open(row)
        }
        const sealed = secret === null ? null : await seal(q, row.id, secret)
        const { rows } = await q.query<SecretMetadata>(
          `UPDATE vault.secrets AS s SET
             name = coalesce($2, s.name),
             description = coalesce($3, s.description),
             secret = coalesce($4, s.secret),
             nonce = CASE WHEN $4::text IS NULL THEN s.nonce ELSE decode($5, 'hex') END,
             key_id = CASE WHEN $4::text IS NULL THEN s.key_id ELSE $6::uuid END,
             updated_at = now()
           WHERE s.id = $1::uuid
           RETURNING ${METADATA_COLUMNS}`,
          [row.id, name, description, sealed?.secret ?? null, sealed?.nonceHex ?? null, sealed?.keyId ?? null],
        )
        return rows[0]!
      } catch (error) {
        if (isUniqueViolation(error)) throw duplicateName(name, error)
        throw fromExtensionError(error, `secret ${row.id}`)
      }
    },

    async delete(q, reference) {
      checkReference(reference)
      const where = whereReference(reference)
      const { rows } = await q.query<SecretMetadata>(
        `DELETE FROM vault.secrets AS s WHERE s.id = (SELECT s.id FROM vault.secrets s WHERE ${where.sql} ${where.order}) RETURNING ${METADATA_COLUMNS}`,
        where.params,
      )
      return rows[0]
    },
  }
}

/**
 * The vault for the app's own server code, inside a request: `serverVault(services).get(name)`
 * reads through the request's transaction (`db()`). The read runs as the connecting role, not
 * the caller's (an anon or authenticated request has no access to `vault.secrets`), and the
 * request's role is restored right after — so never pass an unchecked client-supplied name.
 */
export interface ServerVault {
  /** The decrypted value, or undefined when no secret has that name or id. */
  get(reference: string): Promise<string | undefined>
}

export function serverVault(services: { config: { vaultRootKey: string | undefined } }, store?: VaultStore): ServerVault {
  const vault = store ?? createVaultStore({ rootKey: services.config.vaultRootKey })
  return {
    async get(reference) {
      const q = db()
      return (await asConnectingRole(q, () => vault.get(q, reference)))?.secret
    },
  }
}

/** Runs `fn` with the transaction's role reset to the login role, then puts the role back. */
export async function asConnectingRole<T>(q: Queryable, fn: () => Promise<T>): Promise<T> {
  const { rows } = await q.query<{ role: string }>(`SELECT current_setting('role') AS role`)
  const previous = rows[0]?.role ?? 'none'
  if (previous === 'none') return fn()
  await q.query(`SELECT set_config('role', 'none', true)`)
  let result: T
  try {
    result = await fn()
  } catch (error) {
    await q.query(`SELECT set_config('role', $1, true)`, [previous]).catch(() => undefined)
    throw error
  }
  await q.query(`SELECT set_config('role', $1, true)`, [previous])
  return result
}
