/**
 * Re-sealing every row of `vault.secrets`: `rotate` (to a new KDF id and/or a new root key) and
 * `import` (rows restored from a Supabase dump, sealed by Vault 0.2.x under pgsodium keys or by
 * 0.3.x under key id 0, with that project's root key). Both read every row FOR UPDATE, decrypt
 * all of them first and write only when every row succeeded, so they are all-or-nothing when run
 * inside one transaction (the CLI does).
 * @module
 */
import type { Queryable } from '../db/types.ts'
import {
  associatedDataV2,
  associatedDataV3,
  deriveKey,
  generateNonce,
  openSecret,
  parseRootKey,
  pgTimestamptzUtc,
  sealSecret,
  VaultCipherError,
} from './cipher.ts'
import { VaultError } from './errors.ts'
import { keyIdColumn, MAX_KEY_ID, parseKeyIdColumn } from './key-id.ts'
import { SEALED_COLUMNS, type SealedRow, type VaultStore } from './store.ts'

interface Resealed {
  id: string
  secret: string
  nonceHex: string
  keyId: string | null
}

async function lockAllRows(tx: Queryable): Promise<Array<SealedRow & { created_text: string; updated_text: string }>> {
  // Writers wait until this transaction ends, so no row can be added under the old key meanwhile;
  // readers carry on.
  await tx.query(`LOCK TABLE vault.secrets IN EXCLUSIVE MODE`)
  const { rows } = await tx.query<SealedRow & { created_text: string; updated_text: string }>(
    `SELECT ${SEALED_COLUMNS},
       to_char(s.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS created_text,
       to_char(s.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS updated_text
     FROM vault.secrets s ORDER BY s.created_at, s.id FOR UPDATE`,
  )
  return rows
}

function reseal(id: string, plaintext: string, key: Uint8Array, kdfId: bigint): Resealed {
  const nonce = generateNonce()
  return { id, secret: sealSecret(plaintext, associatedDataV3(id), nonce, key), nonceHex: Buffer.from(nonce).toString('hex'), keyId: keyIdColumn(kdfId) }
}

async function writeAll(tx: Queryable, rows: Resealed[]): Promise<void> {
  for (const row of rows) {
    await tx.query(`UPDATE vault.secrets SET secret = $2, nonce = decode($3, 'hex'), key_id = $4::uuid WHERE id = $1::uuid`, [row.id, row.secret, row.nonceHex, row.keyId])
  }
}

async function requireServiceMode(tx: Queryable, store: VaultStore, what: string): Promise<void> {
  const mode = await store.mode(tx)
  if (mode.kind === 'extension') {
    throw new VaultError('vault_unsupported', `${what} is not available here: this database has the supabase_vault extension (${mode.version}), which holds its own root key`)
  }
}

function nonceOf(row: SealedRow): Uint8Array | null {
  return row.nonce_hex === null ? null : Buffer.from(row.nonce_hex, 'hex')
}

// ─── rotate ─────────────────────────────────────────────────────────────────────────────────────

export interface RotateOptions {
  /** Target KDF id; default: one above the current one (or 0 with `toRootKey`). */
  keyId?: bigint
  /** Re-seal under this root key (64 hex) instead of the configured one; the operator then sets VAULT_ROOT_KEY to it. */
  toRootKey?: string
}

export interface RotateReport {
  rotated: number
  fromKeyId: string
  keyId: string
  /** The `key_id` column now on every row (null = Vault 0.3.x form). */
  keyIdColumn: string | null
  rootKeyChanged: boolean
}

/** Re-encrypts every secret under a new key id (and optionally a new root key). */
export async function rotateSecrets(tx: Queryable, store: VaultStore, options: RotateOptions = {}): Promise<RotateReport> {
  await requireServiceMode(tx, store, 'vault rotate')
  const rows = await lockAllRows(tx)
  const current = await store.currentKdfId(tx)
  const newRoot = options.toRootKey === undefined ? undefined : rootKeyArgument(options.toRootKey, '--to-root-key')
  const target = options.keyId ?? (newRoot ? 0n : current + 1n)
  if (target < 0n || target > MAX_KEY_ID) throw new VaultError('vault_invalid_request', `key id must be between 0 and ${MAX_KEY_ID}`)
  const targetKey = newRoot ? deriveKey(newRoot, target) : store.keyFor(target)
  const resealed = rows.map((row) => reseal(row.id, store.open(row), targetKey, target))
  await writeAll(tx, resealed)
  return { rotated: resealed.length, fromKeyId: current.toString(), keyId: target.toString(), keyIdColumn: keyIdColumn(target), rootKeyChanged: newRoot !== undefined }
}

