/**
 * `resolution vault set|get|list|delete|rotate|import`: the vault from the command line. Every
 * command is one transaction; `rotate` and `import` re-seal all rows or none. Values go to
 * stdout only for `get`; `set` reads the value from stdin when it is not an argument, so it
 * stays out of shell history. Root keys may come from a file for the same reason.
 * @module
 */
import fs from 'node:fs/promises'
import type { Command } from 'commander'
import type { Config } from '../../config/config.ts'
import { hasSqlState } from '../../db/sqlstate.ts'
import type { Database, Queryable } from '../../db/types.ts'
import { FatalError, HttpError } from '../../errors.ts'
import { bootstrap } from '../../schema/bootstrap.ts'
import { importSecrets, parseKeyArgument, rotateSecrets, type ImportReport, type PgsodiumKey } from '../../vault/rekey.ts'
import { createVaultStore, type VaultStore } from '../../vault/store.ts'
import { withDatabase as openConfiguredDatabase, type DatabaseOption } from '../context.ts'

/** What the commands touch outside themselves; tests pass their own database and streams. */
export interface VaultCommandIo {
  withDatabase<T>(options: DatabaseOption, fn: (database: Database, config: Config) => Promise<T>): Promise<T>
  stdout(text: string): void
  stderr(text: string): void
  readStdin(): Promise<string>
}

const defaultIo: VaultCommandIo = {
  withDatabase: openConfiguredDatabase,
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
  async readStdin() {
    const chunks: Buffer[] = []
    for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk))
    return Buffer.concat(chunks).toString('utf8')
  },
}

class DryRun extends Error {
  constructor(readonly result: unknown) {
    super('dry run')
  }
}

/** One transaction with a store; vault errors become one clear line (`code: message`). */
async function inVault<T>(io: VaultCommandIo, options: DatabaseOption & { dryRun?: boolean }, fn: (tx: Queryable, store: VaultStore, config: Config) => Promise<T>): Promise<T> {
  try {
    return await io.withDatabase(options, async (database, config) => {
      // The embedded database is set up on first use; a server is set up by `resolution db init`.
      if (database.capabilities.inProcess) await bootstrap(database)
      const store = createVaultStore({ rootKey: config.vaultRootKey })
      try {
        return await database.transaction(async (tx) => {
          const result = await fn(tx, store, config)
          if (options.dryRun) throw new DryRun(result)
          return result
        })
      } catch (error) {
        if (error instanceof DryRun) return error.result as T
        throw error
      }
    })
  } catch (error) {
    if (error instanceof HttpError) {
      const details = (error.body as { details?: { failed?: ImportReport['failed'] } }).details
      for (const failure of details?.failed ?? []) io.stderr(`  ${failure.id} ${JSON.stringify(failure.name)}: ${failure.reason}\n`)
      throw new FatalError(`${error.code}: ${error.message}`)
    }
    if (hasSqlState(error, 'undefined_table')) {
      throw new FatalError('vault.secrets does not exist in this database: run `resolution db init` first')
    }
    throw error
  }
}

async function rootKeyOption(io: VaultCommandIo, hex: string | undefined, file: string | undefined, name: string): Promise<string | undefined> {
  if (hex !== undefined && file !== undefined) throw new FatalError(`give --${name} or --${name}-file, not both`)
  if (file === undefined) return hex
  try {
    return (file === '-' ? await io.readStdin() : await fs.readFile(file, 'utf8')).trim()
  } catch (error) {
    throw new FatalError(`--${name}-file: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`)
  }
}

function wholeNumber(value: string, option: string): bigint {
  if (!/^\d{1,15}$/.test(value)) throw new FatalError(`${option} must be a whole number, got ${JSON.stringify(value)}`)
  return BigInt(value)
}

function table(rows: Array<Record<string, unknown>>, columns: string[]): string {
  const widths = columns.map((column) => Math.max(column.length, ...rows.map((row) => String(row[column] ?? '').length)))
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd() + '\n'
  return line(columns) + rows.map((row) => line(columns.map((column) => String(row[column] ?? '')))).join('')
}

const DB_OPTION = ['--database-url <url>', 'PostgreSQL URL (overrides DATABASE_URL)'] as const

