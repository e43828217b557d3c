/**
 * Idempotent DDL builders for the bootstrap. Every object is created only when it is missing and
 * existing ones are never altered, dropped or retyped; only missing columns and indexes are
 * added. Each check reads the catalogs first, because `ALTER TABLE … ADD COLUMN IF NOT EXISTS`
 * and `CREATE INDEX IF NOT EXISTS` still demand ownership of the table, which a non-owner (the
 * `postgres` role of a real Supabase project, where `supabase_auth_admin` owns `auth`) lacks.
 *
 * Names here are trusted constants of this module's callers, quoted with `ident()` all the same.
 * @module
 */
import { ident, literal, qualified } from '../db/sql.ts'

export interface TableSpec {
  schema: string
  name: string
  /** [column name, definition]. A column that may be added to an existing table must be nullable or have a default. */
  columns: ReadonlyArray<readonly [string, string]>
  /** Table constraints, used only when the table is created. */
  constraints?: readonly string[]
  /** [index name, the CREATE INDEX statement without IF NOT EXISTS]. */
  indexes?: ReadonlyArray<readonly [string, string]>
  comment?: string
  /** Supabase enables RLS on its service tables; set only on creation. */
  rowLevelSecurity?: boolean
}

/** One DO block: create the table if missing, then add missing columns and indexes. */
export function ensureTable(spec: TableSpec): string {
  const table = qualified(spec.schema, spec.name)
  const regclass = literal(table)
  const body = [...spec.columns.map(([name, definition]) => `${ident(name)} ${definition}`), ...(spec.constraints ?? [])]
  const lines: string[] = []
  lines.push(`IF to_regclass(${regclass}) IS NULL THEN`)
  lines.push(`  CREATE TABLE ${table} (\n    ${body.join(',\n    ')}\n  );`)
  if (spec.rowLevelSecurity) lines.push(`  ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY;`)
  if (spec.comment) lines.push(`  COMMENT ON TABLE ${table} IS ${literal(spec.comment)};`)
  lines.push('END IF;')
  for (const [name, definition] of spec.columns) {
    lines.push(
      `IF NOT EXISTS (SELECT FROM pg_catalog.pg_attribute WHERE attrelid = to_regclass(${regclass}) AND attname = ${literal(name)} AND NOT attisdropped) THEN`,
      `  ALTER TABLE ${table} ADD COLUMN ${ident(name)} ${definition};`,
      'END IF;',
    )
  }
  for (const [name, statement] of spec.indexes ?? []) {
    lines.push(`IF to_regclass(${literal(qualified(spec.schema, name))}) IS NULL THEN`, `  ${statement};`, 'END IF;')
  }
  return doBlock(lines.join('\n'))
}

/** An enum type created when missing; missing labels are appended (never removed or reordered). */
export function ensureEnum(schema: string, name: string, labels: readonly string[]): string {
  const type = qualified(schema, name)
  const lines = [
    `IF to_regtype(${literal(type)}) IS NULL THEN`,
    `  CREATE TYPE ${type} AS ENUM (${labels.map(literal).join(', ')});`,
    'END IF;',
  ]
  for (const label of labels) {
    lines.push(
      `IF NOT EXISTS (SELECT FROM pg_catalog.pg_enum WHERE enumtypid = ${literal(type)}::regtype AND enumlabel = ${literal(label)}) THEN`,
      `  ALTER TYPE ${type} ADD VALUE ${literal(label)};`,
      'END IF;',
    )
  }
  return doBlock(lines.join('\n'))
}

export function ensureSchema(name: string): string {
  // Checked first: CREATE SCHEMA IF NOT EXISTS still needs CREATE on the database.
  return doBlock(`IF to_regnamespace(${literal(ident(name))}) IS NULL THEN\n  CREATE SCHEMA ${ident(name)};\nEND IF;`)
}

/** Grants to roles that exist; a missing optional role is skipped instead of failing. */
export function grantIfRoleExists(role: string, statement: string): string {
  return doBlock(`IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = ${literal(role)}) THEN\n  ${statement};\nEND IF;`)
}

export function doBlock(body: string): string {
  return `DO $resolution$\nBEGIN\n${body}\nEND\n$resolution$;`
}