// ─── import ─────────────────────────────────────────────────────────────────────────────────────

/** A `pgsodium.key` row of the source project, as far as Vault 0.2.x keys need it. */
export interface PgsodiumKey {
  id: string
  keyId: bigint
  context: Uint8Array
  /** Keys with a raw_key are sealed by a parent key; Vault never makes them. */
  hasRawKey: boolean
}

export interface ImportOptions {
  /** The source project's root key (64 hex). */
  rootKey: string
  /** pgsodium keys given by hand, in addition to a restored `pgsodium.key` table. */
  keys?: PgsodiumKey[]
  /** Without the pgsodium key rows, try KDF ids 1..N for 0.2.x rows (the tag tells the right one). */
  guessKeyIds?: number
  /** Import what can be imported and report the rest instead of changing nothing. */
  keepGoing?: boolean
}

export interface ImportReport {
  total: number
  imported: Array<{ id: string; name: string | null; from: 'vault-0.3' | 'vault-0.2' }>
  /** Rows already readable under this service's root key. */
  alreadyCurrent: number
  failed: Array<{ id: string; name: string | null; reason: string }>
  /** Where pgsodium keys came from. */
  keySource: { table: number; given: number }
}

export function rootKeyArgument(hex: string, option: string): Uint8Array {
  try {
    return parseRootKey(hex)
  } catch (error) {
    if (error instanceof VaultCipherError) throw new VaultError('vault_invalid_key', `${option}: ${error.message}`)
    throw error
  }
}

/** The rows of a restored `pgsodium.key` table, if the database has one. */
export async function readPgsodiumKeys(tx: Queryable): Promise<PgsodiumKey[]> {
  const { rows: exists } = await tx.query<{ present: boolean }>(`SELECT to_regclass('pgsodium.key') IS NOT NULL AS present`)
  if (!exists[0]?.present) return []
  // to_jsonb keeps this independent of the pgsodium version's exact column list.
  const { rows } = await tx.query<{ k: Record<string, unknown> }>(`SELECT to_jsonb(k) AS k FROM pgsodium.key k`)
  const keys: PgsodiumKey[] = []
  for (const { k } of rows) {
    if (typeof k.id !== 'string' || (typeof k.key_id !== 'number' && typeof k.key_id !== 'string')) continue
    keys.push({
      id: k.id.toLowerCase(),
      keyId: BigInt(k.key_id),
      context: typeof k.key_context === 'string' && k.key_context.startsWith('\\x') ? Buffer.from(k.key_context.slice(2), 'hex') : Buffer.from('pgsodium'),
      hasRawKey: k.raw_key !== null && k.raw_key !== undefined,
    })
  }
  return keys
}

/** Parses `--key <uuid>=<key id>[:<context>]`. */
export function parseKeyArgument(value: string): PgsodiumKey {
  const match = /^([0-9a-fA-F-]{36})=(\d{1,20})(?::(.{1,8}))?$/.exec(value.trim())
  if (!match) throw new VaultError('vault_invalid_request', `--key must look like <pgsodium key uuid>=<key id>[:<context>], got ${JSON.stringify(value)}`)
  return { id: match[1]!.toLowerCase(), keyId: BigInt(match[2]!), context: Buffer.from(match[3] ?? 'pgsodium'), hasRawKey: false }
}

interface Candidate {
  from: 'vault-0.3' | 'vault-0.2'
  key: Uint8Array
  ad: Uint8Array
}

