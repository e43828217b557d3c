/**
 * ReadPlan → one SELECT. Embeds are LEFT JOIN LATERAL subqueries that build their JSON in
 * PostgreSQL (`json_agg` for to-many, `row_to_json` for to-one); `!inner` and `is.null` on an
 * embed test whether its lateral produced anything.
 * @module
 */
import { ident, qualified } from '../../db/sql.ts'
import type { ChildPlan, PlannedCondition, PlannedOrder, ReadPlan } from '../plan/types.ts'
import { conditionSql, fieldExpr } from './expressions.ts'
import { Params } from './params.ts'

export interface NodeSql {
  /** `expr AS "name"` entries (empty for `rel()`). */
  selectList: string[]
  /** Output names, when known (always known when `expandStar` was asked for). */
  outputNames: string[]
  /** `relation AS alias` plus the embeds' lateral joins. */
  from: string
  /** The lateral joins the WHERE clause depends on (for counting without the rest). */
  fromForWhere: string
  where: string[]
  /** Select-list positions to group by (only when the select has aggregates). */
  groupBy: string[]
  orderBy: string[]
  limit?: string
  offset?: string
  /** With `hoistAggregates`: the outputs whose aggregate the parent applies (`name` → `sum`, cast). */
  hoisted: Map<string, { aggregate: string; cast?: string }>
}

export interface RenderOptions {
  /** Replaces `schema.relation AS alias` of the root (a function call, a mutation's CTE). */
  rootFrom?: string | ((params: Params) => string)
  /** Output names must be known (spread embeds, CSV): `*` is expanded from the schema cache. */
  expandStar?: boolean
  /**
   * A to-one spread's aggregates are the parent's (PostgREST 13): the node selects their raw
   * values and lists them in `hoisted`, and the parent aggregates over its own groups.
   */
  hoistAggregates?: boolean
}

const ORDER_COLUMN = (i: number) => `pgrst_order_${i}`

function orderSql(expr: string, term: PlannedOrder): string {
  let sql = expr
  if (term.direction) sql += term.direction === 'desc' ? ' DESC' : ' ASC'
  if (term.nulls) sql += term.nulls === 'first' ? ' NULLS FIRST' : ' NULLS LAST'
  return sql
}

function joinConditions(child: ChildPlan, parentAlias: string): { from: string; where: string[] } {
  const r = child.relationship
  const childAlias = child.plan.sqlAlias
  if (r.computed) {
    // The function is called on the parent's row (its whole-row reference); it does the joining.
    return { from: `${qualified(r.computed.schema, r.computed.name)}(${ident(parentAlias)}) AS ${ident(childAlias)}`, where: [] }
  }
  const target = `${qualified(child.plan.relation.schema, child.plan.relation.name)} AS ${ident(childAlias)}`
  if (!r.junction) {
    return { from: target, where: r.sourceColumns.map((col, i) => `${ident(childAlias)}.${ident(r.targetColumns[i]!)} = ${ident(parentAlias)}.${ident(col)}`) }
  }
  const j = r.junction
  const jAlias = `${childAlias}_junction`
  const on = j.targetJoin.map((col, i) => `${ident(jAlias)}.${ident(col)} = ${ident(childAlias)}.${ident(r.targetColumns[i]!)}`).join(' AND ')
  return {
    from: `${target} INNER JOIN ${qualified(j.relation.schema, j.relation.name)} AS ${ident(jAlias)} ON ${on}`,
    where: j.sourceJoin.map((col, i) => `${ident(jAlias)}.${ident(col)} = ${ident(parentAlias)}.${ident(r.sourceColumns[i]!)}`),
  }
}

interface SelectListSql {
  selectList: string[]
  outputNames: string[]
  groupBy: string[]
  aggregated: boolean
  hoisted: NodeSql['hoisted']
}

