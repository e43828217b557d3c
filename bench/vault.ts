/**
 * Vault benchmark: the pure-TypeScript cipher (seal/open of a Vault row, key derivation) and the
 * store's create/get on the embedded database. Run: `node --import tsx bench/vault.ts`
 * (add `--quick` for a short run). Figures are per call, on this machine, single-threaded.
 */
import { createPgliteDatabase } from '../src/db/pglite-driver.ts'
import { bootstrap } from '../src/schema/bootstrap.ts'
import { associatedDataV3, deriveKey, generateNonce, openSecret, parseRootKey, sealSecret } from '../src/vault/cipher.ts'
import { createVaultStore } from '../src/vault/store.ts'

const quick = process.argv.includes('--quick')
const ROOT = 'd4dc5b6d4a1d6a10b2c1e76112c994d65db7cec380572cc1839624d4be3fa275'

function measure(label: string, iterations: number, fn: (i: number) => void): void {
  for (let i = 0; i < Math.min(200, iterations); i++) fn(i) // warm-up
  const started = process.hrtime.bigint()
  for (let i = 0; i < iterations; i++) fn(i)
  const ns = Number(process.hrtime.bigint() - started)
  report(label, iterations, ns)
}

async function measureAsync(label: string, iterations: number, fn: (i: number) => Promise<void>): Promise<void> {
  for (let i = 0; i < Math.min(20, iterations); i++) await fn(-1 - i)
  const started = process.hrtime.bigint()
  for (let i = 0; i < iterations; i++) await fn(i)
  report(label, iterations, Number(process.hrtime.bigint() - started))
}

function report(label: string, iterations: number, ns: number): void {
  const perCall = ns / iterations
  const unit = perCall > 1e6 ? `${(perCall / 1e6).toFixed(2)} ms` : `${(perCall / 1e3).toFixed(1)} µs`
  console.log(`${label.padEnd(44)} ${unit.padStart(10)} per call  ${Math.round(1e9 / perCall).toLocaleString('en').padStart(9)} /s  (n=${iterations})`)
}

const root = parseRootKey(ROOT)
const key = deriveKey(root, 0)
const ad = associatedDataV3('5f0d3c9a-1b2e-4c7d-8e9f-0a1b2c3d4e5f')
const n = quick ? 2000 : 20000

measure('deriveKey (crypto_kdf, BLAKE2b)', n, (i) => void deriveKey(root, i))
for (const size of [16, 1024, 64 * 1024]) {
  const value = 'x'.repeat(size)
  const nonce = generateNonce()
  const stored = sealSecret(value, ad, nonce, key)
  const iterations = size > 10_000 ? n / 50 : n
  measure(`seal ${size} B (encrypt + base64)`, iterations, () => void sealSecret(value, ad, nonce, key))
  measure(`open ${size} B (base64 + decrypt + verify)`, iterations, () => void openSecret(stored, ad, nonce, key))
}

const database = await createPgliteDatabase()
await bootstrap(database)
const store = createVaultStore({ rootKey: ROOT })
const rows = quick ? 200 : 2000
await measureAsync('store.create on PGlite (one row per call)', rows, async (i) => {
  await store.create(database, { name: `bench-${i}`, secret: `value-${i}` })
})
await measureAsync('store.get by name on PGlite', rows, async (i) => {
  const found = await store.get(database, `bench-${Math.abs(i) % rows}`)
  if (!found) throw new Error('missing')
})
await database.close()
