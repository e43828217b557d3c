/**
 * Relationships from foreign keys: each FK gives a many-to-one edge (one-to-one when its columns
 * are a key) and the reverse one-to-many edge; junction tables give many-to-many edges. FKs are
 * also projected through views whose columns expose the FK columns unchanged.
 * @module
 */
import { relationKey, type ForeignKey, type QualifiedName, type Relation, type Relationship } from './types.ts'

/** A view column that is a base-table column, after following view chains. */
export interface ViewProjection {
  view: QualifiedName
  /** base column → view column */
  columns: Map<string, string>
}

interface KeyInfo {
  primaryKey: string[]
  uniqueKeys: string[][]
}

const sameSet = (a: string[], b: string[]) => a.length === b.length && a.every((x) => b.includes(x))
const subset = (a: string[], b: string[]) => a.every((x) => b.includes(x))

/** The FK as it appears on every relation that exposes its columns (the table itself and views over it). */
function projectForeignKeys(fks: ForeignKey[], projections: Map<string, ViewProjection[]>): ForeignKey[] {
  const out: ForeignKey[] = []
  for (const fk of fks) {
    const sources = [{ schema: fk.schema, table: fk.table, columns: fk.columns }]
    for (const p of projections.get(relationKey(fk.schema, fk.table)) ?? []) {
      if (fk.columns.every((c) => p.columns.has(c))) sources.push({ schema: p.view.schema, table: p.view.name, columns: fk.columns.map((c) => p.columns.get(c)!) })
    }
    const targets = [{ schema: fk.refSchema, table: fk.refTable, columns: fk.refColumns }]
    for (const p of projections.get(relationKey(fk.refSchema, fk.refTable)) ?? []) {
      if (fk.refColumns.every((c) => p.columns.has(c))) targets.push({ schema: p.view.schema, table: p.view.name, columns: fk.refColumns.map((c) => p.columns.get(c)!) })
    }
    for (const s of sources) {
      for (const t of targets) {
        out.push({ constraint: fk.constraint, schema: s.schema, table: s.table, columns: s.columns, refSchema: t.schema, refTable: t.table, refColumns: t.columns })
      }
    }
  }
  return out
}

function isKey(columns: string[], keys: KeyInfo | undefined): boolean {
  if (!keys) return false
  if (keys.primaryKey.length && sameSet(columns, keys.primaryKey)) return true
  return keys.uniqueKeys.some((u) => sameSet(columns, u))
}

function keysOf(relation: Relation | undefined, baseKeys: Map<string, KeyInfo>, schema: string, name: string): KeyInfo | undefined {
  return relation ?? baseKeys.get(relationKey(schema, name))
}

export function buildRelationships(
  relations: Map<string, Relation>,
  foreignKeys: ForeignKey[],
  baseKeys: Map<string, KeyInfo>,
  projections: Map<string, ViewProjection[]>,
): Map<string, Relationship[]> {
  const result = new Map<string, Relationship[]>()
  const add = (r: Relationship) => {
    const key = relationKey(r.source.schema, r.source.name)
    const list = result.get(key) ?? []
    list.push(r)
    result.set(key, list)
  }
  const projected = projectForeignKeys(foreignKeys, projections)
  const exposed = (schema: string, name: string) => relations.has(relationKey(schema, name))

  for (const fk of projected) {
    if (!exposed(fk.schema, fk.table) || !exposed(fk.refSchema, fk.refTable)) continue
    const source = { schema: fk.schema, name: fk.table }
    const target = { schema: fk.refSchema, name: fk.refTable }
    const oneToOne = isKey(fk.columns, keysOf(relations.get(relationKey(fk.schema, fk.table)), baseKeys, fk.schema, fk.table))
    add({ cardinality: oneToOne ? 'one-to-one' : 'many-to-one', source, target, constraint: fk.constraint, sourceColumns: fk.columns, targetColumns: fk.refColumns })
    add({ cardinality: oneToOne ? 'one-to-one' : 'one-to-many', source: target, target: source, constraint: fk.constraint, sourceColumns: fk.refColumns, targetColumns: fk.columns })
  }

  // Many-to-many: two FKs of one junction whose columns both sit inside one of its keys.
  const byJunction = new Map<string, ForeignKey[]>()
  for (const fk of projected) {
    const key = relationKey(fk.schema, fk.table)
    byJunction.set(key, [...(byJunction.get(key) ?? []), fk])
  }
  for (const [key, fks] of byJunction) {
    if (fks.length < 2 || !relations.has(key)) continue
    const junction = relations.get(key)!
    const keys = [junction.primaryKey, ...junction.uniqueKeys].filter((k) => k.length > 0)
    for (const a of fks) {
      for (const b of fks) {
        if (a === b || a.constraint === b.constraint) continue
        if (!exposed(a.refSchema, a.refTable) || !exposed(b.refSchema, b.refTable)) continue
        if (!keys.some((k) => subset(a.columns, k) && subset(b.columns, k))) continue
        add({
          cardinality: 'many-to-many',
          source: { schema: a.refSchema, name: a.refTable },
          target: { schema: b.refSchema, name: b.refTable },
          constraint: a.constraint,
          sourceColumns: a.refColumns,
          targetColumns: b.refColumns,
          junction: {
            relation: { schema: junction.schema, name: junction.name },
            sourceConstraint: a.constraint,
            sourceJoin: a.columns,
            targetConstraint: b.constraint,
            targetJoin: b.columns,
          },
        })
      }
    }
  }
  return result
}
