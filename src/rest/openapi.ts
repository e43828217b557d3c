/**
 * `GET /rest/v1/`: a Swagger 2.0 document of the exposed schema, generated from the schema cache
 * the way PostgREST shapes it (definitions per relation, `format` = PostgreSQL type, paths per
 * relation and function), so tools that read PostgREST's document read this one.
 * @module
 */
import type { RequestTx } from '../db/session.ts'
import type { Services } from '../services.ts'
import type { RestResult } from './actions/result.ts'
import type { RestConfig } from '../config/rest.ts'
import { pgrstError } from './errors.ts'
import type { Column, Relation, Routine, SchemaCache } from './schema-cache/types.ts'

const INTEGER = new Set(['int2', 'int4', 'int8', 'smallint', 'integer', 'bigint'])
const NUMBER = new Set(['numeric', 'float4', 'float8', 'real', 'double precision'])

function jsonType(typeName: string): Record<string, unknown> {
  if (typeName.startsWith('_')) return { type: 'array', items: jsonType(typeName.slice(1)) }
  if (INTEGER.has(typeName)) return { type: 'integer' }
  if (NUMBER.has(typeName)) return { type: 'number' }
  if (typeName === 'bool') return { type: 'boolean' }
  if (typeName === 'json' || typeName === 'jsonb') return {}
  return { type: 'string' }
}

function property(relation: Relation, column: Column): Record<string, unknown> {
  const out: Record<string, unknown> = { ...jsonType(column.typeName), format: column.type }
  const notes: string[] = []
  if (column.description) notes.push(column.description)
  if (relation.primaryKey.includes(column.name)) notes.push('Note:\nThis is a Primary Key.<pk/>')
  if (notes.length) out.description = notes.join('\n\n')
  if (column.default !== null) out.default = column.default
  if (column.enumValues) out.enum = column.enumValues
  if (column.maxLength !== null) out.maxLength = column.maxLength
  return out
}

function definition(relation: Relation): Record<string, unknown> {
  const required = relation.columns.filter((c) => !c.nullable && c.default === null && !c.identity && !c.generated).map((c) => c.name)
  return {
    type: 'object',
    ...(relation.description ? { description: relation.description } : {}),
    ...(required.length ? { required } : {}),
    properties: Object.fromEntries(relation.columns.map((c) => [c.name, property(relation, c)])),
  }
}

const ref = (name: string) => ({ $ref: `#/parameters/${name}` })

function relationPath(relation: Relation): Record<string, unknown> {
  const rowFilters = relation.columns.map((c) => ({ $ref: `#/parameters/rowFilter.${relation.name}.${c.name}` }))
  const ok = { '200': { description: 'OK', schema: { type: 'array', items: { $ref: `#/definitions/${relation.name}` } } }, '206': { description: 'Partial Content' } }
  const path: Record<string, unknown> = {
    get: { tags: [relation.name], ...(relation.description ? { summary: relation.description } : {}), parameters: [...rowFilters, ref('select'), ref('order'), ref('range'), ref('rangeUnit'), ref('offset'), ref('limit'), ref('preferCount')], responses: ok },
  }
  if (relation.insertable) path.post = { tags: [relation.name], parameters: [ref(`body.${relation.name}`), ref('select'), ref('preferPost')], responses: { '201': { description: 'Created' } } }
  if (relation.updatable) path.patch = { tags: [relation.name], parameters: [...rowFilters, ref(`body.${relation.name}`), ref('preferReturn')], responses: { '204': { description: 'No Content' } } }
  if (relation.deletable) path.delete = { tags: [relation.name], parameters: [...rowFilters, ref('preferReturn')], responses: { '204': { description: 'No Content' } } }
  return path
}

function routinePath(routine: Routine): Record<string, unknown> {
  const properties = Object.fromEntries(routine.params.filter((p) => p.name).map((p) => [p.name, { ...jsonType(p.typeName), format: p.type }]))
  const required = routine.params.filter((p) => p.name && !p.hasDefault).map((p) => p.name)
  const post = {
    tags: ['(rpc) ' + routine.name],
    ...(routine.description ? { summary: routine.description } : {}),
    parameters: [{ required: true, schema: { type: 'object', ...(required.length ? { required } : {}), properties }, in: 'body', name: 'args' }, ref('preferParams')],
    produces: ['application/json', 'application/vnd.pgrst.object+json'],
    responses: { '200': { description: 'OK' } },
  }
  const path: Record<string, unknown> = { post }
  if (routine.volatility !== 'volatile') {
    path.get = {
      tags: ['(rpc) ' + routine.name],
      parameters: routine.params.filter((p) => p.name).map((p) => ({ format: p.type, in: 'query', name: p.name, required: !p.hasDefault, ...jsonType(p.typeName) })),
      responses: { '200': { description: 'OK' } },
    }
  }
  return path
}

