/**
 * Which roles a JWT may make a request run as. A signed `role` claim is trusted to name a role,
 * never to name ANY role: the connecting role, a superuser or a role that bypasses RLS or creates
 * roles would turn one leaked signing key (or one careless admin-set claim) into the whole
 * database. Only the API roles and roles an operator names in `DB_EXTRA_ROLES` pass, and a named
 * role is checked once against `pg_roles` before it is ever used. One guard per service, shared by
 * every family that sets a request's role (REST, Storage, Realtime); each answers a refusal in
 * its own protocol's words.
 * @module
 */
import type { Database } from '../db/types.ts'
import type { Services } from '../services.ts'
import { API_ROLES } from './api-roles.ts'

interface RoleRow {
  rolsuper: boolean
  rolbypassrls: boolean
  rolcreaterole: boolean
  connecting: boolean
}

/** Why an extra role may not be assumed, or undefined when it may. */
function refusal(row: RoleRow | undefined): 'missing' | string | undefined {
  if (!row) return 'missing'
  if (row.connecting) return 'it is the role the service connects as'
  if (row.rolsuper) return 'it is a superuser'
  if (row.rolbypassrls) return 'it bypasses row-level security'
  if (row.rolcreaterole) return 'it may create roles'
  return undefined
}

const ROLE_QUERY = `SELECT rolsuper, rolbypassrls, rolcreaterole, rolname = current_user AS connecting
  FROM pg_catalog.pg_roles WHERE rolname = $1`

/** `missing`: no such role (PostgREST answers 401); `refused`: not one a JWT may name (403). */
export type RoleVerdict = 'allowed' | 'missing' | 'refused'

export interface RoleGuard {
  verdict(role: string): Promise<RoleVerdict>
}

/** Bounds the verdict cache: tokens are signed, so names are few, but memory is never unbounded. */
const MAX_VERDICTS = 1000

export function createRoleGuard(database: () => Promise<Database>, extraRoles: readonly string[]): RoleGuard {
  const extra = new Set(extraRoles)
  // One pg_roles lookup per role name and process; a refusal is remembered too (attributes of
  // a role rarely change, and a restart re-reads them).
  const verdicts = new Map<string, Promise<string | undefined>>()
  const lookup = (role: string) => {
    let pending = verdicts.get(role)
    if (!pending) {
      pending = database()
        .then((db) => db.query<RoleRow>(ROLE_QUERY, [role]))
        .then(({ rows }) => refusal(rows[0]))
      // A failed lookup (database down) is not a verdict: ask again next time.
      pending.catch(() => verdicts.delete(role))
      if (verdicts.size >= MAX_VERDICTS) verdicts.delete(verdicts.keys().next().value!)
      verdicts.set(role, pending)
    }
    return pending
  }
  return {
    async verdict(role) {
      if (API_ROLES.has(role)) return 'allowed'
      const reason = await lookup(role)
      // As PostgREST: a role that does not exist is missing, whatever the list says.
      if (reason === 'missing') return 'missing'
      return extra.has(role) && !reason ? 'allowed' : 'refused'
    },
  }
}

const guards = new WeakMap<Services, RoleGuard>()

/** The guard of `services` (one per service, so one pg_roles lookup per role name). */
export function roleGuardOf(services: Services): RoleGuard {
  let guard = guards.get(services)
  if (!guard) guards.set(services, (guard = createRoleGuard(services.database, services.config.rest.extraRoles)))
  return guard
}
