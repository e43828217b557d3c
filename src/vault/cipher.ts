/**
 * The Supabase Vault cipher, in pure TypeScript: `crypto_aead_det_xchacha20` (XChaCha20-SIV with a
 * BLAKE2b S2V, tag last) as pgsodium ≥ 3 and supabase_vault 0.3.x implement it, the libsodium
 * `crypto_kdf_derive_from_key` that turns the root key into per-id keys, Vault's base64 storage
 * format and the associated data each Vault version binds a secret to. No I/O, no database.
 *
 * Construction: supabase/vault `src/crypto_aead_det_xchacha20.c` (from jedisct1/libsodium-xchacha20-siv).
 * @module
 */
import { blake2b } from '@noble/hashes/blake2.js'
import { xchacha20 } from '@noble/ciphers/chacha.js'
import { randomBytes } from 'node:crypto'

export const KEY_BYTES = 32
export const NONCE_BYTES = 16
export const TAG_BYTES = 32
/** The KDF context pgsodium and Vault use for every key (`'pgsodium'::bytea`). */
export const DEFAULT_CONTEXT = 'pgsodium'

export type VaultCipherErrorCode =
  | 'vault_invalid_key'
  | 'vault_invalid_nonce'
  | 'vault_invalid_ciphertext'
  | 'vault_invalid_encoding'
  | 'vault_invalid_key_id'
  | 'vault_invalid_context'

/** A cipher failure with a stable code. Never carries plaintext or key material. */
export class VaultCipherError extends Error {
  readonly code: VaultCipherErrorCode
  constructor(code: VaultCipherErrorCode, message: string) {
    super(message)
    this.name = 'VaultCipherError'
    this.code = code
  }
}

const encoder = new TextEncoder()
const strictDecoder = new TextDecoder('utf-8', { fatal: true })

/** libsodium `crypto_generichash(n, x, k)`: BLAKE2b with an n-byte output, keyed with k. */
function hash(outLen: number, key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const h = blake2b.create({ key, dkLen: outLen })
  for (const part of parts) h.update(part)
  return h.digest()
}

/** Multiplication by x in GF(2^256), big-endian, reduction polynomial x^256 + x^10 + x^5 + x^2 + 1. */
function dbl(d: Uint8Array): void {
  const carry = d[0]! >> 7
  for (let i = 0; i < 31; i++) d[i] = ((d[i]! << 1) | (d[i + 1]! >> 7)) & 0xff
  d[31] = (d[31]! << 1) & 0xff
  if (carry) {
    d[30]! ^= 0x04
    d[31]! ^= 0x25
  }
}

function xorInto(target: Uint8Array, source: Uint8Array, length = source.length): void {
  for (let i = 0; i < length; i++) target[i]! ^= source[i]!
}

/** S2V over (AD, nonce, message) with BLAKE2b as the PRF; returns the 32-byte synthetic IV (the tag). */
function s2v(message: Uint8Array, ad: Uint8Array | null, nonce: Uint8Array | null, ka: Uint8Array): Uint8Array {
  const d = hash(32, ka, new Uint8Array(TAG_BYTES))
  if (ad && ad.length > 0) {
    dbl(d)
    xorInto(d, hash(TAG_BYTES, ka, ad))
  }
  if (nonce && nonce.length > 0) {
    dbl(d)
    xorInto(d, hash(TAG_BYTES, ka, nonce))
  }
  if (message.length >= TAG_BYTES) {
    const head = message.subarray(0, message.length - TAG_BYTES)
    xorInto(d, message.subarray(message.length - TAG_BYTES))
    return hash(TAG_BYTES, ka, head, d)
  }
  dbl(d)
  xorInto(d, message)
  d[message.length]! ^= 0x80
  return hash(TAG_BYTES, ka, d)
}

function subkeys(key: Uint8Array): { ka: Uint8Array; ke: Uint8Array } {
  const s = hash(64, key, new Uint8Array(0))
  return { ka: s.subarray(0, 32), ke: s.subarray(32, 64) }
}

function checkKey(key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length !== KEY_BYTES) {
    throw new VaultCipherError('vault_invalid_key', `key must be ${KEY_BYTES} bytes`)
  }
}

