/**
 * ApiRequest + SchemaCache → ReadPlan: resolves the relation, every embed's relationship, where
 * each filter, order and range applies, and checks what can be checked without the database.
 * @module
 */
import { aggregatesDisabled, badEmbedOperator, notEmbedded, pgrstError, relatedOrderNotToOne, tableNotFound } from '../errors.ts'
import type { ApiRequest, TargetOf, Condition, EmbedPath, Field, OrderTerm, SelectItem } from '../parse/types.ts'
import { relationKey, type Relation, type SchemaCache } from '../schema-cache/types.ts'
import { castType } from './casts.ts'
import { closest, findRelationship } from './relationships.ts'
import type { ChildPlan, PlannedCondition, PlannedOrder, PlannedSelect, ReadPlan, ReadRequestPlan } from './types.ts'

export interface PlanOptions {
  maxRows?: number
  aggregatesEnabled?: boolean
}

/** Hands out SQL aliases that are unique within one statement. */
export class AliasCounter {
  private n = 0
  next(base: string): string {
    this.n++
    return `${base}_${this.n}`
  }
}

export function findRelation(cache: SchemaCache, schema: string, name: string): Relation {
  const relation = cache.relations.get(relationKey(schema, name))
  if (relation) return relation
  const names = [...cache.relations.values()].filter((r) => r.schema === schema).map((r) => r.name)
  throw tableNotFound(schema, name, closest(name, names, 0.55))
}

export function planRead(request: ApiRequest<TargetOf<'relation'>>, cache: SchemaCache, options: PlanOptions = {}): ReadRequestPlan {
  const relation = findRelation(cache, request.schema, request.target.name)
  const read = buildReadPlan(cache, relation, request, new AliasCounter(), options)
  if (options.maxRows !== undefined) read.limit = Math.min(read.limit ?? options.maxRows, options.maxRows)
  return { kind: 'read', read, media: request.media, preferences: request.preferences, maxRows: options.maxRows, head: request.method === 'HEAD', explain: request.explain, geoJsonSchema: cache.geoJsonSchema }
}

/** The read tree of `relation` with the request's select, filters, order and ranges applied. */
export function buildReadPlan(
  cache: SchemaCache,
  relation: Relation,
  request: Pick<ApiRequest, 'select' | 'filters' | 'order' | 'ranges'>,
  aliases: AliasCounter,
  options: PlanOptions = {},
  rootAlias = relation.name,
): ReadPlan {
  const root = node(cache, relation, request.select, rootAlias, aliases, options)
  for (const { path, condition } of request.filters) {
    const target = resolvePath(root, path)
    target.where.push(planCondition(target, condition))
  }
  for (const { path, terms } of request.order) {
    const target = resolvePath(root, path)
    target.order.push(...terms.map((t) => planOrder(target, t)))
  }
  for (const { path, limit, offset } of request.ranges) {
    const target = resolvePath(root, path)
    if (limit !== undefined) target.limit = limit
    if (offset !== undefined) target.offset = offset
  }
  return root
}

function node(cache: SchemaCache, relation: Relation, items: SelectItem[], sqlAlias: string, aliases: AliasCounter, options: PlanOptions): ReadPlan {
  const plan: ReadPlan = { relation, sqlAlias, select: [], where: [], order: [], children: [], computedFields: cache.computedFields?.get(relationKey(relation.schema, relation.name)) }
  for (const item of items) plan.select.push(planSelect(cache, plan, item, aliases, options))
  return plan
}

function planSelect(cache: SchemaCache, plan: ReadPlan, item: SelectItem, aliases: AliasCounter, options: PlanOptions): PlannedSelect {
  switch (item.kind) {
    case 'star':
      return { kind: 'star' }
    case 'count':
      if (!options.aggregatesEnabled) throw aggregatesDisabled()
      return { kind: 'count', outputName: item.alias ?? 'count', cast: item.cast === undefined ? undefined : castType(item.cast) }
    case 'column': {
      if (item.aggregate && !options.aggregatesEnabled) throw aggregatesDisabled()
      const last = item.field.jsonPath.at(-1)
      const outputName = item.alias ?? (item.aggregate ?? (last ? last.key : item.field.name))
      return {
        kind: 'column',
        field: resolveField(plan, item.field),
        outputName,
        cast: item.cast === undefined ? undefined : castType(item.cast),
        aggregate: item.aggregate,
        aggregateCast: item.aggregateCast === undefined ? undefined : castType(item.aggregateCast),
      }
    }
    case 'embed': {
      const relationship = findRelationship(cache, plan.relation, item.name, item.hint)
      const target = cache.relations.get(relationKey(relationship.target.schema, relationship.target.name))!
      const childAlias = aliases.next(target.name)
      const child: ChildPlan = {
        plan: node(cache, target, item.select, childAlias, aliases, options),
        relationship,
        outputName: item.alias ?? item.name,
        requestedName: item.name,
        join: item.join ?? 'left',
        spread: item.spread,
        hidden: item.select.length === 0,
        toOne: relationship.cardinality === 'many-to-one' || relationship.cardinality === 'one-to-one',
        lateralAlias: aliases.next(`${target.name}_embed`),
      }
      plan.children.push(child)
      return { kind: 'embed', child }
    }
  }
}

/** A name that is no column but a computed field (`fn(row)`) becomes a call of that function. */
function resolveField(plan: ReadPlan, field: Field): Field {
  if (plan.relation.columnsByName.has(field.name)) return field
  const routine = plan.computedFields?.get(field.name)
  return routine ? { ...field, computed: { schema: routine.schema, name: routine.name } } : field
}

function findChild(plan: ReadPlan, name: string): ChildPlan | undefined {
  return plan.children.find((c) => c.outputName === name) ?? plan.children.find((c) => c.requestedName === name)
}

function resolvePath(root: ReadPlan, path: EmbedPath): ReadPlan {
  let current = root
  for (const name of path) {
    const child = findChild(current, name)
    if (!child) throw notEmbedded(name)
    current = child.plan
  }
  return current
}

function planCondition(plan: ReadPlan, condition: Condition): PlannedCondition {
  if (condition.kind === 'logic') {
    return { kind: 'logic', op: condition.op, negated: condition.negated, children: condition.children.map((c) => planCondition(plan, c)) }
  }
  const { field } = condition
  const column = plan.relation.columnsByName.get(field.name)
  if (!column && field.jsonPath.length === 0) {
    const child = findChild(plan, field.name)
    if (child) {
      // Only `is.null` / `not.is.null` (and `is.not_null`) apply to an embed as a whole.
      if (condition.op !== 'is' || (condition.value !== 'null' && condition.value !== 'not_null') || condition.quantifier) throw badEmbedOperator(field.name)
      const isNull = (condition.value === 'null') !== condition.negated
      return { kind: 'embed-null', child, isNull }
    }
  }
  const resolved = resolveField(plan, field)
  return { kind: 'filter', filter: resolved === field ? condition : { ...condition, field: resolved }, columnType: column?.typeName }
}

function planOrder(plan: ReadPlan, term: OrderTerm): PlannedOrder {
  if (term.relation === undefined) return { field: resolveField(plan, term.field), direction: term.direction, nulls: term.nulls }
  const child = findChild(plan, term.relation)
  if (!child) throw notEmbedded(term.relation)
  if (!child.toOne) throw relatedOrderNotToOne(plan.relation.name, term.relation)
  if (child.spread) throw pgrstError(400, 'PGRST118', `A related order on '${term.relation}' is not possible`)
  return { field: resolveField(child.plan, term.field), child, direction: term.direction, nulls: term.nulls }
}
