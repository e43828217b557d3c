/**
 * What the target database already has, read once before a restore: the sanitizer decides over
 * this snapshot plus what the dump itself creates, so `--dry-run` plans exactly what a real run
 * does without touching anything.
 * @module
 */
import type { Queryable } from '../../db/types.ts'

export interface TargetFacts {
  serverVersionNum: number
  currentUser: string
  superuser: boolean
  roles: Set<string>
  availableExtensions: Set<string>
  /** Installed extension → its schema. */
  installedExtensions: Map<string, string>
  schemas: Set<string>
  /** `schema.name` → relkind (r table, v view, S sequence, i index, m matview, p partitioned, f foreign, c composite). */
  relations: Map<string, string>
  /** `schema.name` of functions and procedures. */
  functions: Set<string>
  /** `schema.name` of user types (enums, domains, composites). */
  types: Set<string>
  /** `schema.table.name` of constraints, triggers, policies. */
  constraints: Set<string>
  primaryKeys: Set<string>
  triggers: Set<string>
  policies: Set<string>
  eventTriggers: Set<string>
  publications: Set<string>
  /**
   * Grantees of the connecting role's default privileges: `schema|objtype` (objtype r tables,
   * S sequences, f functions; schema '' for the global ones) → roles.
   */
  defaultGrantees: Map<string, Set<string>>
  /** `schema.table` → its columns: name → { type, generated }. */
  columns: Map<string, Map<string, { type: string; generated: boolean }>>
}

export const key = (schema: string, name: string) => `${schema}.${name}`

const USER_NAMESPACES = `n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg_temp_%' AND n.nspname NOT LIKE 'pg_toast_temp_%'`

export async function readTargetFacts(db: Queryable): Promise<TargetFacts> {
  const one = async <R>(sql: string) => (await db.query<R>(sql)).rows
  const [me] = await one<{ current_user: string; rolsuper: boolean; v: string }>(
    `SELECT current_user, r.rolsuper, current_setting('server_version_num') AS v FROM pg_catalog.pg_roles r WHERE r.rolname = current_user`,
  )
  const roles = await one<{ rolname: string }>('SELECT rolname FROM pg_catalog.pg_roles')
  const available = await one<{ name: string }>('SELECT name FROM pg_catalog.pg_available_extensions')
  const installed = await one<{ extname: string; nspname: string }>(
    'SELECT e.extname, n.nspname FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace',
  )
  const schemas = await one<{ nspname: string }>('SELECT nspname FROM pg_catalog.pg_namespace')
  const relations = await one<{ nspname: string; relname: string; relkind: string }>(
    `SELECT n.nspname, c.relname, c.relkind::text AS relkind FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE ${USER_NAMESPACES}`,
  )
  const functions = await one<{ nspname: string; proname: string }>(
    `SELECT DISTINCT n.nspname, p.proname FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE ${USER_NAMESPACES}`,
  )
  const types = await one<{ nspname: string; typname: string }>(
    `SELECT n.nspname, t.typname FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace WHERE ${USER_NAMESPACES} AND t.typtype IN ('e', 'd', 'c', 'r', 'm')`,
  )
  const constraints = await one<{ nspname: string; relname: string; conname: string; contype: string }>(
    `SELECT n.nspname, c.relname, k.conname, k.contype::text AS contype FROM pg_catalog.pg_constraint k
       JOIN pg_catalog.pg_class c ON c.oid = k.conrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE ${USER_NAMESPACES}`,
  )
  const triggers = await one<{ nspname: string; relname: string; tgname: string }>(
    `SELECT n.nspname, c.relname, t.tgname FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE NOT t.tgisinternal AND ${USER_NAMESPACES}`,
  )
  const policies = await one<{ schemaname: string; tablename: string; policyname: string }>('SELECT schemaname, tablename, policyname FROM pg_catalog.pg_policies')
  const eventTriggers = await one<{ evtname: string }>('SELECT evtname FROM pg_catalog.pg_event_trigger')
  const publications = await one<{ pubname: string }>('SELECT pubname FROM pg_catalog.pg_publication')
  const columns = await one<{ nspname: string; relname: string; attname: string; type: string; generated: boolean }>(
    `SELECT n.nspname, c.relname, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod) AS type, a.attgenerated <> '' AS generated
       FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'f', 'v', 'm') AND ${USER_NAMESPACES}`,
  )

  const defaults = await one<{ schema: string; objtype: string; grantee: string }>(
    `SELECT coalesce(n.nspname, '') AS schema, d.defaclobjtype::text AS objtype, a.grantee::regrole::text AS grantee
       FROM pg_catalog.pg_default_acl d LEFT JOIN pg_catalog.pg_namespace n ON n.oid = d.defaclnamespace,
            LATERAL pg_catalog.aclexplode(d.defaclacl) a
      WHERE d.defaclrole = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user) AND a.grantee <> 0`,
  )
  const defaultGrantees = new Map<string, Set<string>>()
  for (const d of defaults) {
    const k = `${d.schema}|${d.objtype}`
    if (!defaultGrantees.has(k)) defaultGrantees.set(k, new Set())
    defaultGrantees.get(k)!.add(d.grantee.replace(/^"(.*)"$/, '$1'))
  }

  const columnMap = new Map<string, Map<string, { type: string; generated: boolean }>>()
  for (const c of columns) {
    const table = key(c.nspname, c.relname)
    if (!columnMap.has(table)) columnMap.set(table, new Map())
    columnMap.get(table)!.set(c.attname, { type: c.type, generated: c.generated })
  }
  return {
    serverVersionNum: Number(me?.v ?? 0),
    currentUser: me?.current_user ?? 'postgres',
    superuser: me?.rolsuper ?? false,
    roles: new Set(roles.map((r) => r.rolname)),
    availableExtensions: new Set(available.map((r) => r.name)),
    installedExtensions: new Map(installed.map((r) => [r.extname, r.nspname])),
    schemas: new Set(schemas.map((r) => r.nspname)),
    relations: new Map(relations.map((r) => [key(r.nspname, r.relname), r.relkind])),
    functions: new Set(functions.map((r) => key(r.nspname, r.proname))),
    types: new Set(types.map((r) => key(r.nspname, r.typname))),
    constraints: new Set(constraints.map((r) => `${r.nspname}.${r.relname}.${r.conname}`)),
    primaryKeys: new Set(constraints.filter((r) => r.contype === 'p').map((r) => key(r.nspname, r.relname))),
    triggers: new Set(triggers.map((r) => `${r.nspname}.${r.relname}.${r.tgname}`)),
    policies: new Set(policies.map((r) => `${r.schemaname}.${r.tablename}.${r.policyname}`)),
    eventTriggers: new Set(eventTriggers.map((r) => r.evtname)),
    publications: new Set(publications.map((r) => r.pubname)),
    defaultGrantees,
    columns: columnMap,
  }
}
