/**
 * `ApiRequest`: the HTTP request translated into PostgREST's terms. It guarantees the syntax is
 * valid, not that the intent is sensible (unknown relations and columns are found later, by the
 * planner and by PostgreSQL).
 * @module
 */

export interface JsonStep {
  arrow: '->' | '->>'
  /** An object key, or an array index when `index` is set. */
  key: string
  index: boolean
}

/** A column, possibly followed by a JSON path (`data->a->>b`). */
export interface Field {
  name: string
  jsonPath: JsonStep[]
  /** Set by the planner when `name` is a computed field: the function to call on the row. */
  computed?: { schema: string; name: string }
}

export type AggregateFunction = 'count' | 'sum' | 'avg' | 'max' | 'min'

export type SelectItem =
  | { kind: 'star' }
  | { kind: 'column'; field: Field; alias?: string; cast?: string; aggregate?: AggregateFunction; aggregateCast?: string }
  /** `count()` with no column. */
  | { kind: 'count'; alias?: string; cast?: string }
  | {
      kind: 'embed'
      name: string
      alias?: string
      hint?: string
      join?: 'inner' | 'left'
      spread: boolean
      select: SelectItem[]
    }

export const OPERATORS = [
  'eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'like', 'ilike', 'match', 'imatch', 'in', 'is', 'isdistinct',
  'cs', 'cd', 'ov', 'sl', 'sr', 'nxr', 'nxl', 'adj', 'fts', 'plfts', 'phfts', 'wfts',
] as const
export type Operator = (typeof OPERATORS)[number]

/** Operators that take `(any)` / `(all)`. */
export const QUANTIFIABLE: ReadonlySet<Operator> = new Set(['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'like', 'ilike', 'match', 'imatch'])
export const FTS_OPERATORS: ReadonlySet<Operator> = new Set(['fts', 'plfts', 'phfts', 'wfts'])
export const IS_VALUES = ['null', 'not_null', 'true', 'false', 'unknown'] as const
export type IsValue = (typeof IS_VALUES)[number]

export interface Filter {
  kind: 'filter'
  field: Field
  negated: boolean
  op: Operator
  quantifier?: 'any' | 'all'
  /** Text search configuration: `fts(english)`. */
  language?: string
  /** The raw value; for `in` the parsed list. */
  value: string
  list?: string[]
}

export interface LogicTree {
  kind: 'logic'
  op: 'and' | 'or'
  negated: boolean
  children: Condition[]
}

export type Condition = Filter | LogicTree

export interface OrderTerm {
  field: Field
  /** `order=author(name)`: a to-one embed's column. */
  relation?: string
  direction?: 'asc' | 'desc'
  nulls?: 'first' | 'last'
}

/** Where a parameter applies: [] = the top relation, ['author'] = the `author` embed, … */
export type EmbedPath = string[]

export interface Preferences {
  return?: 'minimal' | 'representation' | 'headers-only'
  count?: 'exact' | 'planned' | 'estimated'
  resolution?: 'merge-duplicates' | 'ignore-duplicates'
  missing?: 'default' | 'null'
  handling?: 'lenient' | 'strict'
  maxAffected?: number
  tx?: 'commit' | 'rollback'
  /** `params=single-object`: an RPC body is the one json/jsonb argument. */
  params?: 'single-object'
  timezone?: string
  /** Preferences we did not understand (reported under handling=strict). */
  invalid: string[]
}

export type MediaType =
  | { kind: 'json' }
  | { kind: 'object'; stripNulls: boolean }
  | { kind: 'array'; stripNulls: boolean }
  | { kind: 'csv' }
  /** `application/geo+json`: a FeatureCollection of the rows, with PostGIS's `ST_AsGeoJSON`. */
  | { kind: 'geojson' }
  | { kind: 'openapi' }

/** `application/vnd.pgrst.plan+json|+text; for="…"; options=analyze|verbose|settings|buffers|wal`. */
export interface Explain {
  format: 'json' | 'text'
  options: Array<'analyze' | 'verbose' | 'settings' | 'buffers' | 'wal'>
}

export type Target =
  | { kind: 'relation'; name: string }
  | { kind: 'routine'; name: string }
  | { kind: 'root' }

export type TargetOf<K extends Target['kind']> = Extract<Target, { kind: K }>

/** A request, typed by what it targets: planners take only the kind they plan (`ApiRequest<TargetOf<'relation'>>`). */
export interface ApiRequest<T extends Target = Target> {
  method: 'GET' | 'HEAD' | 'POST' | 'PATCH' | 'DELETE' | 'PUT' | 'OPTIONS'
  target: T
  schema: string
  /** Whether `select=` was given (mutations return nothing selectable without it). */
  selectGiven: boolean
  select: SelectItem[]
  filters: Array<{ path: EmbedPath; condition: Condition }>
  order: Array<{ path: EmbedPath; terms: OrderTerm[] }>
  ranges: Array<{ path: EmbedPath; limit?: number; offset?: number }>
  preferences: Preferences
  /** What the response is (for an explain: what the explained statement would have answered). */
  media: MediaType
  /** `Accept: application/vnd.pgrst.plan…`: answer the statement's EXPLAIN instead. */
  explain?: Explain
  /** `columns=` of a POST. */
  columns?: string[]
  /** `on_conflict=` of an upsert. */
  onConflict?: string[]
  /** RPC GET/HEAD: parameters that are not filters or reserved names. */
  rpcArgs: Array<[string, string]>
}

/** Narrows a request by its target (a check of `request.target.kind` alone narrows only the target). */
export function targets<K extends Target['kind']>(request: ApiRequest, kind: K): request is ApiRequest<TargetOf<K>> {
  return request.target.kind === kind
}
