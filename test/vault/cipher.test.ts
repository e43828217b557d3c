import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  aeadDetDecrypt,
  aeadDetEncrypt,
  associatedDataV2,
  associatedDataV3,
  decodeStored,
  deriveKey,
  encodeStored,
  openSecret,
  parseRootKey,
  pgTimestamptzUtc,
  sealSecret,
  VaultCipherError,
} from '../../src/vault/cipher.ts'
import { loadOracle } from './sodium-oracle.ts'

/** The Supabase CLI's public default `[db] root_key` (supabase/cli pkg/config/config.go). */
const CLI_ROOT_KEY = 'd4dc5b6d4a1d6a10b2c1e76112c994d65db7cec380572cc1839624d4be3fa275'
const NONCE = Buffer.from('00112233445566778899aabbccddeeff', 'hex')
const ID = '5f0d3c9a-1b2e-4c7d-8e9f-0a1b2c3d4e5f'
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex')
const utf8 = (text: string) => new TextEncoder().encode(text)

let oracle: Awaited<ReturnType<typeof loadOracle>>
beforeAll(async () => {
  oracle = await loadOracle()
})

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (error) {
    if (error instanceof VaultCipherError) return error.code
    throw error
  }
  return undefined
}

describe('reference vectors (shared/reference §6.6, Supabase CLI default root key)', () => {
  const root = parseRootKey(CLI_ROOT_KEY)

  it('derives KDF(root, 0) and KDF(root, 1) with context "pgsodium"', () => {
    expect(hex(deriveKey(root, 0))).toBe('ed6c3aabed4be3ffeb1bf1b063317426ef773da77afc759bb0215062eaf36ad6')
    expect(hex(deriveKey(root, 1))).toBe('58a950d727d91f377efc6203f1e3165bfda099d85a6536fd432ce4c825c7b003')
  })

  it('vector 1: 0.3.x, short message', () => {
    const sealed = aeadDetEncrypt(utf8('my-api-key'), associatedDataV3(ID), NONCE, deriveKey(root, 0))
    expect(hex(sealed)).toBe('1ee6cb7ca5a7a925baf39cc690519fb2f3b4e8b5d73d61430de16c7d7ae9c93e6672e280362fb390fd26')
    expect(sealSecret('my-api-key', associatedDataV3(ID), NONCE, deriveKey(root, 0))).toBe('HubLfKWnqSW685zGkFGfsvO06LXXPWFDDeFsfXrpyT5mcuKANi+zkP0m')
    expect(openSecret('HubLfKWnqSW685zGkFGfsvO06LXXPWFDDeFsfXrpyT5mcuKANi+zkP0m', associatedDataV3(ID), NONCE, deriveKey(root, 0))).toBe('my-api-key')
  })

  it('vector 2: 0.3.x, long branch, stored with a line break after 76 characters', () => {
    const message = 'a-secret-value-that-is-longer-than-32-bytes!'
    const sealed = aeadDetEncrypt(utf8(message), associatedDataV3(ID), NONCE, deriveKey(root, 0))
    expect(hex(sealed)).toBe(
      'f3fc4e903e3b7f7800509f2dae201d318f8079df7c5faab3cedbc8342124909605c9f040a9317a904b31375ab1668d06ed0b7404202719d6a95167a9bc10171444b297ad491efd3536242d0a',
    )
    const stored = '8/xOkD47f3gAUJ8triAdMY+Aed98X6qzztvINCEkkJYFyfBAqTF6kEsxN1qxZo0G7Qt0BCAnGdap\nUWepvBAXFESyl61JHv01NiQtCg=='
    expect(sealSecret(message, associatedDataV3(ID), NONCE, deriveKey(root, 0))).toBe(stored)
    expect(openSecret(stored, associatedDataV3(ID), NONCE, deriveKey(root, 0))).toBe(message)
  })

  it('vector 3: 0.2.x shape (KDF id 1, AD = id ‖ description ‖ created_at ‖ updated_at)', () => {
    const ts = '2024-01-06 12:00:00.123456+00'
    const ad = associatedDataV2({ id: ID, description: 'primary', createdAt: ts, updatedAt: ts })
    expect(Buffer.from(ad).toString()).toBe(`${ID}primary${ts}${ts}`)
    const sealed = aeadDetEncrypt(utf8('my-api-key'), ad, NONCE, deriveKey(root, 1))
    expect(hex(sealed)).toBe('398fd0daea838bfa161f9333761dfa8610a12c6142137e9f1c0d2e0e7b5fb8688a67cce07e6f722292f8')
  })
})

