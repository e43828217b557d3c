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
import { ambiguous, isCallable, matchRoutine, notFound, type BodyMedia } from './routine-match.ts'
import type { ReadPlan } from './types.ts'

export type CallResult = 'void' | 'scalar' | 'setof-scalar' | 'rows' | 'row'

export interface CallPlan {
  routine: Routine
  /** Named arguments passed (JSON object), with the parameter types to read them as. */
  args: Record<string, unknown>
  /** `variadic`: the parameter is `VARIADIC` (an array, passed with the keyword). */
  argTypes: Array<{ name: string; type: string; variadic?: boolean }>
  /** The whole body as the one parameter (json/jsonb, text, xml, bytea): its text and type. */
  wholeBody?: { text: string; type: string }
  result: CallResult
  /** For `rows`/`row`: select, filters, order and range over the function's output. */
  read?: ReadPlan
  readOnly: boolean
  request: ApiRequest
  /** Where PostGIS's `st_asgeojson(record)` is, for `application/geo+json` (from the schema cache). */
  geoJsonSchema?: string
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

export function planCall(request: ApiRequest<TargetOf<'routine'>>, cache: SchemaCache, body: unknown, options: PlanOptions = {}, bodyMedia: BodyMedia = 'json'): CallPlan {
  const viaQuery = request.method === 'GET' || request.method === 'HEAD'
  if (!viaQuery && request.method !== 'POST') throw pgrstError(405, 'PGRST101', `Cannot use the ${request.method} method on RPC`)
  const given = givenArguments(request, body, viaQuery)
  const { routine, wholeBody } = chooseOverload(request, cache, given, body, viaQuery, bodyMedia)
  const { args, argTypes, filterParams } = bindArguments(routine, given, Boolean(wholeBody), viaQuery, request.rpcArgs)
  const result = resultKind(routine)
  const read = result === 'rows' || result === 'row' ? planOutputRead(cache, routine, request, filterParams, options) : undefined
  if (!given.isObject && !wholeBody) throw invalidBody('Expected a JSON object with the function arguments')
  return {
    routine,
    args,
    argTypes,
    wholeBody,
    result,
    read,
    readOnly: viaQuery || routine.volatility !== 'volatile',
    request,
    geoJsonSchema: cache.geoJsonSchema,
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
    // Raw text/xml/binary bodies carry no named arguments.
    values = body === undefined || typeof body === 'string' || body instanceof Uint8Array ? {} : (body as Record<string, unknown>)
  }
  const isObject = typeof values === 'object' && values !== null && !Array.isArray(values)
  return { values, isObject, keys: isObject ? Object.keys(values) : [] }
}

/** The body as the text of the one parameter: JSON re-serialized, raw bodies as they came. */
function wholeBodyText(body: unknown, media: BodyMedia): string {
  if (media === 'json') return JSON.stringify(body ?? {})
  // Binary bodies travel as hex, decoded in SQL (both drivers read text parameters the same way).
  if (body instanceof Uint8Array) return Buffer.from(body).toString('hex')
  return typeof body === 'string' ? body : ''
}

/**
 * PostgREST's overload choice: a POST is matched by routine-match.ts (findProc); GET/HEAD mix
 * arguments and filters in the query string, so a function fits when every required parameter
 * is given, and among several the one that uses the most of the given names wins.
 */
function chooseOverload(request: ApiRequest<TargetOf<'routine'>>, cache: SchemaCache, given: GivenArguments, body: unknown, viaQuery: boolean, bodyMedia: BodyMedia): { routine: Routine; wholeBody: CallPlan['wholeBody'] } {
  const { schema } = request
  const { name } = request.target
  const overloads = cache.routines.get(relationKey(schema, name)) ?? []
  const { keys } = given
  if (!viaQuery) {
    const match = matchRoutine(cache, schema, name, overloads, { keys, singleObject: request.preferences.params === 'single-object', media: bodyMedia })
    return { routine: match.routine, wholeBody: match.wholeBody ? { text: wholeBodyText(body, bodyMedia), type: match.routine.params[0]!.type } : undefined }
  }
  const callable = overloads.filter((r) => isCallable(r) && r.params.every((p) => p.name !== ''))
  let candidates = callable.filter((r) => r.params.every((p) => p.hasDefault || keys.includes(p.name)))
  if (candidates.length > 1) {
    const used = (r: Routine) => keys.filter((k) => r.params.some((p) => p.name === k)).length
    const best = Math.max(...candidates.map(used))
    candidates = candidates.filter((r) => used(r) === best)
  }
  if (candidates.length === 0) notFound(cache, schema, name, keys, false, 'other')
  if (candidates.length > 1) ambiguous(candidates)
  return { routine: candidates[0]!, wholeBody: undefined }
}

/** The arguments the routine takes, with their types; on GET/HEAD the rest are filters. */
function bindArguments(routine: Routine, given: GivenArguments, wholeBody: boolean, viaQuery: boolean, rpcArgs: Array<[string, string]>) {
  const args: Record<string, unknown> = {}
  const argTypes: CallPlan['argTypes'] = []
  // POST: the query string holds only filters; GET/HEAD: what is not an argument is a filter.
  const filterParams: Array<[string, string]> = viaQuery ? [] : [...rpcArgs]
  if (!wholeBody) {
    for (const key of given.keys) {
      const param = routine.params.find((p) => p.name === key)
      if (param?.mode === 'v') {
        args[key] = variadicValue(given.values[key], key, viaQuery, rpcArgs)
        argTypes.push({ name: key, type: param.type, variadic: true })
      } else if (param) {
        args[key] = given.values[key]
        argTypes.push({ name: key, type: param.type })
      } else if (viaQuery) filterParams.push([key, String(given.values[key])])
    }
  }
  return { args, argTypes, filterParams }
}

/**
 * A `VARIADIC` parameter takes an array: on GET/HEAD every repetition of its name (`?v=1&v=2`)
 * or one array literal, in a JSON body an array, or one value standing for an array of one.
 */
function variadicValue(value: unknown, key: string, viaQuery: boolean, rpcArgs: Array<[string, string]>): unknown {
  if (!viaQuery) return Array.isArray(value) ? value : [value]
  const values = rpcArgs.filter(([name]) => name === key).map(([, v]) => v)
  // One array literal (`?v={1,2}`, what postgrest-js sends for an array on GET) is the array itself.
  return values.length === 1 && /^\{.*\}$/s.test(values[0]!) ? values[0] : values
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
