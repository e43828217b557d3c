/**
 * `/rpc/<fn>` → CallPlan: picks the overload by argument names (PostgREST's rule), falls back to
 * a single unnamed json/jsonb parameter, and plans the result as a read when it has rows.
 * @module
 */
import { invalidBody, pgrstError } from '../errors.ts'
import { parseFilter, parseFilterKey } from '../parse/filter.ts'
import type { ApiRequest, TargetOf } from '../parse/types.ts'
import { relationKey, type Column, type Relation, type Routine, type SchemaCache } from '../schema-cache/types.ts'
import { AliasCounter, buildReadPlan, type PlanOptions } from './read-plan.ts'
import { closest } from './relationships.ts'
import type { ReadPlan } from './types.ts'

export type CallResult = 'void' | 'scalar' | 'setof-scalar' | 'rows' | 'row'

export interface CallPlan {
  routine: Routine
  /** Named arguments passed (JSON object), with the parameter types to read them as. */
  args: Record<string, unknown>
  argTypes: Array<{ name: string; type: string }>
  /** The whole body as the single unnamed json/jsonb parameter. */
  singleJson?: { value: unknown; type: string }
  result: CallResult
  /** For `rows`/`row`: select, filters, order and range over the function's output. */
  read?: ReadPlan
  readOnly: boolean
  request: ApiRequest
}

const JSON_TYPES = new Set(['json', 'jsonb'])

function signature(r: Routine): string {
  return `${r.schema}.${r.name}(${r.params.map((p) => (p.name ? `${p.name} => ${p.typeName}` : p.typeName)).join(', ')})`
}

/** A relation-like view of a function's output columns, for planning reads over it. */
function outputRelation(cache: SchemaCache, routine: Routine): Relation | undefined {
  if (routine.returnsRelation) {
    const exposed = cache.relations.get(relationKey(routine.returnsRelation.schema, routine.returnsRelation.name))
    if (exposed) return exposed
  }
  if (routine.outColumns.length === 0) return undefined
  const columns: Column[] = routine.outColumns.map((p) => ({
    name: p.name, type: p.type, typeName: p.typeName, nullable: true, default: null, generated: false, identity: false, description: null, enumValues: null, maxLength: null,
  }))
  return {
    schema: routine.schema, name: routine.name, kind: 'view', description: null, columns,
    columnsByName: new Map(columns.map((c) => [c.name, c])), primaryKey: [], uniqueKeys: [], insertable: false, updatable: false, deletable: false,
  }
}

export function planCall(request: ApiRequest<TargetOf<'routine'>>, cache: SchemaCache, body: unknown, options: PlanOptions = {}): CallPlan {
  const viaQuery = request.method === 'GET' || request.method === 'HEAD'
  if (!viaQuery && request.method !== 'POST') throw pgrstError(405, 'PGRST101', `Cannot use the ${request.method} method on RPC`)
  const given = givenArguments(request, body, viaQuery)
  const { routine, singleJson } = chooseOverload(request, cache, given, body, viaQuery)
  const { args, argTypes, filterParams } = bindArguments(routine, given, Boolean(singleJson), viaQuery, request.rpcArgs)
  const result = resultKind(routine)
  const read = result === 'rows' || result === 'row' ? planOutputRead(cache, routine, request, filterParams, options) : undefined
  if (!given.isObject && !singleJson) throw invalidBody('Expected a JSON object with the function arguments')
  return {
    routine,
    args,
    argTypes,
    singleJson,
    result,
    read,
    readOnly: viaQuery || routine.volatility !== 'volatile',
    request,
  }
}

interface GivenArguments {
  values: Record<string, unknown>
  /** Whether the arguments are a JSON object (a POST body may be anything). */
  isObject: boolean
  keys: string[]
}

/** GET/HEAD: the query string's non-reserved parameters; POST: the body. */
function givenArguments(request: ApiRequest, body: unknown, viaQuery: boolean): GivenArguments {
  let values: Record<string, unknown>
  if (viaQuery) {
    values = {}
    for (const [key, value] of request.rpcArgs) values[key] = value
  } else {
    values = body === undefined ? {} : (body as Record<string, unknown>)
  }
  const isObject = typeof values === 'object' && values !== null && !Array.isArray(values)
  return { values, isObject, keys: isObject ? Object.keys(values) : [] }
}

/**
 * PostgREST's overload choice: the function whose parameter names the arguments fit (with
 * query-string arguments, the one that uses most of them), else the single unnamed json/jsonb
 * parameter for a POST body. None is 404 PGRST202, more than one 300 PGRST203.
 */
