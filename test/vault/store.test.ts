import fc from 'fast-check'
import { beforeAll, expect, it } from 'vitest'
import { withSession } from '../../src/db/session.ts'
import type { Queryable } from '../../src/db/types.ts'
import { decodeStored, encodeStored, parseRootKey, pgTimestamptzUtc } from '../../src/vault/cipher.ts'
import { createVaultStore, serverVault, type VaultStore } from '../../src/vault/store.ts'
import { describeEachDatabase } from '../support/databases.ts'
import { loadOracle } from './sodium-oracle.ts'

const ROOT = 'd4dc5b6d4a1d6a10b2c1e76112c994d65db7cec380572cc1839624d4be3fa275'
const OTHER_ROOT = 'ab'.repeat(32)

let oracle: Awaited<ReturnType<typeof loadOracle>>
beforeAll(async () => {
  oracle = await loadOracle()
})

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise
  } catch (error) {
    return (error as { code?: string }).code ?? `uncoded: ${(error as Error).message}`
  }
  return undefined
}

interface RawRow {
  id: string
  secret: string
  key_id: string | null
  nonce_hex: string
}

async function rawRow(q: Queryable, id: string): Promise<RawRow> {
  const { rows } = await q.query<RawRow>(`SELECT id::text, secret, key_id::text, encode(nonce, 'hex') AS nonce_hex FROM vault.secrets WHERE id = $1::uuid`, [id])
  return rows[0]!
}

