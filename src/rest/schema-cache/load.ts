/**
 * Loads the schema cache in a handful of catalog queries.
 * @module
 */
import type { Queryable } from '../../db/types.ts'
import { ATTRIBUTES_BY_OID_SQL, COLUMNS_SQL, CONSTRAINTS_SQL, DB_SETTINGS_SQL, GEOJSON_FUNCTION_SQL, RELATIONS_SQL, ROUTINES_SQL, VIEW_RULES_SQL } from './queries.ts'
import { buildRelationships, type ViewProjection } from './relationships.ts'
import { relationKey, type Column, type ForeignKey, type Relation, type RelationKind, type Relationship, type Routine, type RoutineParam, type SchemaCache } from './types.ts'
import { viewColumnSources } from './view-columns.ts'

const KINDS: Record<string, RelationKind> = { r: 'table', v: 'view', m: 'materialized_view', f: 'foreign_table', p: 'partitioned_table' }
const VOLATILITY = { i: 'immutable', s: 'stable', v: 'volatile' } as const

interface RelationRow {
  schema: string
  name: string
  kind: string
  description: string | null
  updatable_mask: number
}

interface TableKeys {
  primaryKey: string[]
  uniqueKeys: string[][]
}

interface ConstraintRow {
  name: string
  type: 'p' | 'u' | 'f'
  schema: string
  table: string
  columns: string[]
  ref_schema: string | null
  ref_table: string | null
  ref_columns: string[]
}

/** Arrays come back parsed from pg, and as `{a,b}` text from some PGlite paths. */
function asArray(value: unknown): string[] {
  if (Array.isArray(value)) return value as string[]
  if (typeof value === 'string' && value.startsWith('{')) {
    const inner = value.slice(1, -1)
    return inner === '' ? [] : inner.split(',').map((s) => s.replace(/^"(.*)"$/, '$1'))
  }
  return []
}

/** Where PostGIS put `st_asgeojson(record, …)`, if it is installed (PostgREST offers geo+json only then). */
async function geoJsonSchema(q: Queryable): Promise<string | undefined> {
  const { rows } = await q.query<{ schema: string }>(GEOJSON_FUNCTION_SQL)
  return rows[0]?.schema
}

/** The in-database `pgrst.*` settings, without the prefix. */
export async function loadDatabaseSettings(q: Queryable): Promise<Record<string, string>> {
  const rows = (await q.query<{ key: string; value: string }>(DB_SETTINGS_SQL)).rows
  return Object.fromEntries(rows.map((row) => [row.key, row.value]))
}

export async function loadSchemaCache(q: Queryable, schemas: string[]): Promise<SchemaCache> {
  const [relationRows, columnRows, constraintRows, ruleRows, routineRows] = [
    (await q.query<RelationRow>(RELATIONS_SQL, [schemas])).rows,
    (await q.query<Record<string, unknown>>(COLUMNS_SQL, [schemas])).rows,
    (await q.query<ConstraintRow>(CONSTRAINTS_SQL)).rows,
    (await q.query<{ schema: string; name: string; action: string }>(VIEW_RULES_SQL)).rows,
    (await q.query<Record<string, unknown>>(ROUTINES_SQL, [schemas])).rows,
  ]

  const relations = buildRelations(relationRows)
  addColumns(relations, columnRows)
  const { baseKeys, foreignKeys } = applyConstraints(relations, constraintRows)
  const projections = await viewProjections(q, ruleRows)
  inheritViewKeys(relations, baseKeys, projections)

  const routines = buildRoutines(routineRows)
  const relationships = buildRelationships(relations, foreignKeys, baseKeys, projections)
  for (const relationship of computedRelationships(routines, relations)) {
    const key = relationKey(relationship.source.schema, relationship.source.name)
    relationships.set(key, [...(relationships.get(key) ?? []), relationship])
  }
  return {
    settings: await loadDatabaseSettings(q),
    schemas,
    relations,
    relationships,
    routines,
    computedFields: computedFields(routines),
    loadedAt: new Date(),
    geoJsonSchema: await geoJsonSchema(q),
  }
}

function buildRelations(rows: RelationRow[]): Map<string, Relation> {
  const relations = new Map<string, Relation>()
  for (const row of rows) {
    const mask = Number(row.updatable_mask)
    const kind = KINDS[row.kind] ?? 'table'
    const isTable = kind === 'table' || kind === 'partitioned_table'
    relations.set(relationKey(row.schema, row.name), {
      schema: row.schema,
      name: row.name,
      kind,
      description: row.description,
      columns: [],
      columnsByName: new Map(),
      primaryKey: [],
      uniqueKeys: [],
      // pg_relation_is_updatable bits: 8 insert, 4 update, 16 delete.
      insertable: isTable || (mask & 8) === 8,
      updatable: isTable || (mask & 4) === 4,
      deletable: isTable || (mask & 16) === 16,
    })
  }
  return relations
}