describe('against an independent libsodium implementation', () => {
  it('the reference vectors come out of libsodium too (so they are not just our own output)', () => {
    const root = parseRootKey(CLI_ROOT_KEY)
    expect(hex(oracle.kdf(root, 0))).toBe('ed6c3aabed4be3ffeb1bf1b063317426ef773da77afc759bb0215062eaf36ad6')
    const v1 = oracle.encrypt(utf8('my-api-key'), utf8(ID), NONCE, oracle.kdf(root, 0))
    expect(oracle.toBase64(v1)).toBe('HubLfKWnqSW685zGkFGfsvO06LXXPWFDDeFsfXrpyT5mcuKANi+zkP0m')
  })

  it('a fresh vector with the Supabase CLI default root key: libsodium seals, we open; we seal, libsodium opens', () => {
    const root = parseRootKey(CLI_ROOT_KEY)
    const id = 'b7e1c1a4-8d3f-4f5e-9a2b-0c1d2e3f4a5b'
    const nonce = oracle.randomBytes(16)
    const message = 'sk_live_51H… ünïcödé 🔑 and a value long enough for the long S2V branch'
    const fromSodium = oracle.toBase64(oracle.encrypt(utf8(message), utf8(id), nonce, oracle.kdf(root, 0)))
    expect(openSecret(fromSodium, associatedDataV3(id), nonce, deriveKey(root, 0))).toBe(message)
    const ours = sealSecret(message, associatedDataV3(id), nonce, deriveKey(root, 0))
    expect(Buffer.from(oracle.decrypt(decodeStored(ours), utf8(id), nonce, oracle.kdf(root, 0))!).toString()).toBe(message)
  })

  it('matches libsodium for random keys, key ids, messages (every length 0..100 and beyond), AD and nonce', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        fc.oneof(fc.uint8Array({ maxLength: 100 }), fc.uint8Array({ minLength: 100, maxLength: 2000 })),
        fc.option(fc.uint8Array({ maxLength: 200 })),
        fc.option(fc.uint8Array({ minLength: 16, maxLength: 16 })),
        (root, keyId, message, ad, nonce) => {
          const key = deriveKey(root, keyId)
          expect(hex(key)).toBe(hex(oracle.kdf(root, keyId)))
          const sealed = aeadDetEncrypt(message, ad, nonce, key)
          expect(hex(sealed)).toBe(hex(oracle.encrypt(message, ad, nonce, key)))
          expect(hex(aeadDetDecrypt(sealed, ad, nonce, key))).toBe(hex(message))
        },
      ),
      { numRuns: 300 },
    )
  })

  it('covers the S2V branch boundary exactly (31, 32 and 33 bytes) and the dbl carry', () => {
    const root = oracle.randomBytes(32)
    for (const length of [0, 1, 31, 32, 33, 63, 64, 65]) {
      for (let run = 0; run < 20; run++) {
        const message = oracle.randomBytes(length)
        const ad = oracle.randomBytes(run % 3 === 0 ? 0 : 40)
        const key = deriveKey(root, run)
        expect(hex(aeadDetEncrypt(message, ad, NONCE, key))).toBe(hex(oracle.encrypt(message, ad, NONCE, key)))
      }
    }
  })

  it('derives with other contexts as libsodium does', () => {
    const root = oracle.randomBytes(32)
    for (const context of ['pgsodium', 'vaultkey', 'abcdefgh']) {
      expect(hex(deriveKey(root, 7, context))).toBe(hex(oracle.kdf(root, 7, context)))
    }
  })
})

