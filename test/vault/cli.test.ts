import { execFile } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { Command } from 'commander'
import { beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { register } from '../../src/cli/commands/vault.ts'
import { loadConfig } from '../../src/config/config.ts'
import type { Database, Queryable } from '../../src/db/types.ts'
import { decodeStored, encodeStored, parseRootKey } from '../../src/vault/cipher.ts'
import { ensurePgsodiumKeyTable } from '../../src/schema/sql/pgsodium-keys.ts'
import { rotateSecrets } from '../../src/vault/rekey.ts'
import { createVaultStore } from '../../src/vault/store.ts'
import { describeEachDatabase, type TestDatabase } from '../support/databases.ts'
import { TEST_JWT_SECRET } from '../support/app.ts'
import { loadOracle } from './sodium-oracle.ts'

/** The Supabase CLI's public default root key: the "source project" of the dumps below. */
const SOURCE_ROOT = 'd4dc5b6d4a1d6a10b2c1e76112c994d65db7cec380572cc1839624d4be3fa275'
/** This service's own root key. */
const OUR_ROOT = '5e'.repeat(32)
const NEXT_ROOT = '7a'.repeat(32)
const utf8 = (text: string) => new TextEncoder().encode(text)

let oracle: Awaited<ReturnType<typeof loadOracle>>
beforeAll(async () => {
  oracle = await loadOracle()
})

interface Run {
  stdout: string
  stderr: string
  error?: Error
}

/** Runs `resolution vault …` through commander against the suite's database. */
function cli(testDb: () => TestDatabase, rootKey = OUR_ROOT) {
  return async (args: string[], stdin = ''): Promise<Run> => {
    const out: string[] = []
    const err: string[] = []
    const program = new Command('resolution').exitOverride()
    register(program, {
      withDatabase: (_options, fn) => fn(testDb().database, loadConfig({ JWT_SECRET: TEST_JWT_SECRET, VAULT_ROOT_KEY: rootKey })),
      stdout: (text) => void out.push(text),
      stderr: (text) => void err.push(text),
      readStdin: async () => stdin,
    })
    try {
      await program.parseAsync(['node', 'resolution', 'vault', ...args])
      return { stdout: out.join(''), stderr: err.join('') }
    } catch (error) {
      return { stdout: out.join(''), stderr: err.join(''), error: error as Error }
    }
  }
}

async function rows(q: Queryable): Promise<Array<{ id: string; name: string; secret: string; key_id: string | null; nonce_hex: string }>> {
  const result = await q.query<{ id: string; name: string; secret: string; key_id: string | null; nonce_hex: string }>(
    `SELECT id::text, name, secret, key_id::text, encode(nonce, 'hex') AS nonce_hex FROM vault.secrets ORDER BY name`,
  )
  return result.rows
}

/** A row as Supabase Vault 0.3.x create_secret leaves it, sealed by libsodium under `root`. */
async function insertV3Row(q: Queryable, name: string, value: string, root = SOURCE_ROOT): Promise<string> {
  const { rows: ids } = await q.query<{ id: string }>(`SELECT gen_random_uuid()::text AS id`)
  const id = ids[0]!.id
  const nonce = oracle.randomBytes(16)
  const sealed = oracle.encrypt(utf8(value), utf8(id), nonce, oracle.kdf(parseRootKey(root), 0))
  await q.query(`INSERT INTO vault.secrets (id, name, secret, nonce) VALUES ($1::uuid, $2, $3, decode($4, 'hex'))`, [id, name, encodeStored(sealed), Buffer.from(nonce).toString('hex')])
  return id
}

/** The pgsodium.key table of a restored 0.2.x-era data dump, as `db restore` may create it. */
async function createPgsodiumKeyTable(q: Queryable): Promise<void> {
  await q.exec(`DROP TABLE IF EXISTS pgsodium.key`)
  await ensurePgsodiumKeyTable(q)
  await ensurePgsodiumKeyTable(q) // idempotent
}

/**
 * A row as Vault 0.2.x's trigger leaves it: key_id → a pgsodium key, sealed under KDF(root, key id)
 * with AD = id ‖ description ‖ created_at::text ‖ updated_at::text (as printed under UTC).
 */
async function insertV2Row(q: Database, options: { name: string; value: string; keyUuid: string; kdfId: number; createdAt: string; description: string }): Promise<string> {
  const { rows: ids } = await q.query<{ id: string }>(`SELECT gen_random_uuid()::text AS id`)
  const id = ids[0]!.id
  const texts = await q.transaction(async (tx) => {
    await tx.query(`SELECT set_config('TimeZone', 'UTC', true), set_config('DateStyle', 'ISO, MDY', true)`)
    const { rows } = await tx.query<{ text: string }>(`SELECT $1::timestamptz::text AS text`, [options.createdAt])
    return rows[0]!.text
  })
  const nonce = oracle.randomBytes(16)
  const ad = utf8(id + options.description + texts + texts)
  const sealed = oracle.encrypt(utf8(options.value), ad, nonce, oracle.kdf(parseRootKey(SOURCE_ROOT), options.kdfId))
  await q.query(
    `INSERT INTO vault.secrets (id, name, description, secret, key_id, nonce, created_at, updated_at)
     VALUES ($1::uuid, $2, $3, $4, $5::uuid, decode($6, 'hex'), $7::timestamptz, $7::timestamptz)`,
    [id, options.name, options.description, encodeStored(sealed), options.keyUuid, Buffer.from(nonce).toString('hex'), options.createdAt],
  )
  return id
}

describeEachDatabase('resolution vault set|get|list|delete', (ctx) => {
  const run = cli(ctx)
  beforeEach(async () => {
    await ctx().database.query(`DELETE FROM vault.secrets`)
  })

  it('sets from an argument or stdin, updates by name, gets, lists without values and deletes', async () => {
    expect((await run(['set', 'db_password', 'hunter2', '-d', 'primary db'])).stdout).toMatch(/^created [0-9a-f-]{36} "db_password"\n$/)
    expect((await run(['set', 'from_stdin'], 'piped value\n')).stdout).toMatch(/^created /)
    expect((await run(['get', 'from_stdin'])).stdout).toBe('piped value\n')
    expect((await run(['set', 'db_password'], 'hunter3')).stdout).toMatch(/^updated /)
    expect((await run(['get', 'db_password'])).stdout).toBe('hunter3\n')
    const got = JSON.parse((await run(['get', 'db_password', '--json'])).stdout)
    expect(got).toMatchObject({ name: 'db_password', description: 'primary db', secret: 'hunter3' })

    const list = await run(['list'])
    expect(list.stdout).toMatch(/^id\s+name\s+description\s+updated_at\n/)
    expect(list.stdout).toContain('db_password')
    expect(list.stdout).not.toContain('hunter3')
    const json = JSON.parse((await run(['list', '--json'])).stdout) as Array<Record<string, unknown>>
    expect(json.map((s) => s.name).sort()).toEqual(['db_password', 'from_stdin'])
    expect(JSON.stringify(json)).not.toContain('piped value')

    expect((await run(['delete', 'db_password'])).stdout).toMatch(/^deleted /)
    expect((await run(['get', 'db_password'])).error?.message).toMatch(/^vault_secret_not_found/)
    expect((await run(['delete', 'db_password'])).error?.message).toMatch(/^vault_secret_not_found/)
  })

  it('refuses an empty value with a clear one-line error', async () => {
    expect((await run(['set', 'empty'], '')).error?.message).toMatch(/^vault_invalid_request: "secret" must not be empty/)
  })
})

describeEachDatabase('resolution vault rotate', (ctx) => {
  const run = cli(ctx)
  const q = () => ctx().database
  beforeEach(async () => {
    await q().query(`DELETE FROM vault.secrets`)
  })

  it('re-encrypts every secret under the next key id, and new secrets follow it', async () => {
    for (const [name, value] of [['a', 'alpha'], ['b', 'bravo'], ['c', 'charlie']]) await run(['set', name!, value!])
    const before = await rows(q())
    expect(before.every((row) => row.key_id === null)).toBe(true)

    expect((await run(['rotate'])).stdout).toBe('rotated 3 secret(s) from key id 0 to key id 1\n')
    const after = await rows(q())
    for (const [i, row] of after.entries()) {
      expect(row.key_id).toBe('7265736f-6c75-8000-8000-000000000001')
      expect(row.secret).not.toBe(before[i]!.secret)
      // Independently: KDF id 1 of our root, AD = id.
      const opened = oracle.decrypt(decodeStored(row.secret), utf8(row.id), Buffer.from(row.nonce_hex, 'hex'), oracle.kdf(parseRootKey(OUR_ROOT), 1))
      expect(Buffer.from(opened!).toString()).toBe(['alpha', 'bravo', 'charlie'][i])
    }
    await run(['set', 'd', 'delta'])
    expect((await rows(q())).find((row) => row.name === 'd')?.key_id).toBe('7265736f-6c75-8000-8000-000000000001')
    expect((await run(['get', 'b'])).stdout).toBe('bravo\n')

    expect((await run(['rotate', '--key-id', '0'])).stdout).toBe('rotated 4 secret(s) from key id 1 to key id 0\n')
    expect((await rows(q())).every((row) => row.key_id === null)).toBe(true)
    expect((await run(['get', 'd'])).stdout).toBe('delta\n')
  })

  it('is all or nothing: one undecryptable row leaves every row as it was', async () => {
    await run(['set', 'good', 'fine'])
    await insertV3Row(q(), 'foreign', 'sealed elsewhere', SOURCE_ROOT)
    const before = await rows(q())
    const result = await run(['rotate'])
    expect(result.error?.message).toMatch(/^vault_invalid_ciphertext: secret [0-9a-f-]{36} cannot be decrypted/)
    expect(await rows(q())).toEqual(before)
  })

  it('holds writers off while it runs, so no secret is written under the old key meanwhile', async () => {
    await run(['set', 'existing', 'one'])
    const store = createVaultStore({ rootKey: OUR_ROOT })
    let release!: () => void
    const held = new Promise<void>((resolve) => (release = resolve))
    let rotated!: () => void
    const rotatedSignal = new Promise<void>((resolve) => (rotated = resolve))
    const rotation = q().transaction(async (tx) => {
      await rotateSecrets(tx, store, {})
      rotated()
      await held // keep the transaction open
    })
    await rotatedSignal
    const writer = store.create(q(), { name: 'during-rotation', secret: 'two' })
    const raced = await Promise.race([writer.then(() => 'written'), new Promise((resolve) => setTimeout(() => resolve('waiting'), 300))])
    expect(raced).toBe('waiting')
    release()
    await rotation
    await writer
    const all = await rows(q())
    expect(all.map((row) => [row.name, row.key_id])).toEqual([
      ['during-rotation', '7265736f-6c75-8000-8000-000000000001'],
      ['existing', '7265736f-6c75-8000-8000-000000000001'],
    ])
  })

  it('--dry-run re-encrypts in a transaction and rolls back', async () => {
    await run(['set', 'x', 'y'])
    const before = await rows(q())
    expect((await run(['rotate', '--dry-run'])).stdout).toBe('dry run: would rotate 1 secret(s) from key id 0 to key id 1\n')
    expect(await rows(q())).toEqual(before)
  })

  it('--to-root-key moves every secret to a new root key (key id 0 there)', async () => {
    await run(['set', 'moving', 'to-new-root'])
    const result = await run(['rotate', '--to-root-key', NEXT_ROOT])
    expect(result.stdout).toBe('rotated 1 secret(s) from key id 0 to key id 0 under the new root key\n')
    expect(result.stderr).toMatch(/set VAULT_ROOT_KEY/)
    expect((await run(['get', 'moving'])).error?.message).toMatch(/^vault_invalid_ciphertext/)
    expect((await cli(ctx, NEXT_ROOT)(['get', 'moving'])).stdout).toBe('to-new-root\n')
    // And back again with the new key configured.
    await cli(ctx, NEXT_ROOT)(['rotate', '--to-root-key', OUR_ROOT])
    expect((await run(['get', 'moving'])).stdout).toBe('to-new-root\n')
  })

  it('rejects bad options with one clear line', async () => {
    expect((await run(['rotate', '--key-id', 'x'])).error?.message).toMatch(/--key-id must be a whole number/)
    expect((await run(['rotate', '--to-root-key', 'abc'])).error?.message).toMatch(/^vault_invalid_key: --to-root-key/)
    expect((await run(['rotate', '--to-root-key', NEXT_ROOT, '--to-root-key-file', '/nonexistent'])).error?.message).toMatch(/not both/)
  })
})

describeEachDatabase('resolution vault import (secrets restored from Supabase dumps)', (ctx) => {
  const run = cli(ctx)
  const q = () => ctx().database
  const store = createVaultStore({ rootKey: OUR_ROOT })
  const KEY_UUID = '3c5a8f52-0d11-4b4e-a1de-5b3a1c2d9e01'
  beforeEach(async () => {
    await q().query(`DELETE FROM vault.secrets`)
    await q().exec(`DROP TABLE IF EXISTS pgsodium.key`)
  })

  it('imports a 0.3.x-shaped row (key id 0, AD = id) sealed under the Supabase CLI default root key', async () => {
    const id = await insertV3Row(q(), 'v3', 'value from supabase 0.3')
    expect((await run(['get', 'v3'])).error?.message).toMatch(/^vault_invalid_ciphertext/)
    const result = await run(['import', '--root-key', SOURCE_ROOT])
    expect(result.error).toBeUndefined()
    expect(result.stdout).toContain('imported 1 of 1 secret(s)')
    expect(result.stdout).toContain(`${id} "v3" (vault-0.3)`)
    expect((await run(['get', 'v3'])).stdout).toBe('value from supabase 0.3\n')
    const [row] = await rows(q())
    expect(row!.key_id).toBeNull()
    // The imported row is a plain Vault 0.3.x row under our root key (checked with libsodium).
    const opened = oracle.decrypt(decodeStored(row!.secret), utf8(id), Buffer.from(row!.nonce_hex, 'hex'), oracle.kdf(parseRootKey(OUR_ROOT), 0))
    expect(Buffer.from(opened!).toString()).toBe('value from supabase 0.3')
    // Running it again changes nothing.
    expect((await run(['import', '--root-key', SOURCE_ROOT])).stdout).toContain('imported 0 of 1 secret(s); 1 already under this service\'s key')
  })

  it('imports a 0.2.x-shaped row through the restored pgsodium.key table (key_id → bigint key id)', async () => {
    await createPgsodiumKeyTable(q())
    // As a CLI data dump writes it: every column, enum labels as text, the context as bytea hex.
    await q().exec(`INSERT INTO "pgsodium"."key" ("id", "status", "created", "expires", "key_type", "key_id", "key_context", "name", "associated_data", "raw_key", "raw_key_nonce", "parent_key", "comment", "user_data") VALUES
      ('${KEY_UUID}', 'valid', '2024-01-06 12:00:00.123456+00', NULL, 'aead-det', 3, '\\x7067736f6469756d', 'vault key', 'associated', NULL, NULL, NULL, 'This is the default key used for vault.secrets', NULL)`)
    await q().exec(`SELECT pg_catalog.setval('"pgsodium"."key_key_id_seq"', 3, true)`)
    await insertV2Row(q(), { name: 'v2', value: 'value from supabase 0.2 ✓', keyUuid: KEY_UUID, kdfId: 3, createdAt: '2024-01-06 13:00:00.12345+01', description: 'primary' })
    await insertV3Row(q(), 'v3-beside', 'also here')
    expect((await run(['get', 'v2'])).error?.message).toMatch(/^vault_import_required/)

    const result = await run(['import', '--root-key', SOURCE_ROOT, '--json'])
    const report = JSON.parse(result.stdout)
    expect(report).toMatchObject({ total: 2, alreadyCurrent: 0, failed: [], keySource: { table: 1, given: 0 } })
    expect(report.imported.map((r: { name: string; from: string }) => `${r.name}:${r.from}`).sort()).toEqual(['v2:vault-0.2', 'v3-beside:vault-0.3'])
    expect((await run(['get', 'v2'])).stdout).toBe('value from supabase 0.2 ✓\n')
    expect((await run(['get', 'v3-beside'])).stdout).toBe('also here\n')
    expect((await rows(q())).every((row) => row.key_id === null)).toBe(true)
    // Converted to the 0.3.x form, its description can now change without breaking it.
    await store.update(q(), 'v2', { description: 'edited' })
    expect((await run(['get', 'v2'])).stdout).toBe('value from supabase 0.2 ✓\n')
  })

  it('imports the reference 0.2.x vector (key id 1, AD with 2024-01-06 12:00:00.123456+00)', async () => {
    await createPgsodiumKeyTable(q())
    await q().query(`INSERT INTO pgsodium.key (id, key_id) VALUES ($1::uuid, 1)`, [KEY_UUID])
    const sealed = Buffer.from('398fd0daea838bfa161f9333761dfa8610a12c6142137e9f1c0d2e0e7b5fb8688a67cce07e6f722292f8', 'hex')
    await q().query(
      `INSERT INTO vault.secrets (id, name, description, secret, key_id, nonce, created_at, updated_at)
       VALUES ('5f0d3c9a-1b2e-4c7d-8e9f-0a1b2c3d4e5f', 'vector3', 'primary', $1, $2::uuid, '\\x00112233445566778899aabbccddeeff',
               '2024-01-06 12:00:00.123456+00', '2024-01-06 12:00:00.123456+00')`,
      [encodeStored(sealed), KEY_UUID],
    )
    expect((await run(['import', '--root-key', SOURCE_ROOT])).stdout).toContain('(vault-0.2)')
    expect((await run(['get', 'vector3'])).stdout).toBe('my-api-key\n')
  })

  it('without the pgsodium.key rows: fails and changes nothing; --key or --guess-key-ids find the key', async () => {
    await insertV2Row(q(), { name: 'orphan', value: 'needs its key', keyUuid: KEY_UUID, kdfId: 4, createdAt: '2024-03-01 10:00:00+00', description: '' })
    await insertV3Row(q(), 'v3-ok', 'fine')
    const before = await rows(q())
    const failed = await run(['import', '--root-key', SOURCE_ROOT])
    expect(failed.error?.message).toBe('vault_import_failed: 1 of 2 secrets could not be decrypted; nothing was changed')
    expect(failed.stderr).toContain(`pgsodium key ${KEY_UUID} is unknown`)
    expect(await rows(q())).toEqual(before)

    expect((await run(['import', '--root-key', SOURCE_ROOT, '--guess-key-ids', '3'])).error?.message).toMatch(/^vault_import_failed/)
    expect(await rows(q())).toEqual(before)
    expect((await run(['import', '--root-key', SOURCE_ROOT, '--dry-run', '--key', `${KEY_UUID}=4`])).stdout).toContain('dry run: would import 2 of 2')
    expect(await rows(q())).toEqual(before)
    expect((await run(['import', '--root-key', SOURCE_ROOT, '--guess-key-ids', '10'])).stdout).toContain('imported 2 of 2')
    expect((await run(['get', 'orphan'])).stdout).toBe('needs its key\n')
  })

  it('--keep-going imports what decrypts and reports the rest', async () => {
    await insertV3Row(q(), 'right-root', 'ok')
    await insertV3Row(q(), 'wrong-root', 'other project', NEXT_ROOT)
    const result = await run(['import', '--root-key', SOURCE_ROOT, '--keep-going'])
    expect(result.stdout).toContain('imported 1 of 2 secret(s); 0 already under this service\'s key; 1 failed')
    expect(result.stderr).toMatch(/failed [0-9a-f-]{36} "wrong-root": neither the Vault 0.3.x form/)
    expect((await run(['get', 'right-root'])).stdout).toBe('ok\n')
    expect((await run(['get', 'wrong-root'])).error?.message).toMatch(/^vault_invalid_ciphertext/)
  })

  it('a wrong root key imports nothing; bad arguments give one clear line', async () => {
    await insertV3Row(q(), 'v3', 'x')
    expect((await run(['import', '--root-key', NEXT_ROOT])).error?.message).toMatch(/^vault_import_failed/)
    expect((await run(['import'])).error?.message).toMatch(/--root-key .* is required/)
    expect((await run(['import', '--root-key', 'nothex'])).error?.message).toMatch(/^vault_invalid_key: --root-key/)
    expect((await run(['import', '--root-key', SOURCE_ROOT, '--key', 'garbage'])).error?.message).toMatch(/--key must look like/)
    expect((await run(['import', '--root-key', SOURCE_ROOT, '--guess-key-ids', '-1'])).error?.message).toMatch(/whole number/)
  })

  it('imports through a pgsodium.key holding table (as db restore makes it)', async () => {
    await q().exec(`DROP SCHEMA IF EXISTS pgsodium CASCADE`)
    await createPgsodiumKeyTable(q())
    await q().query(`INSERT INTO pgsodium.key (id, key_id) VALUES ($1::uuid, 9)`, [KEY_UUID])
    await insertV2Row(q(), { name: 'prepared', value: 'key nine', keyUuid: KEY_UUID, kdfId: 9, createdAt: '2024-02-02 02:02:02.2+00', description: 'd' })
    expect((await run(['import', '--root-key', SOURCE_ROOT])).stdout).toContain('imported 1 of 1')
    expect((await run(['get', 'prepared'])).stdout).toBe('key nine\n')
  })

  it('reads the root key from a file', async () => {
    await insertV3Row(q(), 'v3', 'from-file')
    const dir = mkdtempSync(path.join(os.tmpdir(), 'vault-key-'))
    const file = path.join(dir, 'root.key')
    await (await import('node:fs/promises')).writeFile(file, SOURCE_ROOT + '\n', { mode: 0o600 })
    expect((await run(['import', '--root-key-file', file])).stdout).toContain('imported 1 of 1')
    expect((await run(['get', 'v3'])).stdout).toBe('from-file\n')
  })
})

describe('the resolution binary', () => {
  it('runs vault set (value on stdin) and get end to end on the embedded database', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'resolution-vault-cli-'))
    const env = { ...process.env, RESOLUTION_DATA_DIR: dataDir, DATABASE_URL: '', VAULT_ROOT_KEY: OUR_ROOT, LOG_LEVEL: 'silent' }
    const bin = path.resolve('bin/resolution.mjs')
    const set = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      const child = execFile(process.execPath, [bin, 'vault', 'set', 'e2e'], { env }, (error, stdout) => resolve({ code: error ? (error as { code?: number }).code ?? 1 : 0, stdout }))
      child.stdin!.end('end-to-end value\n')
    })
    expect(set).toMatchObject({ code: 0 })
    expect(set.stdout).toMatch(/^created /)
    const { stdout } = await promisify(execFile)(process.execPath, [bin, 'vault', 'get', 'e2e'], { env })
    expect(stdout).toBe('end-to-end value\n')
  }, 120_000)
})