/** The select list of one level: columns, counts and the embeds' outputs, with GROUP BY positions when aggregating. */
function renderSelectList(plan: ReadPlan, alias: string, params: Params, rendered: Map<ChildPlan, ReturnType<typeof renderChild>>, options: RenderOptions): SelectListSql {
  const selectList: string[] = []
  const outputNames: string[] = []
  // With aggregates, every other selected expression is grouped by (by position).
  const groupBy: string[] = []
  let aggregated = false
  const hoisted: NodeSql['hoisted'] = new Map()
  const hoist = options.hoistAggregates === true
  for (const item of plan.select) {
    if (item.kind === 'star') {
      if (options.expandStar) {
        for (const column of plan.relation.columns) {
          selectList.push(`${ident(alias)}.${ident(column.name)} AS ${ident(column.name)}`)
          outputNames.push(column.name)
        }
      } else {
        selectList.push(`${ident(alias)}.*`)
        outputNames.push(...plan.relation.columns.map((c) => c.name))
      }
    } else if (item.kind === 'column') {
      const expr = fieldExpr(alias, item.field, params)
      let value = item.cast ? `CAST(${expr} AS ${item.cast})` : expr
      if (item.aggregate && hoist) {
        hoisted.set(item.outputName, { aggregate: item.aggregate, cast: item.aggregateCast })
      } else if (item.aggregate) {
        // Aggregate names come from a closed list (parse/select.ts), never from the request text.
        value = `${item.aggregate}(${value})`
        if (item.aggregateCast) value = `CAST(${value} AS ${item.aggregateCast})`
        aggregated = true
      } else groupBy.push(String(selectList.length + 1))
      selectList.push(`${value} AS ${ident(item.outputName)}`)
      outputNames.push(item.outputName)
    } else if (item.kind === 'count') {
      // Hoisted, `count()` counts the parent's rows that have this related row.
      if (hoist) hoisted.set(item.outputName, { aggregate: 'count', cast: item.cast })
      else aggregated = true
      selectList.push(`${hoist ? 'TRUE' : item.cast ? `CAST(count(*) AS ${item.cast})` : 'count(*)'} AS ${ident(item.outputName)}`)
      outputNames.push(item.outputName)
    } else {
      const r = rendered.get(item.child)!
      r.outputs.forEach((output, i) => {
        if (r.aggregated[i]) aggregated = true
        else groupBy.push(String(selectList.length + 1))
        selectList.push(output)
      })
      outputNames.push(...r.names)
    }
  }
  return { selectList, outputNames, groupBy, aggregated, hoisted }
}

/** Renders one level of the read tree (and, recursively, its embeds). */
export function renderNode(plan: ReadPlan, params: Params, options: RenderOptions = {}, outer?: { from: string; where: string[] }): NodeSql {
  const alias = plan.sqlAlias
  const rootFrom = typeof options.rootFrom === 'function' ? options.rootFrom(params) : options.rootFrom
  const base = outer?.from ?? rootFrom ?? `${qualified(plan.relation.schema, plan.relation.name)} AS ${ident(alias)}`

  // Embeds first: their lateral joins, how to test that they matched, what they output.
  const rendered = new Map<ChildPlan, ReturnType<typeof renderChild>>()
  let orderIndex = 0
  for (const child of plan.children) {
    const orderTerms = plan.order.filter((o) => o.child === child)
    const orderColumns = new Map<PlannedOrder, string>()
    for (const term of orderTerms) orderColumns.set(term, ORDER_COLUMN(++orderIndex))
    rendered.set(child, renderChild(child, alias, params, orderColumns))
  }

  const { selectList, outputNames, groupBy, aggregated, hoisted } = renderSelectList(plan, alias, params, rendered, options)

  const usedLaterals = new Set<ChildPlan>()
  const exists = (child: ChildPlan) => {
    usedLaterals.add(child)
    return rendered.get(child)!.exists
  }
  const where = [...(outer?.where ?? [])]
  for (const condition of plan.where) {
    where.push(conditionSql(alias, condition, params, (c: PlannedCondition & { kind: 'embed-null' }) => exists(c.child)))
  }
  for (const child of plan.children) if (child.join === 'inner') where.push(`${exists(child)} IS NOT NULL`)

  const orderBy = plan.order.map((term) => {
    if (!term.child) return orderSql(fieldExpr(alias, term.field, params), term)
    usedLaterals.add(term.child)
    return orderSql(rendered.get(term.child)!.orderExprs.get(term)!, term)
  })

  const laterals = plan.children.map((c) => `LEFT JOIN LATERAL (${rendered.get(c)!.lateral}) AS ${ident(c.lateralAlias)} ON TRUE`)
  const lateralsForWhere = plan.children.filter((c) => usedLaterals.has(c)).map((c) => `LEFT JOIN LATERAL (${rendered.get(c)!.lateral}) AS ${ident(c.lateralAlias)} ON TRUE`)
  return {
    selectList,
    outputNames,
    from: [base, ...laterals].join(' '),
    fromForWhere: [base, ...lateralsForWhere].join(' '),
    where,
    groupBy: aggregated ? groupBy : [],
    hoisted,
    orderBy,
    limit: plan.limit === undefined ? undefined : params.add(plan.limit),
    offset: plan.offset ? params.add(plan.offset) : undefined,
  }
}

