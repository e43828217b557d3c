/**
 * The Supabase role set. Roles belong to the cluster, not the database, so several databases of
 * one server may bootstrap at once: every CREATE ROLE / GRANT runs in its own DO block that treats
 * "someone else just created it" (`duplicate_object`, `unique_violation`, and the catalog's
 * "tuple concurrently updated") as success.
 *
 * Attributes the connecting role may not hand out (SUPERUSER, REPLICATION, BYPASSRLS without
 * superuser…) are left off with a warning instead of failing: on RDS-like servers the master user
 * is no superuser. Existing roles are never altered.
 * @module
 */
import { ident, literal } from '../../db/sql.ts'
import { doBlock, warn } from '../ddl.ts'

export type RoleAttribute = 'SUPERUSER' | 'CREATEROLE' | 'CREATEDB' | 'REPLICATION' | 'BYPASSRLS' | 'LOGIN' | 'NOLOGIN' | 'INHERIT' | 'NOINHERIT'

export interface RoleSpec {
  name: string
  attributes: readonly RoleAttribute[]
  /** Roles this one is a member of (given with the grant when created, and checked every run). */
  memberOf?: readonly string[]
  /** `ALTER ROLE … SET`, applied only when the role is created here. */
  settings?: Readonly<Record<string, string>>
  /** Bootstrap fails without it: grants and policies name these roles. */
  essential?: boolean
}

/**
 * As in supabase/postgres' init scripts and the CLI's globals.sql. `supabase_admin` stays NOLOGIN
 * here: it is a superuser and we set no passwords, so nobody should be able to log in as it.
 */
export const SUPABASE_ROLES: readonly RoleSpec[] = [
  { name: 'anon', attributes: ['NOLOGIN', 'NOINHERIT'], settings: { statement_timeout: '3s' }, essential: true },
  { name: 'authenticated', attributes: ['NOLOGIN', 'NOINHERIT'], settings: { statement_timeout: '8s' }, essential: true },
  { name: 'service_role', attributes: ['NOLOGIN', 'NOINHERIT', 'BYPASSRLS'], essential: true },
  {
    name: 'authenticator',
    attributes: ['LOGIN', 'NOINHERIT'],
    memberOf: ['anon', 'authenticated', 'service_role'],
    settings: { statement_timeout: '8s' },
    essential: true,
  },
  { name: 'supabase_admin', attributes: ['NOLOGIN', 'SUPERUSER', 'CREATEROLE', 'CREATEDB', 'REPLICATION', 'BYPASSRLS'] },
  {
    name: 'supabase_auth_admin',
    attributes: ['LOGIN', 'NOINHERIT', 'CREATEROLE'],
    settings: { search_path: 'auth', idle_in_transaction_session_timeout: '60000' },
  },
  { name: 'supabase_storage_admin', attributes: ['LOGIN', 'NOINHERIT', 'CREATEROLE'], settings: { search_path: 'storage' } },
  { name: 'supabase_functions_admin', attributes: ['LOGIN', 'NOINHERIT', 'CREATEROLE'], settings: { search_path: 'supabase_functions' } },
  { name: 'supabase_replication_admin', attributes: ['LOGIN', 'REPLICATION'] },
  { name: 'supabase_read_only_user', attributes: ['LOGIN', 'BYPASSRLS'], memberOf: ['pg_read_all_data'] },
  { name: 'dashboard_user', attributes: ['NOLOGIN', 'CREATEROLE', 'CREATEDB', 'REPLICATION'] },
  { name: 'pgbouncer', attributes: ['LOGIN'] },
]

/** The API roles the connecting role must be able to `SET ROLE` to (an RDS master user needs the membership). */
export const API_ROLES = ['anon', 'authenticated', 'service_role'] as const

/** What the connecting role may do, from `pg_roles` and `server_version_num`. */
export interface Capabilities {
  superuser: boolean
  createRole: boolean
  createDb: boolean
  replication: boolean
  bypassRls: boolean
  serverVersionNum: number
}

export const CAPABILITIES_QUERY = `SELECT rolsuper AS superuser, rolcreaterole AS "createRole", rolcreatedb AS "createDb",
  rolreplication AS replication, rolbypassrls AS "bypassRls", current_setting('server_version_num')::int AS "serverVersionNum"
  FROM pg_catalog.pg_roles WHERE rolname = current_user`