function checkNonce(nonce: Uint8Array | null): void {
  if (nonce !== null && nonce.length !== NONCE_BYTES) {
    throw new VaultCipherError('vault_invalid_nonce', `nonce must be ${NONCE_BYTES} bytes, got ${nonce.length}`)
  }
}

/** Constant-time comparison of two equal-length byte strings. */
function equalConstantTime(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!
  return diff === 0
}

/** `crypto_aead_det_xchacha20_encrypt`: returns ciphertext ‖ tag (|M| + 32 bytes). */
export function aeadDetEncrypt(message: Uint8Array, ad: Uint8Array | null, nonce: Uint8Array | null, key: Uint8Array): Uint8Array {
  checkKey(key)
  checkNonce(nonce)
  const { ka, ke } = subkeys(key)
  const tag = s2v(message, ad, nonce, ka)
  const out = new Uint8Array(message.length + TAG_BYTES)
  out.set(xchacha20(ke, tag.subarray(0, 24), message), 0)
  out.set(tag, message.length)
  return out
}

/**
 * `crypto_aead_det_xchacha20_decrypt`: verifies the tag and returns the message. A wrong key, a
 * changed AD or nonce, or any altered byte gives `vault_invalid_ciphertext`.
 */
export function aeadDetDecrypt(sealed: Uint8Array, ad: Uint8Array | null, nonce: Uint8Array | null, key: Uint8Array): Uint8Array {
  checkKey(key)
  checkNonce(nonce)
  if (sealed.length < TAG_BYTES) throw new VaultCipherError('vault_invalid_ciphertext', 'invalid ciphertext: shorter than the tag')
  const { ka, ke } = subkeys(key)
  const mlen = sealed.length - TAG_BYTES
  const tag = sealed.subarray(mlen)
  const message = xchacha20(ke, tag.subarray(0, 24), sealed.subarray(0, mlen))
  if (!equalConstantTime(tag, s2v(message, ad, nonce, ka))) {
    message.fill(0)
    throw new VaultCipherError('vault_invalid_ciphertext', 'invalid ciphertext: authentication failed (wrong root key, key id, associated data or nonce, or altered data)')
  }
  return message
}

/** Parses a root key in the 64-hex form of pgsodium's getkey script and `VAULT_ROOT_KEY`. */
export function parseRootKey(hex: string): Uint8Array {
  const value = typeof hex === 'string' ? hex.trim() : ''
  if (!/^[0-9a-fA-F]{64}$/.test(value)) throw new VaultCipherError('vault_invalid_key', 'root key must be exactly 64 hexadecimal characters (32 bytes)')
  return Uint8Array.from(Buffer.from(value, 'hex'))
}

/**
 * libsodium `crypto_kdf_derive_from_key(32, keyId, context, root)`: BLAKE2b keyed with the root key,
 * salt = LE64(keyId) ‖ 0⁸, personal = context ‖ 0⁸. The context is exactly 8 bytes, as in libsodium.
 */
export function deriveKey(root: Uint8Array, keyId: bigint | number, context: string | Uint8Array = DEFAULT_CONTEXT): Uint8Array {
  checkKey(root)
  const id = BigInt(keyId)
  if (id < 0n || id > 0xffff_ffff_ffff_ffffn) throw new VaultCipherError('vault_invalid_key_id', 'key id must be between 0 and 2^64-1')
  const ctx = typeof context === 'string' ? encoder.encode(context) : context
  if (ctx.length !== 8) throw new VaultCipherError('vault_invalid_context', 'key context must be exactly 8 bytes (libsodium crypto_kdf)')
  const salt = new Uint8Array(16)
  new DataView(salt.buffer).setBigUint64(0, id, true)
  const personalization = new Uint8Array(16)
  personalization.set(ctx)
  return blake2b(new Uint8Array(0), { key: root, salt, personalization, dkLen: KEY_BYTES })
}

/** A fresh random 16-byte nonce, as `_crypto_aead_det_noncegen()` makes. */
export function generateNonce(): Uint8Array {
  return Uint8Array.from(randomBytes(NONCE_BYTES))
}

