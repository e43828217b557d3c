/**
 * The whole migration path for secrets: a Supabase CLI data dump (INSERT and COPY forms) carrying
 * `pgsodium.key` and `vault.secrets` rows → `db restore` → `vault import` → readable values under
 * this service's root key. The dumps are made here, sealed by libsodium under the Supabase CLI's
 * default root key, exactly as Vault 0.2.x and 0.3.x store them.
 */
import { Readable } from 'node:stream'
import { beforeAll, beforeEach, expect, it } from 'vitest'
import { restore } from '../../src/dbtools/restore/restore.ts'
import { encodeStored, parseRootKey, pgTimestamptzUtc } from '../../src/vault/cipher.ts'
import { ensurePgsodiumKeyTable } from '../../src/schema/sql/pgsodium-keys.ts'
import { importSecrets } from '../../src/vault/rekey.ts'
import { createVaultStore } from '../../src/vault/store.ts'
import { describeEachDatabase } from '../support/databases.ts'
import { loadOracle } from './sodium-oracle.ts'

const SOURCE_ROOT = 'd4dc5b6d4a1d6a10b2c1e76112c994d65db7cec380572cc1839624d4be3fa275'
const OUR_ROOT = '3d'.repeat(32)
const utf8 = (text: string) => new TextEncoder().encode(text)

let oracle: Awaited<ReturnType<typeof loadOracle>>
beforeAll(async () => {
  oracle = await loadOracle()
})

interface DumpSecret {
  id: string
  name: string
  description: string
  value: string
  /** A pgsodium key (0.2.x) or none (0.3.x). */
  key?: { uuid: string; keyId: number }
  at: string
  nonceHex: string
  stored: string
}

function secret(id: string, name: string, value: string, key?: DumpSecret['key']): DumpSecret {
  const at = '2024-05-17 08:09:10.654321+00'
  const nonce = oracle.randomBytes(16)
  const description = key ? 'made by vault 0.2' : ''
  // 0.2.x binds id ‖ description ‖ created_at::text ‖ updated_at::text; 0.3.x the id alone.
  const ad = key ? utf8(id + description + pgTimestamptzUtc(at) + pgTimestamptzUtc(at)) : utf8(id)
  const sealed = oracle.encrypt(utf8(value), ad, nonce, oracle.kdf(parseRootKey(SOURCE_ROOT), key?.keyId ?? 0))
  return { id, name, description, value, key, at, nonceHex: Buffer.from(nonce).toString('hex'), stored: encodeStored(sealed) }
}

const KEY_A = { uuid: '9a0e4f3b-2c1d-4e5f-8a7b-6c5d4e3f2a10', keyId: 1 }
const KEY_B = { uuid: '9a0e4f3b-2c1d-4e5f-8a7b-6c5d4e3f2a11', keyId: 2 }

function secrets(): DumpSecret[] {
  return [
    secret('11111111-1111-4111-8111-111111111111', 'stripe', 'sk_live_' + 'x'.repeat(90), KEY_A), // wraps: a newline in the stored text
    secret('22222222-2222-4222-8222-222222222222', 'smtp', 'p@ss: ünïcode', KEY_B),
    secret('33333333-3333-4333-8333-333333333333', 'from-0.3', 'sealed by vault 0.3 — long enough to wrap its base64 onto a second line'),
  ]
}

const PREAMBLE = `SET statement_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET session_replication_role = replica;
`

const sqlText = (value: string) => `'${value.replaceAll("'", "''")}'`

/** `supabase db dump --data-only` (INSERT form, as the CLI writes it). */
function insertDump(rows: DumpSecret[], options: { keys?: boolean } = {}): string {
  const keys = [KEY_A, KEY_B]
    .map((k) => `\t('${k.uuid}', 'valid', '2024-01-06 12:00:00.123456+00', NULL, 'aead-det', ${k.keyId}, '\\x7067736f6469756d', NULL, 'associated', NULL, NULL, NULL, 'This is the default key used for vault.secrets', NULL)`)
    .join(',\n')
  const values = rows
    .map((r) => `\t('${r.id}', ${sqlText(r.name)}, ${sqlText(r.description)}, ${sqlText(r.stored)}, ${r.key ? `'${r.key.uuid}'` : 'NULL'}, '\\x${r.nonceHex}', '${r.at}', '${r.at}')`)
    .join(',\n')
  const keyRows = `INSERT INTO "pgsodium"."key" ("id", "status", "created", "expires", "key_type", "key_id", "key_context", "name", "associated_data", "raw_key", "raw_key_nonce", "parent_key", "comment", "user_data") VALUES
${keys};`
  return `${PREAMBLE}
${options.keys === false ? '' : keyRows}

INSERT INTO "vault"."secrets" ("id", "name", "description", "secret", "key_id", "nonce", "created_at", "updated_at") VALUES
${values};

SELECT pg_catalog.setval('"pgsodium"."key_key_id_seq"', 2, true);

RESET ALL;
`
}