describeEachDatabase('vault store (service mode)', (ctx) => {
  let store: VaultStore
  beforeAll(() => {
    store = createVaultStore({ rootKey: ROOT })
  })
  const q = () => ctx().database

  it('detects that there is no supabase_vault extension', async () => {
    expect(await createVaultStore({ rootKey: ROOT }).mode(q())).toEqual({ kind: 'service' })
  })

  it('creates, reads by id and by name, lists without values, updates and deletes', async () => {
    const created = await store.create(q(), { name: 'stripe_key', secret: 'sk_test_123', description: 'Stripe' })
    expect(created).toMatchObject({ name: 'stripe_key', description: 'Stripe' })
    expect(created).not.toHaveProperty('secret')
    expect(created.created_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/)

    expect((await store.get(q(), created.id))?.secret).toBe('sk_test_123')
    expect((await store.get(q(), 'stripe_key'))?.secret).toBe('sk_test_123')
    expect(await store.get(q(), 'nope')).toBeUndefined()

    const listed = await store.list(q())
    expect(listed.map((s) => s.name)).toContain('stripe_key')
    expect(JSON.stringify(listed)).not.toContain('sk_test_123')

    const renamed = await store.update(q(), created.id, { name: 'stripe', description: 'Stripe live' })
    expect(renamed).toMatchObject({ id: created.id, name: 'stripe', description: 'Stripe live' })
    expect((await store.get(q(), 'stripe'))?.secret).toBe('sk_test_123')
    await store.update(q(), 'stripe', { secret: 'sk_test_456' })
    expect((await store.get(q(), created.id))?.secret).toBe('sk_test_456')

    expect((await store.delete(q(), created.id))?.id).toBe(created.id)
    expect(await store.get(q(), created.id)).toBeUndefined()
    expect(await store.delete(q(), created.id)).toBeUndefined()
  })

  it('stores the Vault 0.3.x form: key_id NULL, 16-byte nonce, sealed with KDF(root, 0) and AD = id (checked with libsodium)', async () => {
    const created = await store.create(q(), { name: 'compat', secret: 'value-from-resolution ✓' })
    const row = await rawRow(q(), created.id)
    expect(row.key_id).toBeNull()
    expect(row.nonce_hex).toHaveLength(32)
    const root = parseRootKey(ROOT)
    const opened = oracle.decrypt(decodeStored(row.secret), new TextEncoder().encode(created.id), Buffer.from(row.nonce_hex, 'hex'), oracle.kdf(root, 0))
    expect(opened && Buffer.from(opened).toString()).toBe('value-from-resolution ✓')
  })

  it('reads a row sealed by libsodium the way Vault 0.3.x create_secret does', async () => {
    const id = '0b7d1c2e-3f40-4a5b-8c6d-7e8f90a1b2c3'
    const nonce = oracle.randomBytes(16)
    const sealed = oracle.encrypt(new TextEncoder().encode('from-vault'), new TextEncoder().encode(id), nonce, oracle.kdf(parseRootKey(ROOT), 0))
    await q().query(`INSERT INTO vault.secrets (id, name, secret, nonce) VALUES ($1::uuid, 'sealed-by-sodium', $2, decode($3, 'hex'))`, [
      id,
      encodeStored(sealed),
      Buffer.from(nonce).toString('hex'),
    ])
    expect((await store.get(q(), 'sealed-by-sodium'))?.secret).toBe('from-vault')
  })

  it('writes base64 exactly as PostgreSQL encode() does, for every length around the line breaks', async () => {
    const lengths = Array.from({ length: 130 }, (_, i) => i)
    const { rows } = await q().query<{ n: number; b64: string }>(
      `SELECT n, encode(substr(decode(repeat('ab', 200), 'hex'), 1, n), 'base64') AS b64 FROM unnest($1::int[]) AS n ORDER BY n`,
      [lengths],
    )
    for (const row of rows) expect(encodeStored(new Uint8Array(row.n).fill(0xab))).toBe(row.b64)
  })

  it('prints timestamps as the database prints timestamptz::text under UTC/ISO (the 0.2.x AD)', async () => {
    const samples = ['2024-01-06 12:00:00+00', '2024-01-06 12:00:00.1+00', '2024-01-06 12:00:00.123456+00', '2023-12-31 23:59:59.99999+00', '2024-02-29 06:07:08.5+00']
    await q().transaction(async (tx) => {
      await tx.query(`SELECT set_config('TimeZone', 'UTC', true), set_config('DateStyle', 'ISO, MDY', true)`)
      for (const sample of samples) {
        const { rows } = await tx.query<{ text: string; utc: string }>(
          `SELECT $1::timestamptz::text AS text, to_char($1::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS utc`,
          [sample],
        )
        expect(pgTimestamptzUtc(rows[0]!.utc)).toBe(rows[0]!.text)
      }
    })
  })

  it('round-trips any Unicode value, name and description through the database (property)', async () => {
    const text = (min: number, max: number) => fc.string({ unit: 'binary', minLength: min, maxLength: max }).filter((s) => !s.includes('\u0000'))
    await fc.assert(
      fc.asyncProperty(text(1, 300), text(1, 40), text(0, 40), async (secret, name, description) => {
        fc.pre(name.trim() === name && name.length > 0)
        const created = await store.create(q(), { name, secret, description })
        try {
          const read = await store.get(q(), created.id)
          expect(read).toMatchObject({ name, description, secret })
          expect((await store.get(q(), name))?.id).toBe(created.id)
        } finally {
          await store.delete(q(), created.id)
        }
      }),
      { numRuns: 60 },
    )
  })

  it('refuses a duplicate name with vault_duplicate_name (create and rename)', async () => {
    const first = await store.create(q(), { name: 'dup', secret: 'one' })
    expect(await codeOf(store.create(q(), { name: 'dup', secret: 'two' }))).toBe('vault_duplicate_name')
    const second = await store.create(q(), { name: 'dup2', secret: 'two' })
    expect(await codeOf(store.update(q(), second.id, { name: 'dup' }))).toBe('vault_duplicate_name')
    expect((await store.get(q(), first.id))?.secret).toBe('one')
  })

  it('allows secrets without a name (as Vault does) and several of them', async () => {
    const a = await store.create(q(), { secret: 'anonymous one' })
    const b = await store.create(q(), { secret: 'anonymous two' })
    expect(a.name).toBeNull()
    expect((await store.get(q(), b.id))?.secret).toBe('anonymous two')
  })

  it('rejects bad input with vault_invalid_request before any SQL', async () => {
    for (const input of [
      { name: 'x', secret: '' },
      { name: 'x', secret: 'a\u0000b' },
      { name: 'x', secret: 'lone \ud800 surrogate' },
      { name: '', secret: 'v' },
      { name: ' padded', secret: 'v' },
      { name: 'x', secret: 'v', description: 'nul\u0000' },
      { name: 'x'.repeat(2000), secret: 'v' },
      { name: 'x', secret: 42 as unknown as string },
    ]) {
      expect(await codeOf(store.create(q(), input))).toBe('vault_invalid_request')
    }
    expect(await codeOf(store.get(q(), ''))).toBe('vault_invalid_request')
    expect(await codeOf(store.update(q(), 'missing-name', { secret: 'v' }))).toBe('vault_secret_not_found')
  })

  it('a wrong root key fails authentication with vault_invalid_ciphertext and names the way out', async () => {
    const created = await store.create(q(), { name: 'under-root', secret: 'v1' })
    const wrong = createVaultStore({ rootKey: OTHER_ROOT })
    const error = (await wrong.get(q(), created.id).then(
      () => undefined,
      (e: unknown) => e,
    )) as Error & { code: string; status: number }
    expect(error).toMatchObject({ code: 'vault_invalid_ciphertext', status: 500 })
    expect(error.message).toMatch(/vault import --root-key/)
    expect(error.message).not.toContain('v1')
  })

  it('a tampered ciphertext, a changed id (AD) or a changed nonce fail authentication', async () => {
    const created = await store.create(q(), { name: 'tamper', secret: 'do-not-touch' })
    const row = await rawRow(q(), created.id)
    const bytes = decodeStored(row.secret)
    bytes[0]! ^= 1
    await q().query(`UPDATE vault.secrets SET secret = $2 WHERE id = $1::uuid`, [created.id, encodeStored(bytes)])
    expect(await codeOf(store.get(q(), created.id))).toBe('vault_invalid_ciphertext')

    await q().query(`UPDATE vault.secrets SET secret = $2 WHERE id = $1::uuid`, [created.id, row.secret])
    expect((await store.get(q(), created.id))?.secret).toBe('do-not-touch')
    await q().query(`UPDATE vault.secrets SET nonce = decode($2, 'hex') WHERE id = $1::uuid`, [created.id, '00'.repeat(16)])
    expect(await codeOf(store.get(q(), created.id))).toBe('vault_invalid_ciphertext')

    await q().query(`UPDATE vault.secrets SET nonce = decode($2, 'hex'), id = gen_random_uuid() WHERE id = $1::uuid`, [created.id, row.nonce_hex])
    expect(await codeOf(store.get(q(), 'tamper'))).toBe('vault_invalid_ciphertext')
    await q().query(`DELETE FROM vault.secrets WHERE name = 'tamper'`)
  })

  it('a row restored from Vault 0.2.x (foreign pgsodium key id) asks for vault import', async () => {
    await q().query(`INSERT INTO vault.secrets (name, secret, key_id, nonce) VALUES ('old-02', 'AAAA', gen_random_uuid(), decode(repeat('00', 16), 'hex'))`)
    expect(await codeOf(store.get(q(), 'old-02'))).toBe('vault_import_required')
    // Editing only metadata would change its 0.2.x AD: refused; replacing the value is fine.
    expect(await codeOf(store.update(q(), 'old-02', { description: 'x' }))).toBe('vault_import_required')
    await store.update(q(), 'old-02', { secret: 'replaced' })
    expect((await store.get(q(), 'old-02'))?.secret).toBe('replaced')
    await store.delete(q(), 'old-02')
  })

  it('without a root key, service mode answers vault_not_configured (503)', async () => {
    const unconfigured = createVaultStore({})
    const error = await unconfigured.create(q(), { name: 'n', secret: 's' }).catch((e: unknown) => e as { code: string; status: number })
    expect(error).toMatchObject({ code: 'vault_not_configured', status: 503 })
  })

  it('serverVault.get reads within the request session, even for an authenticated caller, and restores the role', async () => {
    await store.create(q(), { name: 'app-api-key', secret: 'for-app-code' })
    const vault = serverVault({ config: { vaultRootKey: ROOT } })
    const result = await withSession(q() as never, { role: 'authenticated', claims: { sub: 'u1', role: 'authenticated' } }, async (tx) => {
      const value = await vault.get(tx, 'app-api-key')
      const missing = await vault.get(tx, 'no-such-secret')
      const { rows } = await tx.query<{ role: string }>(`SELECT current_user AS role`)
      return { value, missing, role: rows[0]!.role }
    })
    expect(result).toEqual({ value: 'for-app-code', missing: undefined, role: 'authenticated' })
  })

})

