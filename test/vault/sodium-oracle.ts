/**
 * An independent implementation of `crypto_aead_det_xchacha20` and Vault's key derivation over
 * libsodium's own primitives (libsodium-wrappers-sumo), written from the C reference
 * (supabase/vault src/crypto_aead_det_xchacha20.c). Tests compare src/vault/cipher.ts with it.
 */
import sodium from 'libsodium-wrappers-sumo'

export async function loadOracle() {
  await sodium.ready
  const ABYTES = 32

  function dbl256(d: Uint8Array): void {
    const t = new Uint8Array(32)
    for (let i = 0; i < 32; i++) t[i] = (d[i]! << 1) & 0xff
    for (let i = 31; i !== 0; i--) t[i - 1]! |= d[i]! >> 7
    const mask = d[0]! >> 7 ? 0xff : 0x00
    t[30]! ^= 0x04 & mask
    t[31]! ^= 0x25 & mask
    d.set(t)
  }

  function s2v(m: Uint8Array, ad: Uint8Array | null, nonce: Uint8Array | null, ka: Uint8Array): Uint8Array {
    const d = sodium.crypto_generichash(32, new Uint8Array(ABYTES), ka)
    if (ad && ad.length > 0) {
      dbl256(d)
      const h = sodium.crypto_generichash(ABYTES, ad, ka)
      for (let i = 0; i < 32; i++) d[i]! ^= h[i]!
    }
    if (nonce && nonce.length > 0) {
      dbl256(d)
      const h = sodium.crypto_generichash(ABYTES, nonce, ka)
      for (let i = 0; i < 32; i++) d[i]! ^= h[i]!
    }
    const st = sodium.crypto_generichash_init(ka, ABYTES)
    if (m.length >= ABYTES) {
      sodium.crypto_generichash_update(st, m.subarray(0, m.length - ABYTES))
      const tail = m.subarray(m.length - ABYTES)
      for (let i = 0; i < 32; i++) d[i]! ^= tail[i]!
    } else {
      dbl256(d)
      for (let i = 0; i < m.length; i++) d[i]! ^= m[i]!
      d[m.length]! ^= 0x80
    }
    sodium.crypto_generichash_update(st, d)
    return sodium.crypto_generichash_final(st, ABYTES)
  }

  function subkeys(k: Uint8Array) {
    const s = sodium.crypto_generichash(64, new Uint8Array(0), k)
    return { ka: s.slice(0, 32), ke: s.slice(32, 64) }
  }

  return {
    kdf(root: Uint8Array, keyId: number | bigint, context = 'pgsodium'): Uint8Array {
      return sodium.crypto_kdf_derive_from_key(32, BigInt(keyId) as unknown as number, context, root)
    },
    encrypt(m: Uint8Array, ad: Uint8Array | null, nonce: Uint8Array | null, k: Uint8Array): Uint8Array {
      const { ka, ke } = subkeys(k)
      const mac = s2v(m, ad, nonce, ka)
      const c = sodium.crypto_stream_xchacha20_xor(m, mac.subarray(0, 24), ke)
      const out = new Uint8Array(m.length + ABYTES)
      out.set(c)
      out.set(mac, m.length)
      return out
    },
    /** Returns null when the tag does not verify. */
    decrypt(c: Uint8Array, ad: Uint8Array | null, nonce: Uint8Array | null, k: Uint8Array): Uint8Array | null {
      if (c.length < ABYTES) return null
      const { ka, ke } = subkeys(k)
      const mlen = c.length - ABYTES
      const mac = c.subarray(mlen)
      const m = sodium.crypto_stream_xchacha20_xor(c.subarray(0, mlen), mac.subarray(0, 24), ke)
      return sodium.memcmp(mac, s2v(m, ad, nonce, ka)) ? m : null
    },
    randomBytes: (n: number) => sodium.randombytes_buf(n),
    toBase64: (b: Uint8Array) => sodium.to_base64(b, sodium.base64_variants.ORIGINAL),
  }
}