/**
 * Whether the connecting role may give `attribute` to a role it creates. PostgreSQL 15 reserves
 * SUPERUSER, REPLICATION and BYPASSRLS to superusers; 16+ lets a CREATEROLE role hand out the
 * attributes it has itself.
 */
export function canGrantAttribute(attribute: RoleAttribute, me: Capabilities): boolean {
  if (me.superuser) return true
  if (!me.createRole) return false
  const pg16 = me.serverVersionNum >= 160000
  switch (attribute) {
    case 'SUPERUSER':
      return false
    case 'REPLICATION':
      return pg16 && me.replication
    case 'BYPASSRLS':
      return pg16 && me.bypassRls
    case 'CREATEDB':
      return !pg16 || me.createDb
    default:
      return true
  }
}

export interface RolePlan {
  statements: string[]
  /** Attributes left off, roles that cannot be created: said once, in the report and the log. */
  warnings: string[]
}

const RACE_SAFE = `EXCEPTION
  WHEN duplicate_object OR unique_violation THEN NULL;
  WHEN internal_error THEN
    IF SQLERRM NOT LIKE 'tuple concurrently %' THEN RAISE; END IF;`

/** The DO blocks that create missing roles and memberships, given what the connecting role may do. */
export function planRoles(
  me: Capabilities,
  existing: ReadonlySet<string>,
  roles: readonly RoleSpec[] = SUPABASE_ROLES,
  apiRoles: readonly string[] = API_ROLES,
): RolePlan {
  const statements: string[] = []
  const warnings: string[] = []
  const canCreateRoles = me.superuser || me.createRole
  for (const role of roles) {
    const granted = role.attributes.filter((a) => canGrantAttribute(a, me))
    const withheld = role.attributes.filter((a) => !canGrantAttribute(a, me))
    if (!existing.has(role.name)) {
      if (!canCreateRoles) {
        const message = `role ${role.name} is missing and the connecting role cannot create roles (needs CREATEROLE)`
        if (role.essential) throw new Error(`bootstrap: ${message}; create ${roles.filter((r) => r.essential).map((r) => r.name).join(', ')} first`)
        warnings.push(message)
        continue
      }
      if (withheld.length) warnings.push(`role ${role.name} created without ${withheld.join(', ')} (the connecting role may not grant ${withheld.length > 1 ? 'them' : 'it'})`)
    }
    const settings = Object.entries(role.settings ?? {}).map(
      ([name, value]) => `EXECUTE ${literal(`ALTER ROLE ${ident(role.name)} SET ${ident(name)} = ${literal(value)}`)};`,
    )
    // `optional` roles may fail for lack of privilege (e.g. no CREATEROLE on a managed server).
    const onDenied = role.essential ? '' : `\n  WHEN insufficient_privilege THEN\n    ${warn(`${literal(`cannot create role ${role.name}: `)} || SQLERRM`)}`
    statements.push(
      doBlock(`IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = ${literal(role.name)}) THEN
  BEGIN
    CREATE ROLE ${ident(role.name)}${granted.length ? ' ' + granted.join(' ') : ''};
    ${settings.join('\n    ')}
  ${RACE_SAFE}${onDenied}
  END;
END IF;`),
    )
    for (const group of role.memberOf ?? []) statements.push(ensureMembership(group, role.name))
  }
  // The connecting role switches to the API roles per request (SET LOCAL ROLE). A superuser needs
  // no membership; any other role does.
  if (!me.superuser) for (const role of apiRoles) statements.push(ensureMembership(role, 'current_user'))
  return { statements, warnings }
}

/** `GRANT group TO member` when both exist and the membership is missing; denied or racing grants do not fail the bootstrap. */
function ensureMembership(group: string, member: string): string {
  const memberName = member === 'current_user' ? 'current_user' : literal(member)
  const memberSql = member === 'current_user' ? 'CURRENT_USER' : ident(member)
  return doBlock(`IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = ${literal(group)})
  AND EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = ${memberName})
  AND NOT pg_catalog.pg_has_role(${memberName}, ${literal(group)}, 'MEMBER')
THEN
  BEGIN
    GRANT ${ident(group)} TO ${memberSql};
  ${RACE_SAFE}
    WHEN insufficient_privilege OR invalid_grant_operation THEN
      ${warn(`${literal(`cannot grant ${group} to `)} || ${memberName} || ': ' || SQLERRM`)}
  END;
END IF;`)
}
