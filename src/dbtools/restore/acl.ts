/**
 * Privileges as the source had them. pg_dump writes an object's ACL as changes from PostgreSQL's
 * built-in default (owner only; PUBLIC EXECUTE on functions, PUBLIC USAGE on types), and writes
 * nothing at all for an object whose ACL is that default. The target's default privileges (the
 * bootstrap's `ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES, SEQUENCES, FUNCTIONS
 * TO anon, authenticated, service_role`) give every object the restore creates more than that, so
 * a function the source revoked from anon would stay callable through /rest/v1/rpc.
 *
 * Two repairs, for the objects this restore creates (functions, procedures, types, domains,
 * schemas; tables and sequences before a GRANT are the `acl-baseline` rule's):
 * - before the dump's first GRANT/REVOKE on one, the target's default grants are revoked;
 * - at the end, when the dump carried ACLs at all (it was not made with --no-acl), the same is
 *   done for the created objects — tables, sequences and identity sequences included — that no
 *   GRANT/REVOKE of the dump mentioned: their source ACL was PostgreSQL's default.
 * A dump without any GRANT/REVOKE (`--no-acl`) keeps the target's default privileges, as before.
 * @module
 */
import { ident, qualified } from '../../db/sql.ts'
import type { Queryable } from '../../db/types.ts'
import type { Node } from './parse.ts'
import { objectRef, rangeVarRef, refKey, targetsOf } from './refs.ts'
import type { Current, Planned, SanitizeContext } from './sanitize-context.ts'

/** pg_default_acl object types: r tables (views …), S sequences, f functions and procedures, T types, n schemas. */
type AclKind = 'r' | 'S' | 'f' | 'T' | 'n'

interface Created {
  kind: AclKind
  schema: string
  /** The object as REVOKE names it, after `ON`. */
  on: string
}

const strings = (list: Node[] | undefined): string[] => (list ?? []).map((n) => n.String?.sval ?? '')

/** A type as written in a signature: names quoted, array bounds kept, typmods dropped (they are not part of it). */
function typeText(typeName: Node): string {
  return strings(typeName.names).map(ident).join('.') + '[]'.repeat(typeName.arrayBounds?.length ?? 0)
}

function qualifiedNames(names: string[]): { schema: string; name: string } {
  return names.length >= 2 ? { schema: names[names.length - 2]!, name: names[names.length - 1]! } : { schema: 'public', name: names[0] ?? '' }
}

/** `FUNCTION "s"."f"("pg_catalog"."int4")`: the same text from a CREATE FUNCTION and from a GRANT on it. */
function routineSignature(names: string[], argTypes: Node[]): { schema: string; on: string } {
  const { schema, name } = qualifiedNames(names)
  return { schema, on: `ROUTINE ${qualified(schema, name)}(${argTypes.map(typeText).join(', ')})` }
}

const SIGNATURE_MODES = new Set([undefined, 'FUNC_PARAM_DEFAULT', 'FUNC_PARAM_IN', 'FUNC_PARAM_INOUT', 'FUNC_PARAM_VARIADIC'])

/** What a kept CREATE makes, if it is an object with an ACL. */
function createdBy({ type, node }: Current): Created | undefined {
  switch (type) {
    case 'CreateFunctionStmt': {
      const args = (node.parameters ?? []).map((p: Node) => p.FunctionParameter).filter((p: Node) => SIGNATURE_MODES.has(p.mode)).map((p: Node) => p.argType)
      return { kind: 'f', ...routineSignature(strings(node.funcname), args) }
    }
    case 'CreateSchemaStmt':
      return { kind: 'n', schema: node.schemaname, on: `SCHEMA ${ident(node.schemaname)}` }
    case 'CreateEnumStmt':
    case 'CreateDomainStmt':
    case 'CompositeTypeStmt':
    case 'CreateRangeStmt': {
      const [ref] = targetsOf(type, node)
      return ref ? { kind: 'T', schema: ref.schema, on: `TYPE ${qualified(ref.schema, ref.name)}` } : undefined
    }
    case 'CreateSeqStmt': {
      const ref = rangeVarRef(node.sequence)
      return { kind: 'S', schema: ref.schema, on: `SEQUENCE ${qualified(ref.schema, ref.name)}` }
    }
    case 'CreateStmt':
    case 'ViewStmt':
    case 'CreateTableAsStmt':
    case 'CreateForeignTableStmt': {
      const rv = type === 'CreateStmt' ? node.relation : type === 'ViewStmt' ? node.view : type === 'CreateTableAsStmt' ? node.into?.rel : node.base?.relation
      if (!rv) return undefined
      const ref = rangeVarRef(rv)
      return { kind: 'r', schema: ref.schema, on: `TABLE ${qualified(ref.schema, ref.name)}` }
    }
    default:
      return undefined
  }
}

