/**
 * The service schemas a Supabase database has, the `extensions` schema with pgcrypto and
 * uuid-ossp, and the privileges Supabase gives the API roles on `public` and `extensions`.
 * @module
 */
import { doBlock, ensurePrivilege, ensureSchema, warn } from '../ddl.ts'

/** Our own bookkeeping schema; never exposed through the API. */
export const RESOLUTION_SCHEMA = '_resolution'

export const SERVICE_SCHEMAS = [
  'extensions',
  'auth',
  'vault',
  'storage',
  'realtime',
  'graphql_public',
  'supabase_functions',
  'supabase_migrations',
  'pgbouncer',
  RESOLUTION_SCHEMA,
] as const

/**
 * An extension installed WITH SCHEMA extensions when missing. One already installed elsewhere
 * (e.g. pgcrypto in public on an older database) is left where it is. A server without the
 * contrib package gets a warning, not a failed bootstrap.
 */
function ensureExtension(name: string): string {
  return doBlock(`IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = '${name}') THEN
  BEGIN
    CREATE EXTENSION IF NOT EXISTS "${name}" WITH SCHEMA extensions;
  EXCEPTION
    WHEN undefined_file OR feature_not_supported OR insufficient_privilege THEN
      ${warn(`'extension ${name} not installed: ' || SQLERRM`)}
    WHEN duplicate_object OR unique_violation THEN NULL;
  END;
END IF;`)
}

export function schemaStatements(): string[] {
  return [...SERVICE_SCHEMAS.map(ensureSchema), ensureExtension('pgcrypto'), ensureExtension('uuid-ossp')]
}

const API_ROLES = ['anon', 'authenticated', 'service_role']
const API_ROLE_LIST = API_ROLES.join(', ')

/**
 * As supabase/postgres' initial schema: the API roles may use `public` and `extensions`, and
 * whatever the connecting role creates in `public` later is granted to them by default, so row
 * level security alone decides what they see. Existing objects' grants are left as they are.
 */
export function grantStatements(): string[] {
  const statements = ['public', 'extensions', 'graphql_public'].map((schema) => ensurePrivilege('SCHEMA', schema, 'USAGE', API_ROLES))
  for (const kind of ['TABLES', 'SEQUENCES', 'FUNCTIONS']) {
    statements.push(`ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON ${kind} TO ${API_ROLE_LIST}`)
  }
  return statements
}

/** The empty `supabase_realtime` publication every Supabase database has (dumps ALTER it). */
export const REALTIME_PUBLICATION = doBlock(`IF NOT EXISTS (SELECT FROM pg_catalog.pg_publication WHERE pubname = 'supabase_realtime') THEN
  BEGIN
    CREATE PUBLICATION supabase_realtime;
  EXCEPTION
    WHEN duplicate_object OR unique_violation THEN NULL;
    WHEN insufficient_privilege THEN
      ${warn("'publication supabase_realtime not created: ' || SQLERRM")}
  END;
END IF;`)
