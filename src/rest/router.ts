/**
 * `/rest/v1`: PostgREST's pipeline, one line per stage —
 * ApiRequest (parse) → Plan (pure, against the schema cache) → Tx (withSession, one statement)
 * → Response. Only the actions run SQL, and only inside the request's transaction.
 * @module
 */
import { Hono } from 'hono'
import { infrastructureError } from '../db/errors.ts'
import { withSession, type RequestTx } from '../db/session.ts'
import { ident, qualified } from '../db/sql.ts'
import type { Database } from '../db/types.ts'
import { HttpError } from '../errors.ts'
import type { Services } from '../services.ts'
import { runCall } from './actions/call.ts'
import { runMutation } from './actions/mutate.ts'
import { runRead } from './actions/read.ts'
import type { RestResult } from './actions/result.ts'
import { parseBody } from './body.ts'
import type { RestConfig } from '../config/rest.ts'
import { restPrincipal, sessionOptions, withRoleClaim } from './context.ts'
import { withDatabaseSettings } from './db-settings.ts'
import { FairShare } from './fair-share.ts'
import { clientAddress, limitKey } from '../http/client-address.ts'
import { roleGuardOf } from '../http/role-guard.ts'
import { fromPgError, invalidPath, invalidPreferences, roleMissing, roleNotAllowed, schemaCacheNotLoaded, unacceptableMedia, unsupportedMethod } from './errors.ts'
import { explainMediaType } from './actions/explain.ts'
import { openApiDocument } from './openapi.ts'
import { parseApiRequest } from './parse/api-request.ts'
import { GEOJSON_MEDIA } from './response.ts'
import { targets, type ApiRequest } from './parse/types.ts'
import { planCall } from './plan/call-plan.ts'
import type { BodyMedia } from './plan/routine-match.ts'
import { planMutation } from './plan/mutate-plan.ts'
import { findRelation, planRead } from './plan/read-plan.ts'
import { getSchemaCache, relationKey, type SchemaCache } from './schema-cache/index.ts'
import { ensureSchemaListener } from './schema-cache/listener.ts'

export interface RestOptions {
  /** Path the router is mounted at; the rest is the resource path. */
  basePath?: string
}

async function loadCache(services: Services, database: Database): Promise<SchemaCache> {
  try {
    return await getSchemaCache(database, services.config.dbSchemas, { fromDatabase: !services.config.dbSchemasSet })
  } catch (error) {
    throw infrastructureError(error) ?? schemaCacheNotLoaded()
  }
}

/** What a request will do, decided before the transaction opens (it decides READ ONLY). */
interface Action {
  readOnly: boolean
  run(tx: RequestTx): Promise<RestResult>
}

function plan(request: ApiRequest, cache: SchemaCache, body: unknown, bodyMedia: BodyMedia, rest: RestConfig, services: Services): Action {
  const planOptions = { maxRows: rest.maxRows, aggregatesEnabled: rest.aggregatesEnabled }
  const { method } = request
  if (request.preferences.handling === 'strict' && request.preferences.invalid.length) throw invalidPreferences(request.preferences.invalid)
  // Plans are served for reads and function calls, and only where DB_PLAN_ENABLED turns them on.
  const readsRows = request.target.kind === 'routine' || method === 'GET' || method === 'HEAD'
  if (request.explain && (!rest.planEnabled || !readsRows)) throw unacceptableMedia([explainMediaType(request.explain, request.media)])
  if (method === 'OPTIONS') return { readOnly: true, run: async () => ({ status: 200, headers: { Allow: allowedMethods(request, cache) } }) }
  // GeoJSON needs PostGIS (PostgREST offers the media type only then), and rows that are read.
  if (request.media.kind === 'geojson' && (!cache.geoJsonSchema || !readsRows)) throw unacceptableMedia([GEOJSON_MEDIA])
  if (targets(request, 'routine')) {
    const call = planCall(request, cache, body, planOptions, bodyMedia)
    return { readOnly: call.readOnly, run: (tx) => runCall(tx, call, rest.maxRows, rest) }
  }
  if (targets(request, 'relation')) {
    if (method === 'GET' || method === 'HEAD') {
      const read = planRead(request, cache, planOptions)
      return { readOnly: true, run: (tx) => runRead(tx, read) }
    }
    const mutation = planMutation(request, cache, body, { ...planOptions, safeUpdate: rest.safeUpdate })
    return { readOnly: false, run: (tx) => runMutation(tx, mutation, rest) }
  }
  // The root: the OpenAPI document.
  if (method !== 'GET' && method !== 'HEAD') throw unsupportedMethod(method)
  return { readOnly: true, run: (tx) => openApiDocument(tx, cache, request.schema, services, rest) }
}

/**
 * `db-pre-request`: PostgREST calls the function in the request's transaction, after the settings
 * and before the statement, for requests on relations and functions; what it raises answers the
 * request (mapped like any statement's error) and nothing else runs.
 */
