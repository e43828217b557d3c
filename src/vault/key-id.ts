/**
 * What `vault.secrets.key_id` means here. Vault 0.3.x ignores the column (always KDF id 0) and
 * leaves it NULL; resolution keeps that as the default, so its rows stay readable by a real
 * Vault 0.3.x holding the same root key. After `vault rotate`, rows are sealed under KDF id N ≥ 1
 * and `key_id` records N as a self-describing UUIDv8: `7265736f-6c75-8000-8000-` ("resolu") plus
 * N in 12 hex digits. Any other UUID is a pgsodium key from a Vault 0.2.x dump (needs `vault import`).
 * @module
 */

const PREFIX = '7265736f-6c75-8000-8000-'
const MAX_KEY_ID = 0xffff_ffff_ffffn

export type KeyRef = { kind: 'ours'; kdfId: bigint } | { kind: 'foreign'; uuid: string }

/** The `key_id` column value for a KDF id: NULL for 0 (Vault 0.3.x form), our UUID otherwise. */
export function keyIdColumn(kdfId: bigint): string | null {
  if (kdfId < 0n || kdfId > MAX_KEY_ID) throw new RangeError(`key id must be between 0 and ${MAX_KEY_ID}`)
  return kdfId === 0n ? null : PREFIX + kdfId.toString(16).padStart(12, '0')
}

/** Reads a `key_id` column value. */
export function parseKeyIdColumn(value: string | null | undefined): KeyRef {
  if (value === null || value === undefined) return { kind: 'ours', kdfId: 0n }
  const lower = value.toLowerCase()
  if (lower.startsWith(PREFIX) && /^[0-9a-f]{12}$/.test(lower.slice(PREFIX.length))) {
    return { kind: 'ours', kdfId: BigInt('0x' + lower.slice(PREFIX.length)) }
  }
  return { kind: 'foreign', uuid: lower }
}

/** SQL LIKE pattern matching our key UUIDs (as text). */
export const OUR_KEY_ID_PATTERN = PREFIX + '%'
export { MAX_KEY_ID }
