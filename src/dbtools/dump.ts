/**
 * `db dump`: plain SQL as pg_dump writes it. A server is dumped by the installed `pg_dump` (which
 * must be at least the server's major version); the embedded database by PGlite's WASM pg_dump.
 * `--no-owner` by default; privileges are kept (a move needs them: without them the target's
 * default privileges would widen what anon and authenticated may do), `privileges: false` is `--no-acl`.
 * @module
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { PGlite } from '@electric-sql/pglite'
import type { Database } from '../db/types.ts'
import type { PgliteDatabase } from '../db/pglite-driver.ts'
import { clientTools } from '../config/tools.ts'

export interface DumpOptions {
  schemaOnly?: boolean
  dataOnly?: boolean
  /** Only these schemas (`--schema`, repeatable). */
  schemas?: string[]
  /** Not these schemas (`--exclude-schema`, repeatable). */
  excludeSchemas?: string[]
  /** Leave out the Supabase service schemas, as `supabase db dump` does (auth, storage, vault …). */
  userSchemasOnly?: boolean
  /** Data as INSERT statements (server; the embedded pg_dump always writes INSERTs). */
  inserts?: boolean
  /** Keep `OWNER TO` (default: `--no-owner`). */
  owners?: boolean
  /** Keep GRANT/REVOKE (default true; false is `--no-acl`). */
  privileges?: boolean
  /** Write here; otherwise to `output`. */
  file?: string
  /** Where the SQL goes without `file` (default stdout). */
  output?: NodeJS.WritableStream
  /** The server's connection URL (required for a server database). */
  url?: string
  /** The pg_dump binary (default `PG_DUMP` or `pg_dump` on PATH). */
  pgDump?: string
}

export class DumpError extends Error {
  readonly code: 'pg_dump_missing' | 'pg_dump_too_old' | 'pg_dump_failed' | 'invalid_options'
  constructor(code: DumpError['code'], message: string) {
    super(message)
    this.name = 'DumpError'
    this.code = code
  }
}

export function dumpArgs(options: DumpOptions): string[] {
  if (options.schemaOnly && options.dataOnly) throw new DumpError('invalid_options', '--schema-only and --data-only cannot be used together')
  const args: string[] = []
  if (options.schemaOnly) args.push('--schema-only')
  if (options.dataOnly) args.push('--data-only')
  if (!options.owners) args.push('--no-owner')
  if (options.privileges === false) args.push('--no-acl')
  for (const schema of options.schemas ?? []) {
    if (!schema) throw new DumpError('invalid_options', '--schema needs a name')
    args.push('--schema', schema)
  }
  const excluded = [...(options.excludeSchemas ?? []), ...(options.userSchemasOnly ? SUPABASE_DUMP_EXCLUDED : [])]
  for (const schema of excluded) {
    if (!schema) throw new DumpError('invalid_options', '--exclude-schema needs a name')
    args.push('--exclude-schema', schema)
  }
  if (options.inserts) args.push('--column-inserts', '--rows-per-insert', '1000')
  return args
}

/** What `supabase db dump` leaves out (supabase/cli pkg/migration/dump.go), plus resolution's own. */
export const SUPABASE_DUMP_EXCLUDED = [
  'information_schema', 'pg_*', '_analytics', '_realtime', '_supavisor', 'auth', 'etl', 'extensions', 'pgbouncer', 'realtime', 'storage',
  'supabase_functions', 'supabase_migrations', 'cron', 'dbdev', 'graphql', 'graphql_public', 'net', 'pgmq', 'pgsodium', 'pgsodium_masks',
  'pgtle', 'repack', 'tiger', 'tiger_data', 'timescaledb_*', '_timescaledb_*', 'topology', 'vault', '_resolution',
]

/** Dumps `database`; returns the number of bytes written. */
export async function dump(database: Database, options: DumpOptions = {}): Promise<number> {
  const args = dumpArgs(options)
  if (database.capabilities.inProcess) return dumpEmbedded(database as PgliteDatabase, args, options)
  if (!options.url) throw new DumpError('invalid_options', 'dumping a server needs its connection URL')
  return dumpServer(database, args, options)
}

/** The options a `resolution:dump` wire request may set (paths and binaries stay server-side). */
const WIRE_DUMP_KEYS = ['schemaOnly', 'dataOnly', 'schemas', 'excludeSchemas', 'userSchemasOnly', 'inserts', 'owners', 'privileges'] as const

/**
 * The embedded wire server's `resolution:dump`: the WASM pg_dump on an engine the caller's
 * connection already holds, returned as text. Keys other than `WIRE_DUMP_KEYS` are ignored.
 */
