/**
 * What a statement is about: the schema-qualified objects it creates, changes or grants on, read
 * from its parse tree. Dumps qualify every name (their search_path is empty), so an unqualified
 * name is taken as `public`.
 * @module
 */
import type { Node } from './parse.ts'
import { key } from './target.ts'

export type ObjectKind = 'schema' | 'relation' | 'function' | 'type' | 'extension' | 'other'

export interface ObjectRef {
  kind: ObjectKind
  schema: string
  /** Unqualified name; for a schema, the schema name. */
  name: string
}

export const refKey = (ref: ObjectRef) => (ref.kind === 'schema' ? ref.schema : key(ref.schema, ref.name))

const strings = (list: Node[] | undefined): string[] => (list ?? []).map((n) => n.String?.sval ?? '')

export function rangeVarRef(rv: Node): ObjectRef {
  return { kind: 'relation', schema: rv.schemaname ?? 'public', name: rv.relname }
}

function qualifiedList(list: Node[] | undefined, kind: ObjectKind): ObjectRef {
  const names = strings(list)
  if (names.length >= 2) return { kind, schema: names[names.length - 2]!, name: names[names.length - 1]! }
  return { kind, schema: 'public', name: names[0] ?? '' }
}

/** An object of a COMMENT / ALTER … OWNER / GRANT by its object type. */
export function objectRef(objtype: string, object: Node): ObjectRef | undefined {
  switch (objtype) {
    case 'OBJECT_SCHEMA':
      return { kind: 'schema', schema: object.String.sval, name: object.String.sval }
    case 'OBJECT_EXTENSION':
      return { kind: 'extension', schema: '', name: object.String.sval }
    case 'OBJECT_TABLE':
    case 'OBJECT_VIEW':
    case 'OBJECT_SEQUENCE':
    case 'OBJECT_MATVIEW':
    case 'OBJECT_FOREIGN_TABLE':
    case 'OBJECT_INDEX':
      return object.RangeVar ? rangeVarRef(object.RangeVar) : qualifiedList(object.List?.items, 'relation')
    case 'OBJECT_COLUMN': {
      const names = strings(object.List?.items)
      return names.length >= 3 ? { kind: 'relation', schema: names[0]!, name: names[1]! } : { kind: 'relation', schema: 'public', name: names[0]! }
    }
    case 'OBJECT_FUNCTION':
    case 'OBJECT_PROCEDURE':
    case 'OBJECT_ROUTINE':
    case 'OBJECT_AGGREGATE':
      return qualifiedList(object.ObjectWithArgs?.objname, 'function')
    case 'OBJECT_TYPE':
    case 'OBJECT_DOMAIN':
      return qualifiedList(object.TypeName?.names ?? object.List?.items, 'type')
    case 'OBJECT_TRIGGER':
    case 'OBJECT_POLICY':
    case 'OBJECT_TABCONSTRAINT':
    case 'OBJECT_RULE': {
      // List: [schema, table, name]
      const names = strings(object.List?.items)
      return names.length >= 3 ? { kind: 'relation', schema: names[0]!, name: names[1]! } : { kind: 'relation', schema: 'public', name: names[0] ?? '' }
    }
    default:
      return undefined
  }
}

/** The regclass literal of `SELECT pg_catalog.setval('"s"."seq"', …)`, when that is the statement. */
export function setvalTarget(node: Node): ObjectRef | undefined {
  const call = node.targetList?.[0]?.ResTarget?.val?.FuncCall
  if (!call || node.targetList.length !== 1 || node.fromClause) return undefined
  const name = strings(call.funcname).at(-1)
  if (name !== 'setval') return undefined
  const literal: string | undefined = call.args?.[0]?.A_Const?.sval?.sval ?? call.args?.[0]?.TypeCast?.arg?.A_Const?.sval?.sval
  if (!literal) return undefined
  const parts = splitQualifiedName(literal)
  return parts.length >= 2 ? { kind: 'relation', schema: parts[0]!, name: parts[1]! } : { kind: 'relation', schema: 'public', name: parts[0]! }
}

/** `"a"."b"` / `a.b` → ['a', 'b'], as regclass input reads it. */
export function splitQualifiedName(text: string): string[] {
  const parts: string[] = []
  let i = 0
  while (i < text.length) {
    if (text[i] === '"') {
      let value = ''
      i += 1
      while (i < text.length) {
        if (text[i] === '"' && text[i + 1] === '"') {
          value += '"'
          i += 2
        } else if (text[i] === '"') {
          i += 1
          break
        } else value += text[i++]
      }
      parts.push(value)
    } else {
      let j = i
      while (j < text.length && text[j] !== '.') j++
      parts.push(text.slice(i, j).toLowerCase())
      i = j
    }
    if (text[i] === '.') i += 1
  }
  return parts
}