describe('authentication failures', () => {
  const root = parseRootKey(CLI_ROOT_KEY)
  const key = deriveKey(root, 0)
  const stored = sealSecret('my-api-key', associatedDataV3(ID), NONCE, key)

  it('a wrong root key fails with vault_invalid_ciphertext and a clear message', () => {
    const other = deriveKey(parseRootKey('00'.repeat(32)), 0)
    expect(codeOf(() => openSecret(stored, associatedDataV3(ID), NONCE, other))).toBe('vault_invalid_ciphertext')
    expect(() => openSecret(stored, associatedDataV3(ID), NONCE, other)).toThrow(/authentication failed/)
  })

  it('a wrong key id fails', () => {
    expect(codeOf(() => openSecret(stored, associatedDataV3(ID), NONCE, deriveKey(root, 1)))).toBe('vault_invalid_ciphertext')
  })

  it('changed associated data fails (another id, or the 0.2.x AD)', () => {
    expect(codeOf(() => openSecret(stored, associatedDataV3(ID.replace('5f0d', '5f0e')), NONCE, key))).toBe('vault_invalid_ciphertext')
    expect(codeOf(() => openSecret(stored, new Uint8Array(0), NONCE, key))).toBe('vault_invalid_ciphertext')
  })

  it('a changed nonce fails, and a missing one too', () => {
    const nonce = Buffer.from(NONCE)
    nonce[15] ^= 1
    expect(codeOf(() => openSecret(stored, associatedDataV3(ID), nonce, key))).toBe('vault_invalid_ciphertext')
    expect(codeOf(() => openSecret(stored, associatedDataV3(ID), null, key))).toBe('vault_invalid_ciphertext')
  })

  it('every single flipped bit of the ciphertext or tag fails', () => {
    const sealed = decodeStored(stored)
    for (let byte = 0; byte < sealed.length; byte++) {
      for (const bit of [0x01, 0x80]) {
        const tampered = Uint8Array.from(sealed)
        tampered[byte]! ^= bit
        expect(codeOf(() => aeadDetDecrypt(tampered, associatedDataV3(ID), NONCE, key))).toBe('vault_invalid_ciphertext')
      }
    }
  })

  it('truncation, extension and too-short input fail', () => {
    const sealed = decodeStored(stored)
    expect(codeOf(() => aeadDetDecrypt(sealed.subarray(0, sealed.length - 1), associatedDataV3(ID), NONCE, key))).toBe('vault_invalid_ciphertext')
    expect(codeOf(() => aeadDetDecrypt(Buffer.concat([sealed, Buffer.from([0])]), associatedDataV3(ID), NONCE, key))).toBe('vault_invalid_ciphertext')
    expect(codeOf(() => aeadDetDecrypt(new Uint8Array(10), null, null, key))).toBe('vault_invalid_ciphertext')
  })

  it('refuses to open an empty secret, as Vault does (32 bytes or fewer: invalid message)', () => {
    const empty = sealSecret('', associatedDataV3(ID), NONCE, key)
    expect(decodeStored(empty)).toHaveLength(32)
    expect(() => openSecret(empty, associatedDataV3(ID), NONCE, key)).toThrow(/invalid message/)
  })

  it('rejects invalid base64, bad nonces, bad keys and bad root keys with their own codes', () => {
    expect(codeOf(() => openSecret('not base64!!', associatedDataV3(ID), NONCE, key))).toBe('vault_invalid_encoding')
    expect(codeOf(() => openSecret('abc', associatedDataV3(ID), NONCE, key))).toBe('vault_invalid_encoding')
    expect(codeOf(() => aeadDetEncrypt(utf8('x'), null, new Uint8Array(12), key))).toBe('vault_invalid_nonce')
    expect(codeOf(() => aeadDetEncrypt(utf8('x'), null, null, new Uint8Array(16)))).toBe('vault_invalid_key')
    for (const bad of ['', 'xyz', CLI_ROOT_KEY.slice(1), CLI_ROOT_KEY + '0', 'g'.repeat(64)]) {
      expect(codeOf(() => parseRootKey(bad))).toBe('vault_invalid_key')
    }
    expect(codeOf(() => deriveKey(parseRootKey(CLI_ROOT_KEY), -1))).toBe('vault_invalid_key_id')
    expect(codeOf(() => deriveKey(parseRootKey(CLI_ROOT_KEY), 0, 'toolongcontext'))).toBe('vault_invalid_context')
    expect(codeOf(() => deriveKey(parseRootKey(CLI_ROOT_KEY), 0, 'short'))).toBe('vault_invalid_context')
    expect(codeOf(() => deriveKey(parseRootKey(CLI_ROOT_KEY), 2n ** 64n))).toBe('vault_invalid_key_id')
  })

  it('never puts the plaintext or key into an error message', () => {
    try {
      openSecret(stored, associatedDataV3(ID), NONCE, deriveKey(root, 5))
    } catch (error) {
      expect(String((error as Error).message)).not.toContain('my-api-key')
      expect(String((error as Error).message)).not.toContain(CLI_ROOT_KEY)
    }
  })
})

describe('storage format', () => {
  it('wraps base64 at 76 characters with a trailing newline on full lines, as PostgreSQL encode() does', () => {
    expect(encodeStored(new Uint8Array(0))).toBe('')
    expect(encodeStored(new Uint8Array(56))).not.toContain('\n')
    expect(encodeStored(new Uint8Array(57))).toBe('A'.repeat(76) + '\n')
    expect(encodeStored(new Uint8Array(58))).toBe('A'.repeat(76) + '\nAA==')
    expect(encodeStored(new Uint8Array(114))).toBe('A'.repeat(76) + '\n' + 'A'.repeat(76) + '\n')
  })

  it('decodes with any whitespace (COPY \\n, CRLF, spaces) and round-trips any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 500 }), (bytes) => {
        const text = encodeStored(bytes)
        expect(hex(decodeStored(text))).toBe(hex(bytes))
        expect(hex(decodeStored(text.replaceAll('\n', '\r\n  ')))).toBe(hex(bytes))
      }),
    )
  })

  it('prints timestamps as timestamptz::text does under UTC/ISO', () => {
    expect(pgTimestamptzUtc('2024-01-06 12:00:00.123456+00')).toBe('2024-01-06 12:00:00.123456+00')
    expect(pgTimestamptzUtc('2024-01-06T12:00:00.120000Z')).toBe('2024-01-06 12:00:00.12+00')
    expect(pgTimestamptzUtc('2024-01-06 13:00:00.5+01')).toBe('2024-01-06 12:00:00.5+00')
    expect(pgTimestamptzUtc('2024-01-06 12:00:00')).toBe('2024-01-06 12:00:00+00')
    expect(pgTimestamptzUtc(new Date('2024-01-06T12:00:00.100Z'))).toBe('2024-01-06 12:00:00.1+00')
    expect(codeOf(() => pgTimestamptzUtc('yesterday'))).toBe('vault_invalid_encoding')
  })
})
