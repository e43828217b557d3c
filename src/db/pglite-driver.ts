/**
 * The embedded driver: PGlite persisted in the data dir. PGlite has one session, so every
 * statement and transaction goes through one mutex: callers never interleave and never
 * special-case it. A lock file keeps a second process off the same data dir.
 * @module
 */
import fs from 'node:fs'
import path from 'node:path'
import { PGlite, types } from '@electric-sql/pglite'
import { pgcrypto } from '@electric-sql/pglite/contrib/pgcrypto'
import { uuid_ossp } from '@electric-sql/pglite/contrib/uuid_ossp'
import { ensureDataDir } from '../config/data-dir.ts'
import { FatalError } from '../errors.ts'
import { copyChunks } from './copy-chunks.ts'
import { isStalePlan } from './errors.ts'
import { Mutex } from './mutex.ts'
import { beginStatement, canRunImplicitly, implicitPrelude } from './pg-driver.ts'
import { PreparedNames } from './prepared.ts'
import { PreparedSet, runBatch, type BatchStatement } from './pglite-exchange.ts'
import type { CopySource, Database, DatabaseCapabilities, Queryable, QueryOptions, QueryResult } from './types.ts'
import { isAlive } from './wire-info.ts'

const asText = (value: string) => value
// Same value shapes as the pg driver: int8 and numeric as strings, dates as text.
const PARSERS = {
  [types.INT8]: asText,
  [types.NUMERIC]: asText,
  [types.DATE]: asText,
  [types.TIMESTAMP]: asText,
  [types.TIMESTAMPTZ]: asText,
  [types.TIME]: asText,
  [types.TIMETZ]: asText,
}

export interface PgliteDriverOptions {
  /** Directory for the database files; undefined → in memory. */
  dataDir?: string
  /** A data dir tarball to start from (tests use a bootstrapped template). */
  loadDataDir?: Blob
}

/** `COPY … FROM STDIN` → `COPY … FROM '/dev/blob'`, PGlite's way of taking COPY data. */
export function copyToBlobSql(copySql: string): string {
  const rewritten = copySql.replace(/\bFROM\s+STDIN\b/i, "FROM '/dev/blob'")
  if (rewritten === copySql) throw new Error('COPY statement must read FROM STDIN')
  return rewritten
}

function lockDataDir(dir: string): () => void {
  fs.mkdirSync(dir, { recursive: true })
  const lockFile = path.join(dir, 'resolution.lock')
  const take = () => fs.writeFileSync(lockFile, String(process.pid), { flag: 'wx' })
  try {
    take()
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    const pid = Number(fs.readFileSync(lockFile, 'utf8'))
    if (pid && pid !== process.pid && isAlive(pid)) {
      throw new FatalError(`RESOLUTION_DATA_DIR: ${dir} is in use by another resolution process (pid ${pid}); stop it or choose another data dir`)
    }
    // A stale lock from a process that died: take it over.
    fs.rmSync(lockFile, { force: true })
    take()
  }
  return () => fs.rmSync(lockFile, { force: true })
}



export const PGLITE_CAPABILITIES: DatabaseCapabilities = { supportsListen: true, inProcess: true, separateConnections: false }

