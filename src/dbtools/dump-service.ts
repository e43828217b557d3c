/**
 * `db dump` while `serve` runs on the embedded database: the service dumps itself with its WASM
 * pg_dump (PostgreSQL 18, like the engine) and sends the SQL back over its wire port. A pg_dump
 * from the machine would have to be 18 or newer, and the WASM pg_dump cannot run over a socket.
 * @module
 */
import fs from 'node:fs'
import type { Database } from '../db/types.ts'
import { DUMP_REQUEST } from '../db/wire-server.ts'
import { dumpArgs, DumpError, type DumpOptions } from './dump.ts'

export async function dumpThroughService(database: Database, options: DumpOptions = {}): Promise<number> {
  dumpArgs(options) // the same option checks as a local dump, before anything is sent
  const request = {
    schemaOnly: options.schemaOnly,
    dataOnly: options.dataOnly,
    schemas: options.schemas,
    excludeSchemas: options.excludeSchemas,
    userSchemasOnly: options.userSchemasOnly,
    inserts: options.inserts,
    owners: options.owners,
    privileges: options.privileges,
  }
  let sql: string
  try {
    const { rows } = await database.query<{ dump: string }>(`${DUMP_REQUEST} ${JSON.stringify(request)}`)
    sql = rows[0]!.dump
  } catch (error) {
    throw new DumpError('pg_dump_failed', `the running service could not dump its database: ${(error as Error).message}`)
  }
  const bytes = Buffer.from(sql, 'utf8')
  if (options.file) fs.writeFileSync(options.file, bytes)
  else await new Promise<void>((resolve, reject) => (options.output ?? process.stdout).write(bytes, (error) => (error ? reject(error) : resolve())))
  return bytes.length
}
