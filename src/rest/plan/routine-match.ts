/**
 * Which overload a POST `/rpc/<fn>` calls, the way PostgREST decides it (findProc): a function
 * matches when the argument names given cover its required parameters and stay within its
 * parameters; failing that, a function with one parameter takes the whole body when the body's
 * media type fits that parameter's type (json/jsonb for JSON, text, xml, bytea). Functions with
 * unnamed parameters are callable only with one such raw-body parameter, as in PostgREST's schema
 * cache. Errors: PGRST202 (none fits) and PGRST203 (more than one), with PostgREST's texts.
 * @module
 */
import { pgrstError } from '../errors.ts'
import { relationKey, type Routine, type SchemaCache } from '../schema-cache/types.ts'
import { closest } from './relationships.ts'

/** What the request body is, for the single-parameter fallback. */
export type BodyMedia = 'json' | 'text' | 'xml' | 'octet-stream' | 'other'

const RAW_BODY_TYPES: Record<BodyMedia, readonly string[]> = {
  json: ['json', 'jsonb'],
  text: ['text'],
  xml: ['xml'],
  'octet-stream': ['bytea'],
  other: [],
}
const RAW_TYPES = new Set(Object.values(RAW_BODY_TYPES).flat())

/** PostgREST leaves out functions with unnamed parameters, but for one raw-body parameter. */
export function isCallable(routine: Routine): boolean {
  if (routine.params.every((p) => p.name !== '')) return true
  return routine.params.length === 1 && RAW_TYPES.has(routine.params[0]!.typeName)
}

export interface MatchRequest {
  /** Argument names given (JSON object keys). */
  keys: string[]
  /** `Prefer: params=single-object`: the body is the one json/jsonb parameter. */
  singleObject: boolean
  media: BodyMedia
}

function matchesNames(routine: Routine, request: MatchRequest): boolean {
  const { params } = routine
  if (request.singleObject) return params.length === 1 && RAW_BODY_TYPES.json.includes(params[0]!.typeName)
  // A raw text/xml/bytea body cannot be the arguments of a function without parameters.
  if (params.length === 0) return request.keys.length === 0 && !['text', 'xml', 'octet-stream'].includes(request.media)
  const optional = new Set(params.filter((p) => p.hasDefault).map((p) => p.name))
  const required = params.filter((p) => !p.hasDefault).map((p) => p.name)
  const givenRequired = new Set(request.keys.filter((k) => !optional.has(k)))
  return givenRequired.size === required.length && required.every((name) => givenRequired.has(name))
}

function takesWholeBody(routine: Routine, media: BodyMedia): boolean {
  return routine.params.length === 1 && RAW_BODY_TYPES[media].includes(routine.params[0]!.typeName)
}

/** `schema.fn(a => integer, b => text)`, sorted by parameters, as PostgREST lists candidates. */
function signature(routine: Routine): string {
  return `${routine.schema}.${routine.name}(${parameterList(routine)})`
}
const parameterList = (routine: Routine) => routine.params.map((p) => `${p.name} => ${p.type}`).join(', ')

export interface Match {
  routine: Routine
  /** The body goes whole into the one parameter (json/jsonb, text, xml, bytea). */
  wholeBody: boolean
}

export function ambiguous(candidates: Routine[]): never {
  const sorted = [...candidates].sort((a, b) => (parameterList(a) < parameterList(b) ? -1 : parameterList(a) > parameterList(b) ? 1 : 0))
  throw pgrstError(
    300,
    'PGRST203',
    `Could not choose the best candidate function between: ${sorted.map(signature).join(', ')}`,
    null,
    'Try renaming the parameters or the function itself in the database so function overloading can be resolved',
  )
}

/**
 * PostgREST's schema cache keeps a function taking one row (a computed field) though it cannot be
 * called; its presence changes the PGRST202 hint from "another name" to "other parameters".
 */
const listed = (routine: Routine) => isCallable(routine) || (routine.params.length === 1 && routine.params[0]!.relation !== undefined)

/** Fuzzy matching reads letters and digits only (so an unnamed parameter list is empty). */
const comparable = (text: string) => text.toLowerCase().replace(/[^a-z0-9, ]/g, '')

function notFoundHint(cache: SchemaCache, schema: string, name: string, keys: string[]): string | null {
  const overloads = (cache.routines.get(relationKey(schema, name)) ?? []).filter(listed)
  if (overloads.length === 0) {
    const names = [...cache.routines.values()].flat().filter((r) => r.schema === schema && listed(r)).map((r) => r.name)
    const suggestion = closest(name, names, 0.55)
    return suggestion ? `Perhaps you meant to call the function ${schema}.${suggestion}` : null
  }
  // The function exists: suggest the parameter list of the overload closest to the names given.
  const given = comparable(keys.join(', '))
  if (given === '') return null
  const lists = new Map(overloads.map((r) => [comparable(r.params.map((p) => p.name).join(', ')), r.params.map((p) => p.name).join(', ')]))
  const best = closest(given, [...lists.keys()].filter((l) => l !== ''), 0.55)
  return best === undefined ? null : `Perhaps you meant to call the function ${schema}.${name}(${lists.get(best)})`
}

/** PGRST202 with PostgREST's message, details and hint. */
export function notFound(cache: SchemaCache, schema: string, name: string, keys: string[], invokedByPost: boolean, media: BodyMedia): never {
  const sorted = [...keys].sort()
  const params = sorted.length === 0 ? ' without parameters' : ` with parameter${sorted.length > 1 ? 's' : ''} ${sorted.join(', ')}`
  const searched = !invokedByPost
    ? params
    : media === 'text'
      ? ' with a single unnamed text parameter'
      : media === 'xml'
        ? ' with a single unnamed xml parameter'
        : media === 'octet-stream'
          ? ' with a single unnamed bytea parameter'
          : media === 'json'
            ? `${params} or with a single unnamed json/jsonb parameter`
            : params
  const described = sorted.length === 0 ? ' without parameters' : `(${sorted.join(', ')})`
  throw pgrstError(
    404,
    'PGRST202',
    `Could not find the function ${schema}.${name}${described} in the schema cache`,
    `Searched for the function ${schema}.${name}${searched}, but no matches were found in the schema cache.`,
    notFoundHint(cache, schema, name, sorted),
  )
}

/** The overload a POST call with `request` runs (PGRST202/PGRST203 when none or several fit). */
export function matchRoutine(cache: SchemaCache, schema: string, name: string, overloads: Routine[], request: MatchRequest): Match {
  const callable = overloads.filter(isCallable)
  const byNames = callable.filter((r) => matchesNames(r, request))
  if (byNames.length === 1) return { routine: byNames[0]!, wholeBody: request.singleObject }
  if (byNames.length > 1) ambiguous(byNames)
  const byBody = callable.filter((r) => takesWholeBody(r, request.media))
  if (byBody.length === 1) return { routine: byBody[0]!, wholeBody: true }
  if (byBody.length > 1) ambiguous(byBody)
  return notFound(cache, schema, name, request.keys, true, request.media)
}