/** `SELECT … FROM … WHERE … ORDER BY … LIMIT … OFFSET …` of a rendered node. */
export function selectStatement(node: NodeSql, selectList = node.selectList): string {
  let sql = `SELECT ${selectList.join(', ')} FROM ${node.from}`
  if (node.where.length) sql += ` WHERE ${node.where.join(' AND ')}`
  if (node.groupBy.length) sql += ` GROUP BY ${node.groupBy.join(', ')}`
  if (node.orderBy.length) sql += ` ORDER BY ${node.orderBy.join(', ')}`
  if (node.limit) sql += ` LIMIT ${node.limit}`
  if (node.offset) sql += ` OFFSET ${node.offset}`
  return sql
}

interface RenderedChild {
  lateral: string
  /** An expression that is NULL when the embed matched nothing. */
  exists: string
  /** What the parent selects of it, and which of those are aggregates (not grouped by). */
  outputs: string[]
  aggregated?: boolean[]
  names: string[]
  orderExprs: Map<PlannedOrder, string>
}

function renderChild(child: ChildPlan, parentAlias: string, params: Params, orderColumns: Map<PlannedOrder, string>): RenderedChild & { aggregated: boolean[] } {
  const rendered = renderChildSql(child, parentAlias, params, orderColumns)
  return { ...rendered, aggregated: rendered.aggregated ?? rendered.outputs.map(() => false) }
}

function renderChildSql(child: ChildPlan, parentAlias: string, params: Params, orderColumns: Map<PlannedOrder, string>): RenderedChild {
  const lat = ident(child.lateralAlias)
  const hoistAggregates = child.toOne && child.spread
  const node = renderNode(child.plan, params, { expandStar: child.spread, hoistAggregates }, joinConditions(child, parentAlias))
  const orderExprs = new Map<PlannedOrder, string>()
  const orderSelect: string[] = []
  for (const [term, column] of orderColumns) {
    orderSelect.push(`${fieldExpr(child.plan.sqlAlias, term.field, params)} AS ${ident(column)}`)
    orderExprs.set(term, `${lat}.${ident(column)}`)
  }
  const fromWhere = (n: NodeSql) => `FROM ${n.from}${n.where.length ? ` WHERE ${n.where.join(' AND ')}` : ''}`

  if (child.toOne && !child.spread) {
    // With aggregates the embedded row is the grouped one (`channels(id.sum(), ...details(x))`).
    const lateral = node.groupBy.length
      ? `SELECT row_to_json(_r) AS body${orderSelect.length ? `, ${[...orderColumns.values()].map((c) => `NULL AS ${ident(c)}`).join(', ')}` : ''} FROM (${selectStatement(node)}) AS _r`
      : `SELECT (SELECT row_to_json(_r) FROM (SELECT ${node.selectList.join(', ')}) AS _r) AS body${orderSelect.map((s) => `, ${s}`).join('')} ${fromWhere(node)}`
    return { lateral, exists: `${lat}.body`, outputs: child.hidden ? [] : [`${lat}.body AS ${ident(child.outputName)}`], names: child.hidden ? [] : [child.outputName], orderExprs }
  }
  if (child.toOne) {
    const lateral = `SELECT ${[...node.selectList, 'TRUE AS pgrst_exists', ...orderSelect].join(', ')} ${fromWhere(node)}`
    const outputs = node.outputNames.map((n) => {
      const agg = node.hoisted.get(n)
      if (!agg) return `${lat}.${ident(n)} AS ${ident(n)}`
      const value = `${agg.aggregate}(${lat}.${ident(n)})`
      return `${agg.cast ? `CAST(${value} AS ${agg.cast})` : value} AS ${ident(n)}`
    })
    return { lateral, exists: `${lat}.pgrst_exists`, outputs, aggregated: node.outputNames.map((n) => node.hoisted.has(n)), names: node.outputNames, orderExprs }
  }
  if (!child.spread) {
    const lateral = `SELECT json_agg(_r) AS body FROM (${selectStatement(node)}) AS _r`
    return {
      lateral,
      exists: `${lat}.body`,
      outputs: child.hidden ? [] : [`COALESCE(${lat}.body, '[]'::json) AS ${ident(child.outputName)}`],
      names: child.hidden ? [] : [child.outputName],
      orderExprs,
    }
  }
  // To-many spread: every lifted column becomes an array (PostgREST v13+).
  const aggregates = node.outputNames.map((n) => `json_agg(_r.${ident(n)}) AS ${ident(n)}`)
  const lateral = `SELECT ${[...aggregates, 'bool_or(TRUE) AS pgrst_exists'].join(', ')} FROM (${selectStatement(node)}) AS _r`
  return { lateral, exists: `${lat}.pgrst_exists`, outputs: node.outputNames.map((n) => `COALESCE(${lat}.${ident(n)}, '[]'::json) AS ${ident(n)}`), names: node.outputNames, orderExprs }
}