describeEachDatabase('vault store (supabase_vault extension mode, emulated functions)', (ctx) => {
  // The real extension is not installable here; these stand-ins have its signatures and record
  // that the store went through them (values are only base64-wrapped, marked "ext:").
  beforeAll(async () => {
    await ctx().database.exec(`
      CREATE FUNCTION vault.create_secret(new_secret text, new_name text = NULL, new_description text = '', new_key_id uuid = NULL)
      RETURNS uuid LANGUAGE sql SECURITY DEFINER AS $$
        INSERT INTO vault.secrets (secret, name, description)
        VALUES ('ext:' || encode(convert_to(new_secret, 'utf8'), 'base64'), new_name, new_description) RETURNING id
      $$;
      CREATE FUNCTION vault.update_secret(secret_id uuid, new_secret text = NULL, new_name text = NULL, new_description text = NULL, new_key_id uuid = NULL)
      RETURNS void LANGUAGE sql SECURITY DEFINER AS $$
        UPDATE vault.secrets SET
          secret = CASE WHEN new_secret IS NULL THEN secret ELSE 'ext:' || encode(convert_to(new_secret, 'utf8'), 'base64') END,
          name = coalesce(new_name, name), description = coalesce(new_description, description), updated_at = now()
        WHERE id = secret_id
      $$;
      CREATE VIEW vault.decrypted_secrets AS
        SELECT s.id, s.name, s.description, s.secret,
          convert_from(decode(substr(s.secret, 5), 'base64'), 'utf8') AS decrypted_secret,
          s.key_id, s.nonce, s.created_at, s.updated_at
        FROM vault.secrets s;
      -- Supabase's grants: reads and deletes, writes only through the functions.
      REVOKE ALL ON FUNCTION vault.create_secret(text, text, text, uuid), vault.update_secret(uuid, text, text, text, uuid) FROM PUBLIC;
      GRANT EXECUTE ON FUNCTION vault.create_secret(text, text, text, uuid), vault.update_secret(uuid, text, text, text, uuid) TO service_role;
      GRANT SELECT, DELETE ON vault.decrypted_secrets TO service_role;
    `)
  })
  const q = () => ctx().database

  it('goes through vault.create_secret, vault.update_secret and vault.decrypted_secrets with only Supabase\'s grants', async () => {
    const store = createVaultStore({ mode: 'extension' }) // no root key needed: the extension holds it
    // As service_role, which may not INSERT or UPDATE vault.secrets (nor lock rows FOR UPDATE).
    let lockCode: string | undefined
    await withSession(q() as never, { role: 'service_role' }, async (tx) => {
      lockCode = await codeOf(tx.query(`SELECT 1 FROM vault.secrets FOR UPDATE`))
    }).catch(() => undefined) // the transaction is aborted by the refused lock; only its code matters
    expect(lockCode).toBe('42501')
    const asServiceRole = <T>(fn: (tx: Queryable) => Promise<T>) =>
      withSession(q() as never, { role: 'service_role' }, fn)
    const created = await asServiceRole((tx) => store.create(tx, { name: 'ext-secret', secret: 'through-the-extension', description: 'd' }))
    expect((await rawRow(q(), created.id)).secret).toMatch(/^ext:/)
    expect((await asServiceRole((tx) => store.get(tx, 'ext-secret')))?.secret).toBe('through-the-extension')
    const updated = await asServiceRole((tx) => store.update(tx, created.id, { secret: 'changed', description: 'd2' }))
    expect(updated.description).toBe('d2')
    expect((await asServiceRole((tx) => store.get(tx, created.id)))?.secret).toBe('changed')
    expect(await codeOf(asServiceRole((tx) => store.delete(tx, 'ext-secret')))).toBeUndefined()
    expect(await store.list(q())).toEqual([])
  })

  it('goes through the same functions as the connecting role', async () => {
    const store = createVaultStore({ mode: 'extension' })
    const created = await store.create(q(), { name: 'ext-secret', secret: 'through-the-extension', description: 'd' })
    expect((await rawRow(q(), created.id)).secret).toMatch(/^ext:/)
    expect((await store.get(q(), 'ext-secret'))?.secret).toBe('through-the-extension')
    const updated = await store.update(q(), created.id, { secret: 'changed', description: 'd2' })
    expect(updated.description).toBe('d2')
    expect((await store.get(q(), created.id))?.secret).toBe('changed')
    expect(await codeOf(store.create(q(), { name: 'ext-secret', secret: 'again' }))).toBe('vault_duplicate_name')
    expect((await store.delete(q(), 'ext-secret'))?.id).toBe(created.id)
    expect(await store.list(q())).toEqual([])
  })
})