/** `--use-copy`: COPY text format, where the stored base64's newline is the escape `\n`. */
function copyDump(rows: DumpSecret[]): string {
  const copyText = (value: string) => value.replaceAll('\\', '\\\\').replaceAll('\n', '\\n').replaceAll('\t', '\\t')
  const keys = [KEY_A, KEY_B].map((k) => [k.uuid, 'valid', '2024-01-06 12:00:00.123456+00', '\\N', 'aead-det', String(k.keyId), '\\\\x7067736f6469756d', '\\N', 'associated', '\\N', '\\N', '\\N', '\\N', '\\N'].join('\t'))
  const values = rows.map((r) => [r.id, copyText(r.name), copyText(r.description), copyText(r.stored), r.key?.uuid ?? '\\N', `\\\\x${r.nonceHex}`, r.at, r.at].join('\t'))
  return `${PREAMBLE}
COPY "pgsodium"."key" ("id", "status", "created", "expires", "key_type", "key_id", "key_context", "name", "associated_data", "raw_key", "raw_key_nonce", "parent_key", "comment", "user_data") FROM stdin;
${keys.join('\n')}
\\.

COPY "vault"."secrets" ("id", "name", "description", "secret", "key_id", "nonce", "created_at", "updated_at") FROM stdin;
${values.join('\n')}
\\.

SELECT pg_catalog.setval('"pgsodium"."key_key_id_seq"', 2, true);

RESET ALL;
`
}

function source(name: string, text: string) {
  return { name, size: Buffer.byteLength(text), open: () => Readable.from([Buffer.from(text)]) }
}

describeEachDatabase('Supabase dump → db restore → vault import', (ctx) => {
  const q = () => ctx().database
  const store = createVaultStore({ rootKey: OUR_ROOT })
  beforeEach(async () => {
    await q().query(`DELETE FROM vault.secrets`)
    await q().exec(`DROP SCHEMA IF EXISTS pgsodium CASCADE`)
  })

  for (const [form, make] of [
    ['INSERT', insertDump],
    ['COPY', copyDump],
  ] as const) {
    it(`${form} dump: 0.2.x and 0.3.x secrets come out readable under this service's key`, async () => {
      const rows = secrets()
      expect(rows.some((r) => r.stored.includes('\n'))).toBe(true)
      // The holding table makes the restore keep the dump's pgsodium.key rows.
      await ensurePgsodiumKeyTable(q())
      await restore(q(), [source(`supabase-data.${form.toLowerCase()}.sql`, make(rows))], { bootstrap: false })
      const { rows: keys } = await q().query<{ n: number }>(`SELECT count(*)::int AS n FROM pgsodium.key`)
      expect(keys[0]!.n).toBe(2)
      for (const r of rows) expect(await store.get(q(), r.name).then(() => 'readable', (e: { code: string }) => e.code)).toMatch(/^vault_(import_required|invalid_ciphertext)$/)

      const report = await q().transaction((tx) => importSecrets(tx, store, { rootKey: SOURCE_ROOT }))
      expect(report.failed).toEqual([])
      expect(report.imported.map((r) => `${r.name}:${r.from}`).sort()).toEqual(['from-0.3:vault-0.3', 'smtp:vault-0.2', 'stripe:vault-0.2'])
      for (const r of rows) expect((await store.get(q(), r.name))?.secret).toBe(r.value)
    })
  }

  it('keeps the dump\'s pgsodium.key rows without a prepared holding table', async () => {
    const rows = secrets()
    await restore(q(), [source('supabase-data.sql', insertDump(rows))], { bootstrap: false })
    const { rows: keys } = await q().query<{ n: number }>(`SELECT count(*)::int AS n FROM pgsodium.key`)
    expect(keys[0]!.n).toBe(2)
    const report = await q().transaction((tx) => importSecrets(tx, store, { rootKey: SOURCE_ROOT }))
    expect(report.failed).toEqual([])
    for (const r of rows) expect((await store.get(q(), r.name))?.secret).toBe(r.value)
  })

  it('without the dump\'s key rows, import fails unless --guess-key-ids recovers the 0.2.x secrets', async () => {
    const rows = secrets()
    await restore(q(), [source('supabase-data.sql', insertDump(rows, { keys: false }))], { bootstrap: false })
    await expect(q().transaction((tx) => importSecrets(tx, store, { rootKey: SOURCE_ROOT }))).rejects.toMatchObject({ code: 'vault_import_failed' })
    const report = await q().transaction((tx) => importSecrets(tx, store, { rootKey: SOURCE_ROOT, guessKeyIds: 5 }))
    expect(report.imported).toHaveLength(3)
    for (const r of rows) expect((await store.get(q(), r.name))?.secret).toBe(r.value)
  })
})