export async function dumpHeldEngine(pg: PGlite, requested: Record<string, unknown>): Promise<string> {
  const options: DumpOptions = Object.fromEntries(WIRE_DUMP_KEYS.filter((key) => requested[key] !== undefined).map((key) => [key, requested[key]]))
  const chunks: Buffer[] = []
  const output = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk)
      callback()
    },
  })
  // The engine is already held by this connection: the dump runs on it directly.
  const held = { withPglite: (fn: (pg: PGlite) => Promise<unknown>) => fn(pg) } as unknown as PgliteDatabase
  await dumpEmbedded(held, dumpArgs(options), { ...options, output })
  return Buffer.concat(chunks).toString('utf8')
}

async function dumpEmbedded(database: PgliteDatabase, args: string[], options: DumpOptions): Promise<number> {
  const { pgDump } = await import('@electric-sql/pglite-tools/pg_dump')
  const file = await database.withPglite(async (pg) => {
    // pglite-tools compares search_path text before and after and warns (with a whole result
    // object) on a mere quoting difference: that one warning is dropped; the session's own
    // search_path is put back afterwards.
    const { rows } = await pg.query<{ search_path: string }>('SHOW search_path')
    const warn = console.warn
    console.warn = (...parts: unknown[]) => {
      if (!String(parts[0]).startsWith('Warning: search_path has been changed')) warn(...parts)
    }
    try {
      return await pgDump({ pg, args: ['--quote-all-identifiers', ...args] })
    } finally {
      console.warn = warn
      // The WASM pg_dump leaves its READ ONLY snapshot transaction open and its session settings
      // (search_path '' …) in PGlite's one session: end both before anyone else uses it.
      if (pg.isInTransaction()) await pg.exec('ROLLBACK')
      await pg.exec('RESET ALL')
      await pg.query("SELECT set_config('search_path', $1, false)", [rows[0]?.search_path ?? 'public'])
    }
  })
  const text = Buffer.from(await file.arrayBuffer())
  if (options.file) fs.writeFileSync(options.file, text)
  else await write(options.output ?? process.stdout, text)
  return text.length
}

function write(stream: NodeJS.WritableStream, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => stream.write(data, (error) => (error ? reject(error) : resolve())))
}

/** `pg_dump --version` → major version, or a clear error when the binary is missing. */
export async function pgDumpMajor(binary: string): Promise<number> {
  const { stdout } = await run(binary, ['--version']).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') {
      throw new DumpError('pg_dump_missing', `pg_dump not found (${binary}); install the PostgreSQL client tools (e.g. apt-get install postgresql-client) or set PG_DUMP to its path`)
    }
    throw error
  })
  const match = /(\d+)(?:\.(\d+))?/.exec(stdout)
  if (!match) throw new DumpError('pg_dump_failed', `cannot read the version of ${binary}: ${stdout.trim()}`)
  return Number(match[1])
}

async function dumpServer(database: Database, args: string[], options: DumpOptions): Promise<number> {
  const binary = options.pgDump ?? clientTools().pgDump
  const [clientMajor, serverNum] = await Promise.all([pgDumpMajor(binary), database.serverVersionNum()])
  const serverMajor = Math.floor(serverNum / 10000)
  if (clientMajor < serverMajor) {
    throw new DumpError('pg_dump_too_old', `pg_dump ${clientMajor} cannot dump a PostgreSQL ${serverMajor} server; install the PostgreSQL ${serverMajor} client tools or set PG_DUMP to a pg_dump ${serverMajor}+`)
  }
  // The password goes through the environment, never the command line (visible in ps).
  const url = new URL(options.url!)
  const env = { ...process.env }
  if (url.password) {
    env.PGPASSWORD = decodeURIComponent(url.password)
    url.password = ''
  }
  const fileArgs = options.file ? ['--file', options.file] : []
  const child = spawn(binary, [...args, '--quote-all-identifiers', ...fileArgs, '--dbname', url.toString()], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  let bytes = 0
  const counted = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length
      const out = options.output ?? process.stdout
      if (out.write(chunk)) callback()
      else out.once('drain', () => callback())
    },
  })
  const exit = new Promise<number>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code) => resolve(code ?? 1))
  })
  await pipeline(child.stdout, counted)
  const code = await exit
  if (code !== 0) throw new DumpError('pg_dump_failed', `pg_dump exited with ${code}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`)
  return options.file ? fs.statSync(options.file).size : bytes
}

function run(binary: string, args: string[]): Promise<{ stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'ignore'] })
    let stdout = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.once('error', reject)
    child.once('close', (code) => (code === 0 ? resolve({ stdout }) : reject(new DumpError('pg_dump_failed', `${binary} --version exited with ${code}`))))
  })
}
