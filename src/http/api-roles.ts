/**
 * The roles a token may name: Supabase's three API roles and those an operator lists in
 * `DB_EXTRA_ROLES`. Shared by REST (which switches to the role) and the admin users API (which
 * writes it into users' tokens), so neither can be talked into `postgres` or `supabase_admin`.
 * @module
 */

import { API_ROLES as BOOTSTRAPPED_API_ROLES } from '../schema/sql/roles.ts'

/** The roles Supabase's keys and Auth's tokens carry. `service_role` bypasses RLS by design. */
export const API_ROLES: ReadonlySet<string> = new Set(BOOTSTRAPPED_API_ROLES)

export function isNamedApiRole(role: string, extraRoles: readonly string[]): boolean {
  return API_ROLES.has(role) || extraRoles.includes(role)
}
