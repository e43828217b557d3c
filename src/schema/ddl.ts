/**
 * Idempotent DDL builders for the bootstrap. Every object is created only when it is missing and
 * existing ones are never altered, dropped or retyped; only missing columns, indexes and enum
 * labels are added. Each check reads the catalogs first, because `ADD COLUMN IF NOT EXISTS` and
 * `CREATE INDEX IF NOT EXISTS` still demand ownership of the table, which a non-owner (the
 * `postgres` role of a real Supabase project, where `supabase_auth_admin` owns `auth`) lacks.
 * What the connecting role may not do is recorded as a warning (see `warn`), never an error.
 *
 * Names here are trusted constants of this module's callers, quoted with `ident()` all the same.
 * @module
 */
import { ident, literal, qualified } from '../db/sql.ts'

/** The transaction-local setting the bootstrap's DO blocks append their warnings to. */
export const WARNINGS_SETTING = 'resolution.bootstrap_warnings'

/**
 * PL/pgSQL that records a warning as a line appended to a transaction-local setting, which
 * `bootstrap()` reads back for its report and log (so no session state outlives the transaction).
 */
export function warn(messageExpression: string): string {
  return `PERFORM pg_catalog.set_config('${WARNINGS_SETTING}', coalesce(current_setting('${WARNINGS_SETTING}', true), '') || (${messageExpression}) || chr(10), true);`
}

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
  /** GRANT statements run only when the table is created here (existing tables keep their ACLs). */
  grantsOnCreate?: readonly string[]
}

/** Whether the connecting role may create objects in `schema` (false on a schema owned by another role, e.g. Supabase's `auth`). */
export const MAY_CREATE_IN = (schema: string) => `pg_catalog.has_schema_privilege(current_user, ${literal(schema)}, 'CREATE')`

const OWNS_TABLE = (regclass: string) =>
  `EXISTS (SELECT FROM pg_catalog.pg_class WHERE oid = to_regclass(${regclass}) AND pg_catalog.pg_has_role(current_user, relowner, 'USAGE'))`

/** One DO block: create the table if missing, then add missing columns and indexes where the connecting role owns it. */
export function ensureTable(spec: TableSpec): string {
  const table = qualified(spec.schema, spec.name)
  const regclass = literal(table)
  const body = [...spec.columns.map(([name, definition]) => `${ident(name)} ${definition}`), ...(spec.constraints ?? [])]
  const lines: string[] = [skipUnlessUsable(spec.schema)]
  lines.push(`IF to_regclass(${regclass}) IS NULL AND NOT ${MAY_CREATE_IN(spec.schema)} THEN`)
  lines.push(`  ${warn(literal(`table ${spec.schema}.${spec.name} is missing and the connecting role may not create in schema ${spec.schema}`))}`)
  lines.push(`ELSIF to_regclass(${regclass}) IS NULL THEN`)
  lines.push(`  CREATE TABLE ${table} (\n    ${body.join(',\n    ')}\n  );`)
  if (spec.rowLevelSecurity) lines.push(`  ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY;`)
  if (spec.comment) lines.push(`  COMMENT ON TABLE ${table} IS ${literal(spec.comment)};`)
  for (const grant of spec.grantsOnCreate ?? []) lines.push(`  ${grant};`)
  lines.push('END IF;')
  lines.push(`owned := ${OWNS_TABLE(regclass)};`)
  for (const [name, definition] of spec.columns) {
    lines.push(
      `IF NOT EXISTS (SELECT FROM pg_catalog.pg_attribute WHERE attrelid = to_regclass(${regclass}) AND attname = ${literal(name)} AND NOT attisdropped) THEN`,
      `  IF owned THEN ALTER TABLE ${table} ADD COLUMN ${ident(name)} ${definition};`,
      `  ELSE ${warn(literal(`column ${spec.schema}.${spec.name}.${name} is missing and the connecting role does not own the table`))}`,
      '  END IF;',
      'END IF;',
    )
  }
  for (const [name, statement] of spec.indexes ?? []) {
    lines.push(
      `IF to_regclass(${literal(qualified(spec.schema, name))}) IS NULL THEN`,
      `  IF owned THEN ${statement};`,
      `  ELSE ${warn(literal(`index ${spec.schema}.${name} is missing and the connecting role does not own ${spec.schema}.${spec.name}`))}`,
      '  END IF;',
      'END IF;',
    )
  }
  return doBlock(lines.join('\n'), 'owned boolean;')
}

