/** Shared helpers for the dbtools suites: fixture paths, temp files, a snapshot of a database's tables and rows. */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { Queryable } from '../../src/db/types.ts'
import { qualified } from '../../src/db/sql.ts'

export const FIXTURES = path.resolve(import.meta.dirname, '../fixtures/supabase-dumps')
export const fixture = (name: string) => path.join(FIXTURES, name)

export const F = {
  initial15: fixture('supabase_cli__internal_utils_templates_initial_schemas_15.sql'),
  globals: fixture('supabase_cli__apps_cli-go_internal_utils_templates_globals.sql'),
  roles: fixture('yevhen-o_supabase-test__prisma_backups_roles.sql'),
  schema: fixture('yevhen-o_supabase-test__prisma_backups_schema.sql'),
  data: fixture('yevhen-o_supabase-test__prisma_backups_data.sql'),
  seed: fixture('roberts-pumpurs_supabase-rs-utils__supabase_seed.sql'),
}

/** Writes `content` to a fresh temp file and returns its path. */
export function tempFile(name: string, content: string | Buffer): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'resolution-dbtools-'))
  const file = path.join(dir, name)
  fs.writeFileSync(file, content)
  return file
}

/** Every relation outside the system schemas with its kind, and the row count of every table. */
export async function snapshot(db: Queryable): Promise<Record<string, string>> {
  const { rows } = await db.query<{ schema: string; name: string; kind: string }>(
    `SELECT n.nspname AS schema, c.relname AS name, c.relkind::text AS kind FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg\\_%' ORDER BY 1, 2`,
  )
  const result: Record<string, string> = {}
  for (const r of rows) {
    if (r.kind === 'r' || r.kind === 'p') {
      const { rows: count } = await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${qualified(r.schema, r.name)}`)
      result[`${r.schema}.${r.name}`] = `table:${count[0]!.n}`
    } else result[`${r.schema}.${r.name}`] = r.kind
  }
  const { rows: schemas } = await db.query<{ nspname: string }>(`SELECT nspname FROM pg_catalog.pg_namespace WHERE nspname NOT LIKE 'pg\\_%' ORDER BY 1`)
  result['(schemas)'] = schemas.map((s) => s.nspname).join(',')
  return result
}