export function register(program: Command, overrides: Partial<VaultCommandIo> = {}): void {
  const io: VaultCommandIo = { ...defaultIo, ...overrides }
  const vault = program
    .command('vault')
    .description('Secrets in vault.secrets, sealed the Supabase Vault way under VAULT_ROOT_KEY')
  registerList(vault, io)
  registerGet(vault, io)
  registerSet(vault, io)
  registerDelete(vault, io)
  registerRotate(vault, io)
  registerImport(vault, io)
}

function registerList(vault: Command, io: VaultCommandIo): void {
  vault
    .command('list')
    .description('List secrets (id, name, description, dates; never values)')
    .option('--json', 'print JSON')
    .option(...DB_OPTION)
    .action(async (options: DatabaseOption & { json?: boolean }) => {
      const secrets = await inVault(io, options, (tx, store) => store.list(tx, { limit: 1_000_000 }))
      if (options.json) io.stdout(JSON.stringify(secrets, null, 2) + '\n')
      else if (secrets.length === 0) io.stdout('no secrets\n')
      else io.stdout(table(secrets as unknown as Array<Record<string, unknown>>, ['id', 'name', 'description', 'updated_at']))
    })
}

function registerGet(vault: Command, io: VaultCommandIo): void {
  vault
    .command('get')
    .description('Print the decrypted value of a secret (by id or name)')
    .argument('<id-or-name>')
    .option('--json', 'print the record with its value as JSON')
    .option(...DB_OPTION)
    .action(async (reference: string, options: DatabaseOption & { json?: boolean }) => {
      const secret = await inVault(io, options, (tx, store) => store.get(tx, reference))
      if (!secret) throw new FatalError(`vault_secret_not_found: no secret with id or name ${JSON.stringify(reference)}`)
      io.stdout(options.json ? JSON.stringify(secret, null, 2) + '\n' : secret.secret + '\n')
    })
}

function registerSet(vault: Command, io: VaultCommandIo): void {
  vault
    .command('set')
    .description('Create a secret, or replace the value of the one with this name; without <value> it is read from stdin')
    .argument('<name>')
    .argument('[value]')
    .option('-d, --description <text>', 'description')
    .option(...DB_OPTION)
    .action(async (name: string, value: string | undefined, options: DatabaseOption & { description?: string }) => {
      // One trailing newline from `echo` or a file is not part of the value.
      const secret = value ?? (await io.readStdin()).replace(/\r?\n$/, '')
      const result = await inVault(io, options, async (tx, store) => {
        const existing = await tx.query<{ id: string }>(`SELECT id::text AS id FROM vault.secrets WHERE name = $1`, [name])
        if (existing.rows[0]) {
          return { action: 'updated', record: await store.update(tx, existing.rows[0].id, { secret, description: options.description }) }
        }
        return { action: 'created', record: await store.create(tx, { name, secret, description: options.description }) }
      })
      io.stdout(`${result.action} ${result.record.id} ${JSON.stringify(result.record.name)}\n`)
    })
}

function registerDelete(vault: Command, io: VaultCommandIo): void {
  vault
    .command('delete')
    .description('Delete a secret (by id or name)')
    .argument('<id-or-name>')
    .option(...DB_OPTION)
    .action(async (reference: string, options: DatabaseOption) => {
      const deleted = await inVault(io, options, (tx, store) => store.delete(tx, reference))
      if (!deleted) throw new FatalError(`vault_secret_not_found: no secret with id or name ${JSON.stringify(reference)}`)
      io.stdout(`deleted ${deleted.id} ${JSON.stringify(deleted.name)}\n`)
    })
}