/** An enum type created when missing; missing labels are appended (never removed or reordered). */
export function ensureEnum(schema: string, name: string, labels: readonly string[]): string {
  const type = qualified(schema, name)
  const lines = [
    skipUnlessUsable(schema),
    `IF to_regtype(${literal(type)}) IS NULL AND NOT ${MAY_CREATE_IN(schema)} THEN`,
    `  ${warn(literal(`type ${schema}.${name} is missing and the connecting role may not create in schema ${schema}`))}`,
    `ELSIF to_regtype(${literal(type)}) IS NULL THEN`,
    `  CREATE TYPE ${type} AS ENUM (${labels.map(literal).join(', ')});`,
    'END IF;',
    `owned := EXISTS (SELECT FROM pg_catalog.pg_type WHERE oid = to_regtype(${literal(type)}) AND pg_catalog.pg_has_role(current_user, typowner, 'USAGE'));`,
  ]
  for (const label of labels) {
    lines.push(
      `IF NOT EXISTS (SELECT FROM pg_catalog.pg_enum WHERE enumtypid = to_regtype(${literal(type)}) AND enumlabel = ${literal(label)}) THEN`,
      `  IF owned THEN ALTER TYPE ${type} ADD VALUE ${literal(label)};`,
      `  ELSE ${warn(literal(`enum label ${label} of ${schema}.${name} is missing and the connecting role does not own the type`))}`,
      '  END IF;',
      'END IF;',
    )
  }
  return doBlock(lines.join('\n'), 'owned boolean;')
}

export function ensureSchema(name: string): string {
  // Checked first: CREATE SCHEMA IF NOT EXISTS still needs CREATE on the database.
  return doBlock(`IF to_regnamespace(${literal(ident(name))}) IS NULL THEN\n  CREATE SCHEMA ${ident(name)};\nEND IF;`)
}

/**
 * A GRANT that must not fail the bootstrap: skipped when a named optional role is missing or
 * `condition` (SQL) is false, and a warning when the connecting role holds no grant option (a
 * non-owner on a real Supabase).
 */
export function tolerantGrant(statement: string, requiredRoles: readonly string[] = [], condition = 'true'): string {
  const roles = requiredRoles.length
    ? `(SELECT count(*) FROM pg_catalog.pg_roles WHERE rolname IN (${requiredRoles.map(literal).join(', ')})) = ${requiredRoles.length}`
    : 'true'
  return doBlock(`IF ${roles} AND ${condition} THEN
  BEGIN
    ${statement};
  EXCEPTION WHEN insufficient_privilege THEN
    ${warn(`${literal(`not granted (${statement}): `)} || SQLERRM`)}
  END;
END IF;`)
}

/**
 * Makes sure each role that exists holds `privilege` on a schema or function: granted only where
 * missing (so a current database sees no GRANT at all), and a warning when the connecting role
 * cannot grant it or the grant had no effect (no grant option).
 */
export function ensurePrivilege(kind: 'SCHEMA' | 'FUNCTION', object: string, privilege: 'USAGE' | 'CREATE' | 'EXECUTE', roles: readonly string[]): string {
  const check = kind === 'SCHEMA' ? 'has_schema_privilege' : 'has_function_privilege'
  const exists = kind === 'SCHEMA' ? `to_regnamespace(${literal(ident(object))}) IS NOT NULL` : `to_regprocedure(${literal(object)}) IS NOT NULL`
  const has = `pg_catalog.${check}(r, ${literal(object)}, ${literal(privilege)})`
  const statement = `GRANT ${privilege} ON ${kind} ${object} TO `
  return doBlock(
    `IF NOT (${exists}) THEN RETURN; END IF;
FOREACH r IN ARRAY ARRAY[${roles.map(literal).join(', ')}] LOOP
  CONTINUE WHEN NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = r) OR ${has};
  BEGIN
    EXECUTE ${literal(statement)} || quote_ident(r);
  EXCEPTION WHEN insufficient_privilege THEN NULL;
  END;
  IF NOT ${has} THEN
    ${warn(`${literal(`${privilege} on ${kind.toLowerCase()} ${object} is missing for role `)} || r || ' and the connecting role cannot grant it'`)}
  END IF;
END LOOP;`,
    'r text;',
  )
}

/** A GRANT on a table or sequence the connecting role owns (on one it does not own, the owner decides). */
export function grantOnOwned(kind: 'TABLE' | 'SEQUENCE', schema: string, name: string, privileges: string, roles: readonly string[]): string {
  const object = qualified(schema, name)
  const condition = `pg_catalog.has_schema_privilege(current_user, ${literal(schema)}, 'USAGE') AND ${OWNS_TABLE(literal(object))}`
  return tolerantGrant(`GRANT ${privileges} ON ${kind} ${object} TO ${roles.map(ident).join(', ')}`, roles, condition)
}

/**
 * Without USAGE on a schema even a catalog lookup of its objects (`to_regclass('auth.users')`)
 * fails, so blocks touching an inaccessible schema end early; `schemaAccessWarning` says so once.
 */
export function skipUnlessUsable(schema: string): string {
  return `IF NOT pg_catalog.has_schema_privilege(current_user, ${literal(schema)}, 'USAGE') THEN RETURN; END IF;`
}

export function schemaAccessWarning(schema: string): string {
  return doBlock(`IF NOT pg_catalog.has_schema_privilege(current_user, ${literal(schema)}, 'USAGE') THEN
  ${warn(literal(`schema ${schema} is not usable by the connecting role (no USAGE): its objects were neither checked nor created`))}
END IF;`)
}

export function doBlock(body: string, declarations = ''): string {
  return `DO $resolution$\n${declarations ? `DECLARE\n  ${declarations}\n` : ''}BEGIN\n${body}\nEND\n$resolution$;`
}