/**
 * What the request's role may use (`follow-privileges`): one catalog query, run in the request's
 * transaction as that role, only for this rarely called endpoint.
 */
const VISIBLE_SQL = `
SELECT 'r' AS kind, c.relname::text AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = $1 AND c.relkind IN ('r','v','m','f','p')
   AND (has_table_privilege(c.oid, 'SELECT, INSERT, UPDATE, DELETE') OR has_any_column_privilege(c.oid, 'SELECT, INSERT, UPDATE'))
UNION ALL
SELECT DISTINCT 'f', p.proname::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = $1 AND has_function_privilege(p.oid, 'EXECUTE')`

export async function openApiDocument(tx: RequestTx, cache: SchemaCache, schema: string, services: Services, rest: RestConfig): Promise<RestResult> {
  if (rest.openapiMode === 'disabled') throw pgrstError(404, 'PGRST126', 'Root endpoint metadata is disabled')
  let relations = [...cache.relations.values()].filter((r) => r.schema === schema)
  let routines = [...cache.routines.values()].flat().filter((r) => r.schema === schema)
  if (rest.openapiMode === 'follow-privileges') {
    const { rows } = await tx.query<{ kind: string; name: string }>(VISIBLE_SQL, [schema])
    const tables = new Set(rows.filter((r) => r.kind === 'r').map((r) => r.name))
    const functions = new Set(rows.filter((r) => r.kind === 'f').map((r) => r.name))
    relations = relations.filter((r) => tables.has(r.name))
    routines = routines.filter((r) => functions.has(r.name))
  }
  const parameters: Record<string, unknown> = {
    preferParams: { name: 'Prefer', description: 'Preference', required: false, in: 'header', type: 'string', enum: ['params=single-object'] },
    preferReturn: { name: 'Prefer', description: 'Preference', required: false, in: 'header', type: 'string', enum: ['return=representation', 'return=minimal', 'return=none'] },
    preferCount: { name: 'Prefer', description: 'Preference', required: false, in: 'header', type: 'string', enum: ['count=none'] },
    preferPost: { name: 'Prefer', description: 'Preference', required: false, in: 'header', type: 'string', enum: ['return=representation', 'return=minimal', 'return=none', 'resolution=ignore-duplicates', 'resolution=merge-duplicates'] },
    select: { name: 'select', description: 'Filtering Columns', required: false, in: 'query', type: 'string' },
    on_conflict: { name: 'on_conflict', description: 'On Conflict', required: false, in: 'query', type: 'string' },
    order: { name: 'order', description: 'Ordering', required: false, in: 'query', type: 'string' },
    range: { name: 'Range', description: 'Limiting and Pagination', required: false, in: 'header', type: 'string' },
    rangeUnit: { name: 'Range-Unit', description: 'Limiting and Pagination', required: false, default: 'items', in: 'header', type: 'string' },
    offset: { name: 'offset', description: 'Limiting and Pagination', required: false, in: 'query', type: 'string' },
    limit: { name: 'limit', description: 'Limiting and Pagination', required: false, in: 'query', type: 'string' },
  }
  for (const r of relations) {
    parameters[`body.${r.name}`] = { name: r.name, description: r.name, required: false, in: 'body', schema: { $ref: `#/definitions/${r.name}` } }
    for (const c of r.columns) parameters[`rowFilter.${r.name}.${c.name}`] = { name: c.name, required: false, format: c.type, in: 'query', type: 'string' }
  }
  const doc = {
    swagger: '2.0',
    info: { description: 'resolution: a PostgREST-compatible API over the exposed schema', title: 'resolution REST API', version: '14.0' },
    host: new URL(services.config.auth?.externalUrl ?? `http://localhost:${services.config.port}`).host,
    basePath: '/rest/v1',
    schemes: ['http', 'https'],
    consumes: ['application/json', 'application/vnd.pgrst.object+json;nulls=stripped', 'application/vnd.pgrst.object+json', 'text/csv'],
    produces: ['application/json', 'application/vnd.pgrst.object+json;nulls=stripped', 'application/vnd.pgrst.object+json', 'text/csv'],
    paths: {
      '/': { get: { produces: ['application/openapi+json', 'application/json'], responses: { '200': { description: 'OK' } }, summary: 'OpenAPI description (this document)', tags: ['Introspection'] } },
      ...Object.fromEntries(relations.map((r) => [`/${r.name}`, relationPath(r)])),
      ...Object.fromEntries(routines.map((r) => [`/rpc/${r.name}`, routinePath(r)])),
    },
    definitions: Object.fromEntries(relations.map((r) => [r.name, definition(r)])),
    parameters,
    externalDocs: { description: 'PostgREST Documentation', url: 'https://postgrest.org/en/v14/references/api.html' },
  }
  return { status: 200, headers: { 'Content-Type': 'application/openapi+json; charset=utf-8' }, body: JSON.stringify(doc) }
}