function addColumns(relations: Map<string, Relation>, rows: Array<Record<string, unknown>>): void {
  for (const row of rows) {
    const relation = relations.get(relationKey(row.schema as string, row.table as string))
    if (!relation) continue
    const column: Column = {
      name: row.name as string,
      type: row.type as string,
      typeName: row.type_name as string,
      nullable: Boolean(row.nullable),
      default: (row.default as string | null) ?? null,
      generated: Boolean(row.generated),
      identity: Boolean(row.identity),
      description: (row.description as string | null) ?? null,
      enumValues: row.enum_values == null ? null : asArray(row.enum_values),
      maxLength: row.max_length == null ? null : Number(row.max_length),
    }
    relation.columns.push(column)
    relation.columnsByName.set(column.name, column)
  }
}

/** Keys of every table (exposed or not), set on the exposed ones, and the foreign keys between them. */
function applyConstraints(relations: Map<string, Relation>, rows: ConstraintRow[]): { baseKeys: Map<string, TableKeys>; foreignKeys: ForeignKey[] } {
  const baseKeys = new Map<string, TableKeys>()
  const foreignKeys: ForeignKey[] = []
  for (const row of rows) {
    const key = relationKey(row.schema, row.table)
    const columns = asArray(row.columns)
    if (row.type === 'f') {
      foreignKeys.push({ constraint: row.name, schema: row.schema, table: row.table, columns, refSchema: row.ref_schema!, refTable: row.ref_table!, refColumns: asArray(row.ref_columns) })
      continue
    }
    const keys = baseKeys.get(key) ?? { primaryKey: [], uniqueKeys: [] }
    if (row.type === 'p') keys.primaryKey = columns
    else keys.uniqueKeys.push(columns)
    baseKeys.set(key, keys)
    const relation = relations.get(key)
    if (relation) {
      if (row.type === 'p') relation.primaryKey = columns
      else relation.uniqueKeys.push(columns)
    }
  }
  return { baseKeys, foreignKeys }
}

/** A view over a table with a primary key exposes that key when it keeps all its columns. */
function inheritViewKeys(relations: Map<string, Relation>, baseKeys: Map<string, TableKeys>, projections: Map<string, ViewProjection[]>): void {
  for (const [baseKey, list] of projections) {
    const keys = baseKeys.get(baseKey)
    if (!keys?.primaryKey.length) continue
    for (const p of list) {
      const view = relations.get(relationKey(p.view.schema, p.view.name))
      if (view && !view.primaryKey.length && keys.primaryKey.every((c) => p.columns.has(c))) view.primaryKey = keys.primaryKey.map((c) => p.columns.get(c)!)
    }
  }
}

/**
 * PostgREST's computed relationships: a function of one row of an exposed table or view that
 * returns rows of (or one row of) an exposed table or view. `SETOF … ROWS 1` embeds as one row.
 */
function computedRelationships(routines: Map<string, Routine[]>, relations: Map<string, Relation>): Relationship[] {
  const out: Relationship[] = []
  for (const list of routines.values()) {
    for (const r of list) {
      const param = r.params[0]
      if (r.params.length !== 1 || !param?.relation || !r.returnsRelation) continue
      if (!relations.has(relationKey(param.relation.schema, param.relation.name)) || !relations.has(relationKey(r.returnsRelation.schema, r.returnsRelation.name))) continue
      out.push({
        cardinality: r.returnsSet && r.rows !== 1 ? 'one-to-many' : 'many-to-one',
        source: param.relation,
        target: r.returnsRelation,
        constraint: r.name,
        sourceColumns: [],
        targetColumns: [],
        computed: { schema: r.schema, name: r.name },
      })
    }
  }
  return out
}

/** `fn(tbl) returns <scalar>`: a virtual column of `tbl` (PostgREST's computed fields). */
function computedFields(routines: Map<string, Routine[]>): Map<string, Map<string, Routine>> {
  const out = new Map<string, Map<string, Routine>>()
  for (const list of routines.values()) {
    for (const r of list) {
      const param = r.params[0]
      if (r.params.length !== 1 || !param?.relation || r.returnsSet || r.returnsVoid || r.returnsComposite) continue
      const key = relationKey(param.relation.schema, param.relation.name)
      const fields = out.get(key) ?? new Map<string, Routine>()
      fields.set(r.name, r)
      out.set(key, fields)
    }
  }
  return out
}

