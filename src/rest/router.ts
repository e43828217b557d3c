/**
 * `/rest/v1`: PostgREST's pipeline, one line per stage —
 * ApiRequest (parse) → Plan → Query → Tx (withSession) → Response.
 * @module
 */
import { Hono, type Context } from 'hono'
import { infrastructureError } from '../db/errors.ts'
import { withSession } from '../db/session.ts'
import type { Database } from '../db/types.ts'
import { HttpError } from '../errors.ts'
import type { Services } from '../services.ts'
import { runRead, type RestResult } from './actions/read.ts'
import { restPrincipal, sessionOptions } from './context.ts'
import { fromPgError, notImplemented, schemaCacheNotLoaded } from './errors.ts'
import { parseApiRequest } from './parse/api-request.ts'
import type { ApiRequest } from './parse/types.ts'
import { planRead } from './plan/read-plan.ts'
import { getSchemaCache, type SchemaCache } from './schema-cache/index.ts'
import { ensureSchemaListener } from './schema-cache/listener.ts'

export interface RestOptions {
  /** Path the router is mounted at; the rest is the resource path. */
  basePath?: string
}

async function loadCache(services: Services, database: Database): Promise<SchemaCache> {
  try {
    return await getSchemaCache(database, services.config.dbSchemas)
  } catch (error) {
    throw infrastructureError(error) ?? schemaCacheNotLoaded()
  }
}

function respond(c: Context, result: RestResult): Response {
  return new Response(result.body ?? null, { status: result.status, headers: result.headers })
}

export function restRouter(services: Services, options: RestOptions = {}): Hono {
  const basePath = options.basePath ?? '/rest/v1'
  const app = new Hono()

  app.all('*', async (c) => {
    const principal = await restPrincipal(services, c)
    const database = await services.database()
    ensureSchemaListener(services, database)
    const cache = await loadCache(services, database)
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
      },
      schemas: services.config.dbSchemas,
    })
    const readOnly = request.method === 'GET' || request.method === 'HEAD'
    const session = sessionOptions(services, c, principal, { method: request.method, path, schema: request.schema, readOnly, timezone: request.preferences.timezone })
    try {
      const result = await withSession(database, session, () => dispatch(services, request, cache))
      if (services.config.dbSchemas.length > 1) result.headers['Content-Profile'] = request.schema
      return respond(c, result)
    } catch (error) {
      if (error instanceof HttpError) throw error
      throw infrastructureError(error) ?? fromPgError(error, principal.source !== 'none') ?? error
    }
  })
  return app
}

async function dispatch(services: Services, request: ApiRequest, cache: SchemaCache): Promise<RestResult> {
  const { target, method } = request
  if (target.kind === 'relation' && (method === 'GET' || method === 'HEAD')) {
    return runRead(planRead(request, cache, { maxRows: services.config.rest.maxRows, aggregatesEnabled: services.config.rest.aggregatesEnabled }))
  }
  throw notImplemented(`${method} on ${target.kind} is not available yet`)
}
