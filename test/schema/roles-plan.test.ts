import { describe, expect, it } from 'vitest'
import { canGrantAttribute, planRoles, SUPABASE_ROLES, type Capabilities } from '../../src/schema/sql/roles.ts'

const superuser: Capabilities = { superuser: true, createRole: true, createDb: true, replication: true, bypassRls: true, serverVersionNum: 150020 }
const rdsMaster15: Capabilities = { superuser: false, createRole: true, createDb: true, replication: false, bypassRls: false, serverVersionNum: 150020 }
const noCreateRole: Capabilities = { ...rdsMaster15, createRole: false }
const allRoles = new Set(SUPABASE_ROLES.map((r) => r.name))

describe('which role attributes the connecting role may hand out', () => {
  it('a superuser may give any', () => {
    for (const a of ['SUPERUSER', 'REPLICATION', 'BYPASSRLS', 'CREATEDB', 'CREATEROLE', 'LOGIN'] as const) expect(canGrantAttribute(a, superuser)).toBe(true)
  })

  it('a CREATEROLE role on PostgreSQL 15 may not give SUPERUSER, REPLICATION or BYPASSRLS', () => {
    expect(canGrantAttribute('SUPERUSER', rdsMaster15)).toBe(false)
    expect(canGrantAttribute('REPLICATION', rdsMaster15)).toBe(false)
    expect(canGrantAttribute('BYPASSRLS', { ...rdsMaster15, bypassRls: true })).toBe(false)
    expect(canGrantAttribute('CREATEDB', rdsMaster15)).toBe(true)
    expect(canGrantAttribute('NOINHERIT', rdsMaster15)).toBe(true)
  })

  it('on PostgreSQL 16+ it may give the attributes it has itself', () => {
    const pg16 = { ...rdsMaster15, serverVersionNum: 160004, bypassRls: true }
    expect(canGrantAttribute('BYPASSRLS', pg16)).toBe(true)
    expect(canGrantAttribute('REPLICATION', pg16)).toBe(false)
    expect(canGrantAttribute('CREATEDB', { ...pg16, createDb: false })).toBe(false)
    expect(canGrantAttribute('SUPERUSER', pg16)).toBe(false)
  })
})

describe('planRoles', () => {
  it('creates every missing role with its attributes as a superuser, without warnings or self-grants', () => {
    const plan = planRoles(superuser, new Set())
    expect(plan.warnings).toEqual([])
    const sql = plan.statements.join('\n')
    expect(sql).toContain('CREATE ROLE "service_role" NOLOGIN NOINHERIT BYPASSRLS;')
    expect(sql).toContain('CREATE ROLE "supabase_admin" NOLOGIN SUPERUSER CREATEROLE CREATEDB REPLICATION BYPASSRLS;')
    expect(sql).toContain('GRANT "anon" TO "authenticator"')
    expect(sql).not.toContain('CURRENT_USER')
    expect(sql).toContain(`ALTER ROLE "anon" SET "statement_timeout" = ''3s''`)
  })

  it('degrades attributes a managed-server master cannot give, says so, and grants it the API roles', () => {
    const plan = planRoles(rdsMaster15, new Set())
    expect(plan.warnings).toContain('role service_role created without BYPASSRLS (the connecting role may not grant it)')
    expect(plan.warnings).toContain('role supabase_admin created without SUPERUSER, REPLICATION, BYPASSRLS (the connecting role may not grant them)')
    const sql = plan.statements.join('\n')
    expect(sql).toContain('CREATE ROLE "service_role" NOLOGIN NOINHERIT;')
    for (const role of ['anon', 'authenticated', 'service_role']) expect(sql).toContain(`GRANT "${role}" TO CURRENT_USER`)
  })

  it('warns about nothing when the roles already exist', () => {
    expect(planRoles(rdsMaster15, allRoles).warnings).toEqual([])
  })

  it('fails clearly when an essential role is missing and roles cannot be created', () => {
    expect(() => planRoles(noCreateRole, new Set())).toThrow(/role anon is missing and the connecting role cannot create roles \(needs CREATEROLE\); create anon, authenticated, service_role, authenticator first/)
  })

  it('only warns about optional roles it cannot create', () => {
    const existing = new Set(['anon', 'authenticated', 'service_role', 'authenticator'])
    const plan = planRoles(noCreateRole, existing)
    expect(plan.warnings).toContain('role pgbouncer is missing and the connecting role cannot create roles (needs CREATEROLE)')
    expect(plan.statements.join('\n')).not.toContain('CREATE ROLE "pgbouncer"')
  })
})