/** The objects a GRANT/REVOKE names, in the form `createdBy` gives them. */
function grantObjects(node: Node): Omit<Created, 'kind'>[] {
  const out: Omit<Created, 'kind'>[] = []
  for (const object of node.objects ?? []) {
    switch (node.objtype) {
      case 'OBJECT_FUNCTION':
      case 'OBJECT_PROCEDURE':
      case 'OBJECT_ROUTINE': {
        const owa = object.ObjectWithArgs
        if (owa && !owa.args_unspecified) out.push(routineSignature(strings(owa.objname), (owa.objargs ?? []).map((a: Node) => a.TypeName)))
        break
      }
      case 'OBJECT_SCHEMA':
        out.push({ schema: object.String.sval, on: `SCHEMA ${ident(object.String.sval)}` })
        break
      case 'OBJECT_TYPE':
      case 'OBJECT_DOMAIN': {
        const ref = objectRef(node.objtype, object)
        if (ref) out.push({ schema: ref.schema, on: `TYPE ${qualified(ref.schema, ref.name)}` })
        break
      }
      case 'OBJECT_TABLE':
      case 'OBJECT_SEQUENCE': {
        const ref = object.RangeVar ? rangeVarRef(object.RangeVar) : undefined
        // Tables and sequences are named TABLE/SEQUENCE by createdBy; a GRANT ON TABLE may name a sequence.
        if (ref) for (const word of ['TABLE', 'SEQUENCE']) out.push({ schema: ref.schema, on: `${word} ${qualified(ref.schema, ref.name)}` })
        break
      }
    }
  }
  return out
}

export class AclTracker {
  /** Objects this restore created, by their `on` text. */
  readonly #created = new Map<string, Created>()
  /** Objects a GRANT/REVOKE of the dump named. */
  readonly #named = new Set<string>()
  /** The dump has GRANT/REVOKE on objects: it was made with ACLs. */
  carriesAcl = false

  /**
   * Called for each statement with the sanitizer's decision: records what it creates and, before
   * the first GRANT/REVOKE on a created function, type or schema, adds the revoke of the target's
   * default grants to `planned.before` (with a note).
   */
  plan(statement: Current, planned: Planned, ctx: SanitizeContext): void {
    const { type, node } = statement
    if (type === 'GrantStmt' && node.targtype === 'ACL_TARGET_OBJECT') this.carriesAcl = true
    if (planned.action !== 'run') return
    const created = createdBy(statement)
    if (created && !this.#existedBefore(statement, created, ctx)) this.#created.set(created.on, created)
    if (type !== 'GrantStmt' || node.targtype !== 'ACL_TARGET_OBJECT') return
    const revoked: string[] = []
    for (const object of grantObjects(node)) {
      if (this.#named.has(object.on)) continue
      this.#named.add(object.on)
      const made = this.#created.get(object.on)
      // Tables and sequences: the acl-baseline rule revoked them already.
      if (!made || made.kind === 'r' || made.kind === 'S') continue
      const sql = revokeDefaults(made, ctx)
      if (sql) {
        planned.before.push(sql)
        revoked.push(made.on)
      }
    }
    if (revoked.length) planned.notes.push({ rule: 'acl-baseline', reason: `the dump's ACL starts from PostgreSQL's default: the target's default privileges revoked first (${revoked.join('; ')})` })
  }

  /** Revokes for created objects no GRANT/REVOKE named, when the dump carried ACLs (run at the end, in the restore's transaction). */
  async finish(tx: Queryable, ctx: SanitizeContext): Promise<string[]> {
    if (!this.carriesAcl) return []
    const unnamed = [...this.#created.values()].filter((c) => !this.#named.has(c.on))
    // Identity and serial sequences belong to their table; the dump may name neither.
    const tables = [...this.#created.values()].filter((c) => c.kind === 'r').map((c) => c.on.slice('TABLE '.length))
    if (tables.length) {
      const { rows } = await tx.query<{ schema: string; name: string }>(
        `SELECT sn.nspname AS schema, s.relname AS name FROM pg_catalog.pg_depend d
           JOIN pg_catalog.pg_class s ON s.oid = d.objid AND s.relkind = 'S' JOIN pg_catalog.pg_namespace sn ON sn.oid = s.relnamespace
          WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.deptype IN ('a', 'i')
            AND d.refobjid IN (SELECT to_regclass(t) FROM unnest($1::text[]) AS t)`,
        [tables],
      )
      for (const r of rows) {
        const on = `SEQUENCE ${qualified(r.schema, r.name)}`
        if (!this.#named.has(on) && !this.#created.has(on)) unnamed.push({ kind: 'S', schema: r.schema, on })
      }
    }
    return unnamed.map((c) => revokeDefaults(c, ctx)).filter((sql): sql is string => sql !== undefined)
  }

  #existedBefore({ type, node }: Current, created: Created, ctx: SanitizeContext): boolean {
    switch (created.kind) {
      case 'n':
        return ctx.facts.schemas.has(created.schema)
      case 'f':
        // Known by name only (an overload may be new), so every function the dump defines takes
        // the dump's ACL: the bootstrap's own (auth, vault …) never get here (kept-existing).
        return false
      default: {
        const [ref] = targetsOf(type, node)
        if (!ref) return true
        return created.kind === 'T' ? ctx.facts.types.has(refKey(ref)) : ctx.facts.relations.has(refKey(ref))
      }
    }
  }
}

/** `REVOKE ALL ON … FROM <the connecting role's default grantees for this kind>`, or nothing. */
function revokeDefaults(object: Created, ctx: SanitizeContext): string | undefined {
  const grantees = new Set([...(ctx.facts.defaultGrantees.get(`|${object.kind}`) ?? []), ...(object.kind === 'n' ? [] : (ctx.facts.defaultGrantees.get(`${object.schema}|${object.kind}`) ?? []))])
  grantees.delete(ctx.facts.currentUser)
  if (grantees.size === 0) return undefined
  return `REVOKE ALL ON ${object.on} FROM ${[...grantees].map(ident).join(', ')}`
}