export async function createPgliteDatabase(options: PgliteDriverOptions = {}): Promise<PgliteDatabase> {
  const pgdata = options.dataDir ? path.join(options.dataDir, 'pgdata') : undefined
  let unlock = () => {}
  if (options.dataDir) {
    ensureDataDir(options.dataDir)
    unlock = lockDataDir(options.dataDir)
  }
  let pglite: PGlite
  try {
    pglite = await PGlite.create({
      dataDir: pgdata,
      loadDataDir: options.loadDataDir,
      extensions: { pgcrypto, uuid_ossp },
      parsers: PARSERS,
    })
  } catch (error) {
    unlock()
    throw new FatalError(`RESOLUTION_DATA_DIR: cannot open the embedded database in ${pgdata ?? 'memory'}: ${(error as Error).message}`)
  }
  const mutex = new Mutex()
  // Request statements kept prepared in the one session, named by text (bounded as on a server).
  const names = new PreparedNames(500)
  const prepared = new PreparedSet()
  /** Runs a batch in one exchange; throws the first statement's error once all have answered. */
  const runTogether = async (statements: BatchStatement[]): Promise<QueryResult[]> => {
    const outcomes = await runBatch(pglite, statements, prepared)
    const failed = outcomes.find((o) => !o.ok)
    if (failed && !failed.ok) throw failed.error
    return outcomes.map((o) => (o.ok ? o.result : { rows: [], rowCount: 0, fields: [] }))
  }

  // The queryable used inside the mutex: raw PGlite calls.
  const direct: Queryable = {
    async query<R>(sql: string, params: readonly unknown[] = []) {
      return (await runTogether([{ sql, params }]))[0] as QueryResult<R>
    },
    async exec(sql: string) {
      await pglite.exec(sql)
    },
    async copyFrom(copySql: string, source: CopySource) {
      const sql = copyToBlobSql(copySql)
      let rows = 0
      // Chunked so memory stays flat: each chunk is one COPY of whole rows.
      for await (const chunk of copyChunks(source)) {
        const result = await pglite.query(sql, [], { blob: new Blob([chunk as Uint8Array<ArrayBuffer>]) })
        rows += result.affectedRows ?? 0
      }
      return rows
    },
  }

  let closed = false
  const database: PgliteDatabase = {
    // The PGlite instance itself, under the mutex: tools such as pglite-tools' pg_dump need it.
    withPglite: (fn) => mutex.run(() => fn(pglite)),
    kind: 'pglite',
    capabilities: PGLITE_CAPABILITIES,
    description: pgdata ? `embedded PGlite at ${pgdata}` : 'embedded PGlite (in memory)',
    query: (sql, params) => mutex.run(() => direct.query(sql, params)),
    exec: (sql) => mutex.run(() => direct.exec(sql)),
    copyFrom(copySql, source) {
      return database.transaction((tx) => tx.copyFrom(copySql, source))
    },
    transaction(fn, txOptions = {}) {
      return mutex.run(async () => {
        // As on the server driver: BEGIN and the settings go with the first statement, COMMIT
        // with a last one, so a request's transaction is one exchange.
        let state = 'idle' as 'idle' | 'open' | 'done'
        const run = async (statements: BatchStatement[], commit = false): Promise<QueryResult[]> => {
          if (state === 'idle' && canRunImplicitly(txOptions, commit) && statements.every((st) => st.params)) {
            state = 'done'
            const all = implicitTransaction(statements)
            return (await runTogether(all)).slice(all.length - statements.length)
          }
          const head: BatchStatement[] = []
          if (state === 'idle') {
            head.push({ sql: beginStatement(txOptions) })
            if (txOptions.prelude) head.push({ ...txOptions.prelude, name: names.nameFor(txOptions.prelude.sql) })
          }
          state = 'open'
          try {
            return (await runTogether([...head, ...statements, ...(commit ? [{ sql: 'COMMIT' }] : [])])).slice(head.length)
          } finally {
            if (commit) state = 'done'
          }
        }
        /**
         * A transaction whose first statement is its last: no BEGIN and no COMMIT. Chained without
         * Sync, the settings and the statements are one implicit transaction that the final Sync
         * commits (an error rolls it back and skips the rest), in half the protocol cycles.
         */
        const implicitTransaction = (statements: BatchStatement[]): BatchStatement[] => {
          const prelude = implicitPrelude(txOptions)
          const all = [...(prelude ? [{ ...prelude, name: names.nameFor(prelude.sql) }] : []), ...statements]
          return all.map((st, i) => ({ ...st, chained: i < all.length - 1 }))
        }
        const tx: Queryable = {
          async query<R>(sql: string, params: readonly unknown[] = [], queryOptions: QueryOptions = {}) {
            const name = queryOptions.prepare ? names.nameFor(sql) : undefined
            return (await run([{ sql, params, name }], queryOptions.commit))[0] as QueryResult<R>
          },
          async exec(sql: string) {
            await run([{ sql }])
          },
          async copyFrom(copySql: string, source: CopySource) {
            if (state === 'idle') await run([])
            return direct.copyFrom(copySql, source)
          },
        }
        try {
          const result = await fn(tx)
          if (state === 'open') {
            state = 'done'
            await runTogether([{ sql: 'COMMIT' }])
          }
          return result
        } catch (error) {
          if (state === 'open') {
            state = 'done'
            await runTogether([{ sql: 'ROLLBACK' }]).catch(() => {})
          }
          // A kept statement whose table changed shape: re-prepare everything from now on.
          if (isStalePlan(error)) database.forgetPreparedStatements()
          throw error
        }
      })
    },
    forgetPreparedStatements() {
      names.forget()
      prepared.forget()
    },
    async ping() {
      if (closed) throw Object.assign(new Error('embedded database is closed'), { code: 'ECLOSED' })
      await mutex.run(() => pglite.query('SELECT 1'))
    },
    async serverVersionNum() {
      const { rows } = await mutex.run(() => pglite.query<{ v: string }>("SELECT current_setting('server_version_num') AS v"))
      return Number(rows[0]!.v)
    },
    async close() {
      if (closed) return
      closed = true
      await mutex.run(() => pglite.close())
      unlock()
    },
  }
  return database
}

/** The embedded database, with access to its PGlite instance for tools that need it. */
export interface PgliteDatabase extends Database {
  withPglite<T>(fn: (pglite: PGlite) => Promise<T>): Promise<T>
}