/** Decrypts restored rows with the source root key and re-seals them under this service's key. */
export async function importSecrets(tx: Queryable, store: VaultStore, options: ImportOptions): Promise<ImportReport> {
  await requireServiceMode(tx, store, 'vault import')
  const sourceRoot = rootKeyArgument(options.rootKey, '--root-key')
  const guess = options.guessKeyIds ?? 0
  if (!Number.isInteger(guess) || guess < 0 || guess > 100_000) throw new VaultError('vault_invalid_request', '--guess-key-ids must be a whole number between 0 and 100000')
  const tableKeys = await readPgsodiumKeys(tx)
  const keys = new Map<string, PgsodiumKey>()
  for (const key of [...tableKeys, ...(options.keys ?? [])]) keys.set(key.id, key)

  const derived = new Map<string, Uint8Array>()
  const sourceKey = (kdfId: bigint, context: Uint8Array): Uint8Array => {
    const cacheKey = `${kdfId}:${Buffer.from(context).toString('hex')}`
    let key = derived.get(cacheKey)
    if (!key) derived.set(cacheKey, (key = deriveKey(sourceRoot, kdfId, context)))
    return key
  }
  const pgsodium = Buffer.from('pgsodium')

  const rows = await lockAllRows(tx)
  const target = await store.currentKdfId(tx)
  const targetKey = store.keyFor(target)
  const report: ImportReport = { total: rows.length, imported: [], alreadyCurrent: 0, failed: [], keySource: { table: tableKeys.length, given: options.keys?.length ?? 0 } }
  const resealed: Resealed[] = []

  for (const row of rows) {
    const ref = parseKeyIdColumn(row.key_id)
    if (ref.kind === 'ours') {
      try {
        store.open(row)
        report.alreadyCurrent++
        continue
      } catch {
        // Not ours after all (restored from elsewhere): try the source key below.
      }
    }
    const v3 = associatedDataV3(row.id)
    const candidates: Candidate[] = []
    let reason = 'neither the Vault 0.3.x form (key id 0, AD = id) nor any known pgsodium key decrypts it with the given root key'
    if (ref.kind === 'foreign') {
      const v2 = associatedDataV2({ id: row.id, description: row.description, createdAt: pgTimestamptzUtc(row.created_text), updatedAt: pgTimestamptzUtc(row.updated_text) })
      const key = keys.get(ref.uuid)
      if (key?.hasRawKey) reason = `pgsodium key ${ref.uuid} holds a raw key sealed by a parent key, which Vault never uses; cannot import`
      else if (key) candidates.push({ from: 'vault-0.2', key: sourceKey(key.keyId, key.context), ad: v2 })
      else {
        for (let id = 1; id <= guess; id++) candidates.push({ from: 'vault-0.2', key: sourceKey(BigInt(id), pgsodium), ad: v2 })
        reason = guess
          ? `pgsodium key ${ref.uuid} is not in pgsodium.key and key ids 1..${guess} do not decrypt it`
          : `pgsodium key ${ref.uuid} is unknown: restore the dump's pgsodium.key rows, pass --key ${ref.uuid}=<key id>, or try --guess-key-ids <n>`
      }
    }
    candidates.push({ from: 'vault-0.3', key: sourceKey(ref.kind === 'ours' ? ref.kdfId : 0n, pgsodium), ad: v3 })

    let plaintext: string | undefined
    let from: Candidate['from'] | undefined
    for (const candidate of candidates) {
      try {
        plaintext = openSecret(row.sealed, candidate.ad, nonceOf(row), candidate.key)
        from = candidate.from
        break
      } catch (error) {
        if (!(error instanceof VaultCipherError)) throw error
        if (error.code === 'vault_invalid_encoding') {
          reason = 'the stored secret is not valid base64'
          break
        }
      }
    }
    if (plaintext === undefined || from === undefined) {
      report.failed.push({ id: row.id, name: row.name, reason })
      continue
    }
    resealed.push(reseal(row.id, plaintext, targetKey, target))
    report.imported.push({ id: row.id, name: row.name, from })
  }

  if (report.failed.length && !options.keepGoing) {
    throw new VaultError('vault_import_failed', `${report.failed.length} of ${rows.length} secrets could not be decrypted; nothing was changed`, {
      details: { failed: report.failed },
    })
  }
  await writeAll(tx, resealed)
  return report
}