function chooseOverload(request: ApiRequest<TargetOf<'routine'>>, cache: SchemaCache, given: GivenArguments, body: unknown, viaQuery: boolean): { routine: Routine; singleJson: CallPlan['singleJson'] } {
  const { schema } = request
  const { name } = request.target
  const overloads = cache.routines.get(relationKey(schema, name)) ?? []
  const { keys } = given
  const fits = (r: Routine) => {
    const names = new Set(r.params.map((p) => p.name))
    if (r.params.some((p) => p.name === '')) return false
    const passed = viaQuery ? keys.filter((k) => names.has(k)) : keys
    if (!viaQuery && !passed.every((k) => names.has(k))) return false
    return r.params.every((p) => p.hasDefault || passed.includes(p.name))
  }
  let candidates = given.isObject ? overloads.filter(fits) : []
  if (viaQuery && candidates.length > 1) {
    // With query-string arguments, the overload that uses the most of them wins.
    const used = (r: Routine) => keys.filter((k) => r.params.some((p) => p.name === k)).length
    const best = Math.max(...candidates.map(used))
    candidates = candidates.filter((r) => used(r) === best)
  }
  let singleJson: CallPlan['singleJson']
  if (candidates.length === 0 && !viaQuery) {
    const unnamed = overloads.filter((r) => r.params.length === 1 && r.params[0]!.name === '' && JSON_TYPES.has(r.params[0]!.typeName))
    if (unnamed.length === 1) {
      candidates = unnamed
      singleJson = { value: body ?? {}, type: unnamed[0]!.params[0]!.type }
    }
  }
  if (candidates.length === 0) throw functionNotFound(cache, schema, name, [...keys].sort())
  if (candidates.length > 1) {
    throw pgrstError(
      300,
      'PGRST203',
      `Could not choose the best candidate function between: ${candidates.map(signature).join(', ')}`,
      null,
      'Try renaming the parameters or the function itself in the database so function overloading can be resolved',
    )
  }
  return { routine: candidates[0]!, singleJson }
}

function functionNotFound(cache: SchemaCache, schema: string, name: string, argNames: string[]) {
  const described = argNames.length ? `(${argNames.join(', ')})` : ' without parameters'
  const searched = argNames.length ? `with parameters ${argNames.join(', ')}` : 'without parameters'
  const all = [...cache.routines.values()].flat().filter((r) => r.schema === schema).map((r) => r.name)
  const suggestion = closest(name, all, 0.55)
  return pgrstError(
    404,
    'PGRST202',
    `Could not find the function ${schema}.${name}${described} in the schema cache`,
    `Searched for the function ${schema}.${name} ${searched} or with a single unnamed json/jsonb parameter, but no matches were found in the schema cache.`,
    suggestion ? `Perhaps you meant to call the function ${schema}.${suggestion}` : null,
  )
}

/** The arguments the routine takes, with their types; on GET/HEAD the rest are filters. */
function bindArguments(routine: Routine, given: GivenArguments, singleJson: boolean, viaQuery: boolean, rpcArgs: Array<[string, string]>) {
  const paramNames = new Set(routine.params.map((p) => p.name))
  const args: Record<string, unknown> = {}
  const argTypes: CallPlan['argTypes'] = []
  // POST: the query string holds only filters; GET/HEAD: what is not an argument is a filter.
  const filterParams: Array<[string, string]> = viaQuery ? [] : [...rpcArgs]
  if (!singleJson) {
    for (const key of given.keys) {
      if (paramNames.has(key)) {
        args[key] = given.values[key]
        argTypes.push({ name: key, type: routine.params.find((p) => p.name === key)!.type })
      } else if (viaQuery) filterParams.push([key, String(given.values[key])])
    }
  }
  return { args, argTypes, filterParams }
}

function resultKind(routine: Routine): CallResult {
  if (routine.returnsVoid) return 'void'
  if (routine.returnsComposite || routine.returnsRelation) return routine.returnsSet ? 'rows' : 'row'
  return routine.returnsSet ? 'setof-scalar' : 'scalar'
}

/** select, filters, order and range over the rows a function returns (undefined without known columns). */
function planOutputRead(cache: SchemaCache, routine: Routine, request: ApiRequest, filterParams: Array<[string, string]>, options: PlanOptions): ReadPlan | undefined {
  const relation = outputRelation(cache, routine)
  if (!relation) return undefined
  const filters = [...request.filters]
  for (const [key, value] of filterParams) {
    const { path, field } = parseFilterKey(key)
    filters.push({ path, condition: parseFilter(field, value) })
  }
  const read = buildReadPlan(cache, relation, { ...request, filters }, new AliasCounter(), options, routine.name)
  if (options.maxRows !== undefined) read.limit = Math.min(read.limit ?? options.maxRows, options.maxRows)
  return read
}
