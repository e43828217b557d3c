/**
 * Plans: what to read or write, resolved against the schema cache. Still no SQL.
 * @module
 */
import type { AggregateFunction, Explain, Field, Filter, Preferences, MediaType } from '../parse/types.ts'
import type { Relation, Relationship, Routine } from '../schema-cache/types.ts'

export type PlannedSelect =
  | { kind: 'star' }
  | { kind: 'column'; field: Field; outputName: string; cast?: string; aggregate?: AggregateFunction; aggregateCast?: string }
  /** `count()`: the number of rows (of the group). */
  | { kind: 'count'; outputName: string; cast?: string }
  | { kind: 'embed'; child: ChildPlan }

export type PlannedCondition =
  | { kind: 'filter'; filter: Filter; columnType?: string }
  | { kind: 'embed-null'; child: ChildPlan; isNull: boolean }
  | { kind: 'logic'; op: 'and' | 'or'; negated: boolean; children: PlannedCondition[] }

export interface PlannedOrder {
  field: Field
  /** Set when ordering by a to-one embed's column. */
  child?: ChildPlan
  direction?: 'asc' | 'desc'
  nulls?: 'first' | 'last'
}

/** A relation read with its filters, order, range and embeds. */
export interface ReadPlan {
  relation: Relation
  /** The alias the relation gets in SQL (never request text in a position where it is not quoted). */
  sqlAlias: string
  select: PlannedSelect[]
  where: PlannedCondition[]
  order: PlannedOrder[]
  limit?: number
  offset?: number
  children: ChildPlan[]
  /** Computed fields of the relation, by name. */
  computedFields?: Map<string, Routine>
}

export interface ChildPlan {
  plan: ReadPlan
  relationship: Relationship
  /** The JSON key (alias or relation name). */
  outputName: string
  /** The name the embed was requested by, for matching filters. */
  requestedName: string
  join: 'inner' | 'left'
  spread: boolean
  /** `rel()`: joined for filtering only, no output key. */
  hidden: boolean
  toOne: boolean
  /** SQL alias of the lateral subquery. */
  lateralAlias: string
}

export interface ReadRequestPlan {
  kind: 'read'
  read: ReadPlan
  media: MediaType
  preferences: Preferences
  /** Maximum rows a response may carry (`DB_MAX_ROWS`), undefined = no cap. */
  maxRows?: number
  head: boolean
  /** Answer the statement's EXPLAIN instead of its rows. */
  explain?: Explain
  /** Where PostGIS's `st_asgeojson(record)` is, for `application/geo+json` (from the schema cache). */
  geoJsonSchema?: string
}