function withPreRequest(action: Action, request: ApiRequest, rest: RestConfig): Action {
  const fn = rest.preRequest
  if (!fn || request.target.kind === 'root' || request.method === 'OPTIONS') return action
  const sql = `SELECT ${fn.schema === undefined ? ident(fn.name) : qualified(fn.schema, fn.name)}()`
  return {
    readOnly: action.readOnly,
    async run(tx) {
      await tx.query(sql)
      return action.run(tx)
    },
  }
}

/** `Allow` for OPTIONS: what the relation or function accepts (PostgREST's answer). */
function allowedMethods(request: ApiRequest, cache: SchemaCache): string {
  const { target, schema } = request
  if (target.kind === 'root') return 'OPTIONS,GET,HEAD'
  if (target.kind === 'routine') {
    const overloads = cache.routines.get(relationKey(schema, target.name)) ?? []
    if (overloads.length === 0) throw invalidPath()
    return overloads.every((r) => r.volatility === 'volatile') ? 'OPTIONS,POST' : 'OPTIONS,GET,HEAD,POST'
  }
  const relation = findRelation(cache, schema, target.name)
  const methods = ['OPTIONS', 'GET', 'HEAD']
  if (relation.insertable) methods.push('POST')
  if (relation.insertable && relation.updatable) methods.push('PUT')
  if (relation.updatable) methods.push('PATCH')
  if (relation.deletable) methods.push('DELETE')
  return methods.join(',')
}

/** What an RPC body is: text, xml and binary bodies go raw into a function's one parameter. */
function rpcBodyMedia(contentType: string | undefined): BodyMedia {
  const type = (contentType ?? 'application/json').split(';')[0]!.trim().toLowerCase()
  if (type === 'text/plain') return 'text'
  if (type === 'text/xml') return 'xml'
  if (type === 'application/octet-stream') return 'octet-stream'
  return type === 'application/json' ? 'json' : 'other'
}

async function requestBody(raw: Request, method: string, media: BodyMedia): Promise<unknown> {
  if (method !== 'POST' && method !== 'PATCH' && method !== 'PUT') return undefined
  if (media === 'text' || media === 'xml') return raw.text()
  if (media === 'octet-stream') return new Uint8Array(await raw.arrayBuffer())
  return parseBody(await raw.text(), raw.headers.get('content-type') ?? undefined)
}

export function restRouter(services: Services, options: RestOptions = {}): Hono {
  const basePath = options.basePath ?? '/rest/v1'
  const app = new Hono()
  const roles = roleGuardOf(services)
  const { rest, auth, dbPoolMax } = services.config
  const share = new FairShare(rest.clientShare ?? Math.max(1, Math.ceil(dbPoolMax / 2)), rest.clientWaitMs)

  app.all('*', async (c) => {
    const verified = await restPrincipal(services, c)
    const database = await services.database()
    const listening = ensureSchemaListener(services, database)
    if (listening) await listening
    const cache = await loadCache(services, database)
    // In-database settings (pgrst.*) come with the cache; the role claim key is one of them.
    const restSettings = withDatabaseSettings(services.config.rest, cache, services.logger)
    const principal = withRoleClaim(verified, restSettings.roleClaimPath)
    const verdict = await roles.verdict(principal.role)
    if (verdict !== 'allowed') throw verdict === 'missing' ? roleMissing(principal.role) : roleNotAllowed(principal.role)
    const url = new URL(c.req.url)
    const path = url.pathname.startsWith(basePath) ? url.pathname.slice(basePath.length) || '/' : url.pathname
    const request = parseApiRequest({
      method: c.req.method,
      path,
      params: [...url.searchParams.entries()],
      headers: {
        accept: c.req.header('accept'),
        prefer: c.req.raw.headers.get('prefer') ? [c.req.raw.headers.get('prefer')!] : [],
        acceptProfile: c.req.header('accept-profile'),
        contentProfile: c.req.header('content-profile'),
        range: c.req.header('range'),
      },
      schemas: cache.schemas,
    })
    const bodyMedia = request.target.kind === 'routine' && request.method === 'POST' ? rpcBodyMedia(c.req.header('content-type')) : 'json'
    const body = await requestBody(c.req.raw, request.method, bodyMedia)
    const action = withPreRequest(plan(request, cache, body, bodyMedia, restSettings, services), request, restSettings)
    const session = sessionOptions(services, c, principal, { method: request.method, path, schema: request.schema, readOnly: action.readOnly, timezone: request.preferences.timezone })
    let result: RestResult
    try {
      const client = limitKey(clientAddress(c, auth.rateLimitHeader, auth.rateLimitTrustedHops))
      result = await share.run(client, () => withSession(database, session, (tx) => action.run(tx)))
    } catch (error) {
      if (error instanceof HttpError) throw error
      throw infrastructureError(error) ?? fromPgError(error, principal.source !== 'none') ?? error
    }
    if (cache.schemas.length > 1) result.headers['Content-Profile'] = request.schema
    return new Response(result.body ?? null, { status: result.status, headers: result.headers })
  })
  return app
}