export type BodyShape = 'array' | 'object' | 'csv' | 'geojson' | 'none'

export interface ReadStatementOptions extends RenderOptions {
  count?: 'exact'
  body: BodyShape
  stripNulls?: boolean
  /** For `geojson`: the schema of PostGIS's `st_asgeojson(record)`. */
  geoJsonSchema?: string
}

/**
 * CSV as PostgREST writes it: a header of the first row's keys, then each row's record text
 * without its parentheses — PostgreSQL's own quoting (`"[1,2)"`, `""` for a quote), each
 * value in its type's text form (jsonb with its spaces), NULL as nothing.
 */
const CSV_BODY = `(SELECT coalesce(string_agg(pgrst_keys.k, ','), '') FROM (SELECT json_object_keys(pgrst_first.r) AS k FROM (SELECT row_to_json(pgrst_h) AS r FROM pgrst_source AS pgrst_h LIMIT 1) AS pgrst_first) AS pgrst_keys)
  || chr(10) || coalesce(string_agg(substring(_r::text, 2, length(_r::text) - 2), chr(10)), '')`

/** A FeatureCollection of the rows, each a Feature by PostGIS (its geometry column, the rest as properties), as PostgREST builds it. */
function geoJsonBody(schema: string): string {
  const features = `coalesce(json_agg(${qualified(schema, 'st_asgeojson')}(_r)::json), '[]')`
  return `json_build_object('type', 'FeatureCollection', 'features', ${features})::text`
}

/**
 * The whole read as one statement returning `total_result_set`, `page_total` and `body` (JSON
 * text), the shape PostgREST's statements have.
 */
export function readStatement(plan: ReadPlan, options: ReadStatementOptions): { sql: string; params: unknown[] } {
  const params = new Params()
  const node = renderNode(plan, params, options)
  const source = selectStatement(node)
  const total = options.count === 'exact' ? `(SELECT pg_catalog.count(*) FROM ${node.fromForWhere}${node.where.length ? ` WHERE ${node.where.join(' AND ')}` : ''})` : 'NULL::int8'
  let body: string
  if (options.body === 'none') body = 'NULL::text'
  else if (options.body === 'csv') body = CSV_BODY
  else if (options.body === 'geojson') body = geoJsonBody(options.geoJsonSchema ?? 'public')
  else if (options.body === 'object') body = options.stripNulls ? `json_strip_nulls(json_agg(_r)->0)::text` : `(json_agg(_r)->0)::text`
  else body = options.stripNulls ? `json_strip_nulls(coalesce(json_agg(_r), '[]'))::text` : `coalesce(json_agg(_r), '[]')::text`
  const sql = `WITH pgrst_source AS (${source}) SELECT ${total} AS total_result_set, pg_catalog.count(_r) AS page_total, ${body} AS body FROM pgrst_source AS _r`
  return { sql, params: params.values }
}