/** The set_config(name, value, false) call of a dump preamble, if the statement is one. */
export function isSessionSetConfig(node: Node): boolean {
  const call = node.targetList?.[0]?.ResTarget?.val?.FuncCall
  return Boolean(call && node.targetList.length === 1 && strings(call.funcname).at(-1) === 'set_config' && call.args?.[2]?.A_Const?.boolval && !call.args[2].A_Const.boolval.boolval)
}

/** Every object a statement targets (created, altered, granted on, loaded into). */
export function targetsOf(type: string, node: Node): ObjectRef[] {
  switch (type) {
    case 'CreateSchemaStmt':
      return [{ kind: 'schema', schema: node.schemaname, name: node.schemaname }]
    case 'CreateStmt':
    case 'AlterTableStmt':
    case 'IndexStmt':
    case 'CreateTrigStmt':
    case 'CreatePolicyStmt':
    case 'AlterPolicyStmt':
    case 'RuleStmt':
    case 'InsertStmt':
    case 'CopyStmt':
    case 'TruncateStmt':
      return node.relation ? [rangeVarRef(node.relation)] : (node.relations ?? []).map((r: Node) => rangeVarRef(r.RangeVar))
    case 'CreateSeqStmt':
    case 'AlterSeqStmt':
      return [rangeVarRef(node.sequence)]
    case 'ViewStmt':
      return [rangeVarRef(node.view)]
    case 'CreateTableAsStmt':
      return [rangeVarRef(node.into.rel)]
    case 'CreateFunctionStmt':
      return [qualifiedList(node.funcname, 'function')]
    case 'AlterFunctionStmt':
      return [qualifiedList(node.func?.objname, 'function')]
    case 'CreateEnumStmt':
    case 'CreateRangeStmt':
      return [qualifiedList(node.typeName, 'type')]
    case 'CreateDomainStmt':
      return [qualifiedList(node.domainname, 'type')]
    case 'CompositeTypeStmt':
      return [{ ...rangeVarRef(node.typevar), kind: 'type' }]
    case 'CommentStmt':
    case 'AlterOwnerStmt':
    case 'SecLabelStmt': {
      const ref = objectRef(node.objtype ?? node.objectType, node.object)
      return ref ? [ref] : []
    }
    case 'GrantStmt':
      if (node.targtype === 'ACL_TARGET_ALL_IN_SCHEMA') return strings(node.objects).map((s) => ({ kind: 'schema' as const, schema: s, name: s }))
      return (node.objects ?? []).map((o: Node) => objectRef(node.objtype, o)).filter(Boolean)
    case 'AlterDefaultPrivilegesStmt': {
      const schemas = node.options?.find((o: Node) => o.DefElem.defname === 'schemas')
      return strings(schemas?.DefElem.arg.List.items).map((s) => ({ kind: 'schema' as const, schema: s, name: s }))
    }
    case 'SelectStmt': {
      const target = setvalTarget(node)
      return target ? [target] : []
    }
    case 'DropStmt':
      return (node.objects ?? []).map((o: Node) => dropRef(node.removeType, o)).filter(Boolean)
    default:
      return []
  }
}

function dropRef(removeType: string, object: Node): ObjectRef | undefined {
  if (removeType === 'OBJECT_SCHEMA' || removeType === 'OBJECT_EXTENSION') return objectRef(removeType, object)
  if (object.List) return qualifiedList(object.List.items, removeType === 'OBJECT_FUNCTION' ? 'function' : removeType === 'OBJECT_TYPE' ? 'type' : 'relation')
  if (object.ObjectWithArgs) return qualifiedList(object.ObjectWithArgs.objname, 'function')
  if (object.TypeName) return qualifiedList(object.TypeName.names, 'type')
  return undefined
}

/** Roles named by a statement in grantee/owner/policy positions. */
export function roleNames(specs: Node[] | undefined): string[] {
  return (specs ?? []).map((s: Node) => (s.RoleSpec ?? s)).filter((s: Node) => s.roletype === 'ROLESPEC_CSTRING').map((s: Node) => s.rolename)
}