/** For each base table, the views (and views of views) that expose its columns unchanged. */
async function viewProjections(q: Queryable, ruleRows: Array<{ schema: string; name: string; action: string }>): Promise<Map<string, ViewProjection[]>> {
  const parsed = ruleRows.map((r) => ({ view: { schema: r.schema, name: r.name }, sources: viewColumnSources(r.action) }))
  const oids = [...new Set(parsed.flatMap((p) => p.sources.map((s) => String(s.sourceOid))))]
  if (oids.length === 0) return new Map()
  const attrs = (await q.query<{ oid: string; schema: string; name: string; attnum: number; column: string }>(ATTRIBUTES_BY_OID_SQL, [oids])).rows
  const byOid = new Map<string, { schema: string; name: string; columns: Map<number, string> }>()
  for (const a of attrs) {
    const entry = byOid.get(a.oid) ?? { schema: a.schema, name: a.name, columns: new Map() }
    entry.columns.set(Number(a.attnum), a.column)
    byOid.set(a.oid, entry)
  }
  // Direct edges: view column ← (relation, column).
  const direct = new Map<string, Array<{ viewColumn: string; schema: string; name: string; column: string }>>()
  for (const p of parsed) {
    const list: Array<{ viewColumn: string; schema: string; name: string; column: string }> = []
    for (const s of p.sources) {
      const rel = byOid.get(String(s.sourceOid))
      const column = rel?.columns.get(s.sourceAttnum)
      if (rel && column) list.push({ viewColumn: s.column, schema: rel.schema, name: rel.name, column })
    }
    direct.set(relationKey(p.view.schema, p.view.name), list)
  }
  // Follow chains: view → view → table, grouping by (base relation) at every level.
  const result = new Map<string, ViewProjection[]>()
  for (const p of parsed) {
    const viewKey = relationKey(p.view.schema, p.view.name)
    // Walk down: for each view column, the chain of relations it comes from.
    const perBase = new Map<string, Map<string, string>>()
    for (const edge of direct.get(viewKey) ?? []) {
      let current = { schema: edge.schema, name: edge.name, column: edge.column }
      for (let depth = 0; depth < 16; depth++) {
        const baseKey = relationKey(current.schema, current.name)
        const columns = perBase.get(baseKey) ?? new Map<string, string>()
        if (!columns.has(current.column)) columns.set(current.column, edge.viewColumn)
        perBase.set(baseKey, columns)
        const next = direct.get(baseKey)?.find((e) => e.viewColumn === current.column)
        if (!next) break
        current = { schema: next.schema, name: next.name, column: next.column }
      }
    }
    for (const [baseKey, columns] of perBase) result.set(baseKey, [...(result.get(baseKey) ?? []), { view: p.view, columns }])
  }
  return result
}

function buildRoutines(rows: Array<Record<string, unknown>>): Map<string, Routine[]> {
  const routines = new Map<string, Routine[]>()
  for (const row of rows) {
    type RawArg = { name: string; type: string; typeName: string; mode: RoutineParam['mode']; relation: [string, string] | null }
    const raw = (typeof row.args === 'string' ? JSON.parse(row.args) : row.args) as RawArg[]
    const args = raw.map(({ relation, ...a }) => ({ ...a, ...(relation ? { relation: { schema: relation[0], name: relation[1] } } : {}) }))
    const inputs = args.filter((a) => a.mode === 'i' || a.mode === 'b' || a.mode === 'v')
    const ndefaults = Number(row.ndefaults)
    const params: RoutineParam[] = inputs.map((a, i) => ({ ...a, hasDefault: i >= inputs.length - ndefaults }))
    const outColumns: RoutineParam[] = args.filter((a) => a.mode === 'o' || a.mode === 'b' || a.mode === 't').map((a) => ({ ...a, hasDefault: false }))
    const typtype = row.return_typtype as string
    const routine: Routine = {
      schema: row.schema as string,
      name: row.name as string,
      params,
      outColumns,
      returnType: row.return_type as string,
      returnTypeName: row.return_type_name as string,
      returnsSet: Boolean(row.returns_set),
      returnsRelation: row.return_relation ? { schema: row.return_schema as string, name: row.return_relation as string } : null,
      returnsComposite: typtype === 'c' || row.return_type === 'record',
      returnsVoid: row.return_type === 'void',
      volatility: VOLATILITY[row.volatility as keyof typeof VOLATILITY] ?? 'volatile',
      description: (row.description as string | null) ?? null,
      rows: Number(row.rows ?? 0),
    }
    const key = relationKey(routine.schema, routine.name)
    routines.set(key, [...(routines.get(key) ?? []), routine])
  }
  return routines
}