/** PostgreSQL `encode(bytes, 'base64')`: standard alphabet, `=` padding, `\n` after every 76 characters. */
export function encodeStored(bytes: Uint8Array): string {
  // PostgreSQL breaks the line after every complete 57 input bytes (76 characters), the last one
  // included; a final partial chunk (with its padding) ends without a newline.
  let out = ''
  for (let i = 0; i < bytes.length; i += 57) {
    const chunk = bytes.subarray(i, i + 57)
    out += Buffer.from(chunk).toString('base64') + (chunk.length === 57 ? '\n' : '')
  }
  return out
}

/** PostgreSQL `decode(text, 'base64')`: whitespace ignored, anything else must be valid base64. */
export function decodeStored(text: string): Uint8Array {
  const compact = text.replace(/[ \t\r\n]/g, '')
  if (compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) {
    throw new VaultCipherError('vault_invalid_encoding', 'stored secret is not valid base64')
  }
  return Uint8Array.from(Buffer.from(compact, 'base64'))
}

/** Vault 0.3.x associated data: the UTF-8 text of the id. */
export function associatedDataV3(id: string): Uint8Array {
  return encoder.encode(id)
}

/**
 * Vault 0.2.x associated data: `id::text ‖ description ‖ created_at::text ‖ updated_at::text`, the
 * timestamps as PostgreSQL prints them under TimeZone UTC and DateStyle ISO (see `pgTimestamptzUtc`).
 */
export function associatedDataV2(row: { id: string; description: string; createdAt: string; updatedAt: string }): Uint8Array {
  return encoder.encode(row.id + row.description + row.createdAt + row.updatedAt)
}

/**
 * A timestamp as PostgreSQL prints `timestamptz::text` under UTC/ISO: `2024-01-06 12:00:00.12+00`
 * (trailing fractional zeros dropped, no fraction on whole seconds). Accepts a Date (millisecond
 * precision) or an ISO-8601 string with up to 6 fractional digits.
 */
export function pgTimestamptzUtc(value: Date | string): string {
  let date: Date
  let micros: string
  if (value instanceof Date) {
    date = value
    micros = String(date.getUTCMilliseconds()).padStart(3, '0') + '000'
  } else {
    const match = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?(Z|[+-]\d{2}(?::?\d{2})?)?$/i.exec(value.trim())
    if (!match) throw new VaultCipherError('vault_invalid_encoding', `not a timestamp: ${JSON.stringify(value)}`)
    const [, day, time, fraction, zone] = match
    const offset = !zone || zone.toUpperCase() === 'Z' ? 'Z' : zone.length === 3 ? `${zone}:00` : zone.length === 5 ? `${zone.slice(0, 3)}:${zone.slice(3)}` : zone
    date = new Date(`${day}T${time}${offset}`)
    micros = (fraction ?? '').padEnd(6, '0')
  }
  if (Number.isNaN(date.getTime())) throw new VaultCipherError('vault_invalid_encoding', `not a timestamp: ${String(value)}`)
  const iso = date.toISOString() // YYYY-MM-DDTHH:MM:SS.sssZ
  const fraction = micros.replace(/0+$/, '')
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${fraction ? '.' + fraction : ''}+00`
}

/** Encrypts a UTF-8 secret to Vault's stored text form. */
export function sealSecret(plaintext: string, ad: Uint8Array, nonce: Uint8Array, key: Uint8Array): string {
  return encodeStored(aeadDetEncrypt(encoder.encode(plaintext), ad, nonce, key))
}

/**
 * Decrypts Vault's stored text form to the UTF-8 secret. As in SQL, input of 32 bytes or fewer is
 * refused (`invalid message`), so an empty secret never decrypts.
 */
export function openSecret(stored: string, ad: Uint8Array, nonce: Uint8Array | null, key: Uint8Array): string {
  const sealed = decodeStored(stored)
  if (sealed.length <= TAG_BYTES) throw new VaultCipherError('vault_invalid_ciphertext', 'invalid message: too short to hold a secret')
  const message = aeadDetDecrypt(sealed, ad, nonce, key)
  try {
    return strictDecoder.decode(message)
  } catch {
    throw new VaultCipherError('vault_invalid_ciphertext', 'decrypted secret is not valid UTF-8')
  } finally {
    message.fill(0)
  }
}