function registerRotate(vault: Command, io: VaultCommandIo): void {
  vault
    .command('rotate')
    .description(
      'Re-encrypt every secret, atomically, under a new key id (default: current + 1; key id N is KDF id N of the root key, ' +
        'recorded in key_id; 0 = NULL is the Vault 0.3.x form) or under a new root key',
    )
    .option('--key-id <n>', 'the key id to rotate to')
    .option('--to-root-key <hex>', 're-encrypt under this root key (64 hex); then set VAULT_ROOT_KEY to it')
    .option('--to-root-key-file <path>', 'read the new root key from a file (- for stdin)')
    .option('--dry-run', 'decrypt and re-encrypt everything, then roll back')
    .option('--json', 'print the report as JSON')
    .option(...DB_OPTION)
    .action(async (options: DatabaseOption & { keyId?: string; toRootKey?: string; toRootKeyFile?: string; dryRun?: boolean; json?: boolean }) => {
      const toRootKey = await rootKeyOption(io, options.toRootKey, options.toRootKeyFile, 'to-root-key')
      const keyId = options.keyId === undefined ? undefined : wholeNumber(options.keyId, '--key-id')
      const report = await inVault(io, options, (tx, store) => rotateSecrets(tx, store, { keyId, toRootKey }))
      if (options.json) return io.stdout(JSON.stringify({ ...report, dryRun: Boolean(options.dryRun) }, null, 2) + '\n')
      const prefix = options.dryRun ? 'dry run: would rotate' : 'rotated'
      io.stdout(`${prefix} ${report.rotated} secret(s) from key id ${report.fromKeyId} to key id ${report.keyId}${report.rootKeyChanged ? ' under the new root key' : ''}\n`)
      if (report.rootKeyChanged && !options.dryRun) {
        io.stderr('The secrets are now sealed under the new root key: set VAULT_ROOT_KEY to it (in development, or replace vaultRootKey in the data dir\'s dev-secrets.json) before the next start.\n')
      }
    })
}

function registerImport(vault: Command, io: VaultCommandIo): void {
  vault
    .command('import')
    .description(
      'Decrypt secrets restored from a Supabase dump with that project\'s root key and re-encrypt them under this service\'s key. ' +
        'Vault 0.2.x rows need the dump\'s pgsodium.key rows (a restored pgsodium.key table, or --key); 0.3.x rows use key id 0',
    )
    .option('--root-key <hex>', 'the source project\'s root key (64 hex; `supabase encryption get-root-key`, or [db] root_key locally)')
    .option('--root-key-file <path>', 'read the source root key from a file (- for stdin)')
    .option('--key <uuid=id[:context]>', 'a pgsodium key: vault.secrets.key_id = pgsodium.key.key_id (repeatable)', (value: string, previous: PgsodiumKey[] = []) => [...previous, parseKeyOrFail(value)])
    .option('--guess-key-ids <n>', 'without pgsodium.key rows, try key ids 1..n for 0.2.x rows (the tag tells the right one)')
    .option('--keep-going', 'import what decrypts and list the rest, instead of changing nothing')
    .option('--dry-run', 'check that everything decrypts, change nothing')
    .option('--json', 'print the report as JSON')
    .option(...DB_OPTION)
    .action(
      async (
        options: DatabaseOption & { rootKey?: string; rootKeyFile?: string; key?: PgsodiumKey[]; guessKeyIds?: string; keepGoing?: boolean; dryRun?: boolean; json?: boolean },
      ) => {
        const rootKey = await rootKeyOption(io, options.rootKey, options.rootKeyFile, 'root-key')
        if (rootKey === undefined) throw new FatalError('--root-key (or --root-key-file) is required: the root key of the project the dump came from')
        const guessKeyIds = options.guessKeyIds === undefined ? undefined : Number(wholeNumber(options.guessKeyIds, '--guess-key-ids'))
        const report = await inVault(io, options, (tx, store) => importSecrets(tx, store, { rootKey, keys: options.key, guessKeyIds, keepGoing: options.keepGoing }))
        if (options.json) return io.stdout(JSON.stringify({ ...report, dryRun: Boolean(options.dryRun) }, null, 2) + '\n')
        const verb = options.dryRun ? 'dry run: would import' : 'imported'
        io.stdout(`${verb} ${report.imported.length} of ${report.total} secret(s); ${report.alreadyCurrent} already under this service's key; ${report.failed.length} failed\n`)
        for (const row of report.imported) io.stdout(`  ${row.id} ${JSON.stringify(row.name)} (${row.from})\n`)
        for (const row of report.failed) io.stderr(`  failed ${row.id} ${JSON.stringify(row.name)}: ${row.reason}\n`)
      },
    )
}

function parseKeyOrFail(value: string): PgsodiumKey {
  try {
    return parseKeyArgument(value)
  } catch (error) {
    throw new FatalError((error as Error).message)
  }
}
