/**
 * What the REST layer knows about the database: relations, columns, keys, relationships and
 * functions of the exposed schemas. Loaded once (and on reload), then read by the pure planner.
 * @module
 */

export interface Column {
  name: string
  /** `format_type` text, e.g. `bigint`, `character varying(20)`, `public.user_status`. */
  type: string
  /** The type's own name (`int8`, `tsvector`, `user_status`); for domains, the base type's name. */
  typeName: string
  nullable: boolean
  default: string | null
  generated: boolean
  identity: boolean
  description: string | null
  /** Labels of an enum type, in order. */
  enumValues: string[] | null
  maxLength: number | null
}

export type RelationKind = 'table' | 'view' | 'materialized_view' | 'foreign_table' | 'partitioned_table'

export interface Relation {
  schema: string
  name: string
  kind: RelationKind
  description: string | null
  columns: Column[]
  columnsByName: Map<string, Column>
  primaryKey: string[]
  /** Unique constraints (primary key excluded), each a column list. */
  uniqueKeys: string[][]
  insertable: boolean
  updatable: boolean
  deletable: boolean
}

export interface ForeignKey {
  constraint: string
  schema: string
  table: string
  columns: string[]
  refSchema: string
  refTable: string
  refColumns: string[]
}

export type Cardinality = 'many-to-one' | 'one-to-many' | 'one-to-one' | 'many-to-many'

export interface QualifiedName {
  schema: string
  name: string
}

/** A direction-specific edge from `source` to `target`, as the planner embeds it. */
export interface Relationship {
  cardinality: Cardinality
  source: QualifiedName
  target: QualifiedName
  /** FK constraint name (for m2m: the FK from the junction to the source). */
  constraint: string
  /** Join columns: source.sourceColumns[i] = target.targetColumns[i] (m2o/o2m/o2o). */
  sourceColumns: string[]
  targetColumns: string[]
  /**
   * A computed relationship: `fn(source_row) RETURNS [SETOF] target`, embedded by the function's
   * name and joined by calling it on the row (to-many for SETOF, unless `ROWS 1`).
   */
  computed?: QualifiedName
  /** Only for many-to-many. */
  junction?: {
    relation: QualifiedName
    /** FK junction → source: junction.sourceJoin[i] = source.sourceColumns[i]. */
    sourceConstraint: string
    sourceJoin: string[]
    /** FK junction → target: junction.targetJoin[i] = target.targetColumns[i]. */
    targetConstraint: string
    targetJoin: string[]
  }
}

export interface RoutineParam {
  name: string
  type: string
  typeName: string
  /** `i` in, `o` out, `b` inout, `v` variadic, `t` table column. */
  mode: 'i' | 'o' | 'b' | 'v' | 't'
  hasDefault: boolean
  /** The relation whose row type this parameter is (computed fields take one). */
  relation?: QualifiedName
}

export interface Routine {
  schema: string
  name: string
  /** Input parameters in call order. */
  params: RoutineParam[]
  /** Output columns for `RETURNS TABLE`/OUT parameters. */
  outColumns: RoutineParam[]
  returnType: string
  returnTypeName: string
  returnsSet: boolean
  /** The relation a composite return type belongs to (`RETURNS SETOF messages`). */
  returnsRelation: QualifiedName | null
  /** `RETURNS record`, `TABLE(...)` or a composite: rows with columns. */
  returnsComposite: boolean
  returnsVoid: boolean
  volatility: 'immutable' | 'stable' | 'volatile'
  description: string | null
  /** Estimated rows (`ROWS n`), used for computed relationships. */
  rows: number
}

export interface SchemaCache {
  readonly schemas: string[]
  readonly relations: Map<string, Relation>
  /** Computed fields per relation: `fn(relation_row) returns scalar`, usable as a column. */
  readonly computedFields?: Map<string, Map<string, Routine>>
  readonly relationships: Map<string, Relationship[]>
  readonly routines: Map<string, Routine[]>
  /** `pgrst.*` settings found in the database, without the prefix (`db_max_rows` → `'50'`). */
  readonly settings?: Readonly<Record<string, string>>
  readonly loadedAt: Date
  /** The schema holding PostGIS's `st_asgeojson(record)` (for `application/geo+json`); undefined without PostGIS. */
  readonly geoJsonSchema?: string
}

export const relationKey = (schema: string, name: string) => `${schema}\u0000${name}`
