/**
 * HTTP request → `ApiRequest`. Pure: the query string, the headers that matter and the path.
 * @module
 */
import { invalidPath, invalidRange, invalidSchema, parseError, unsupportedMethod } from '../errors.ts'
import { Cursor, identifier } from './cursor.ts'
import { logicKey, parseFilter, parseFilterKey, parseLogicTree, splitPath } from './filter.ts'
import { negotiate } from './media.ts'
import { parseOrder } from './order.ts'
import { parsePreferences } from './preferences.ts'
import { parseSelect, stripSpaces } from './select.ts'
import type { ApiRequest, EmbedPath, Target } from './types.ts'

export interface RawRequest {
  method: string
  /** Path below the mount point, e.g. `/users`, `/rpc/fn`, `/`. */
  path: string
  /** Decoded query parameters in order, repeated keys kept. */
  params: Array<[string, string]>
  headers: {
    accept?: string
    prefer?: string[]
    acceptProfile?: string
    contentProfile?: string
    /** `Range: 0-9` (items), intersected with limit/offset. */
    range?: string
  }
  /** Exposed schemas; the first is the default. */
  schemas: string[]
}

const METHODS = ['GET', 'HEAD', 'POST', 'PATCH', 'DELETE', 'PUT', 'OPTIONS'] as const

function target(path: string): Target {
  const parts = path.split('/').filter((p) => p !== '')
  if (parts.length === 0) return { kind: 'root' }
  const decoded = parts.map((p) => {
    try {
      return decodeURIComponent(p)
    } catch {
      throw invalidPath()
    }
  })
  if (decoded.length === 1) return { kind: 'relation', name: decoded[0]! }
  if (decoded.length === 2 && decoded[0] === 'rpc') return { kind: 'routine', name: decoded[1]! }
  throw invalidPath()
}

/** `[path.]name` of reserved parameters that may apply to an embed. */
function pathParam(key: string, name: 'order' | 'limit' | 'offset'): EmbedPath | undefined {
  if (key === name) return []
  if (!key.endsWith(`.${name}`)) return undefined
  return splitPath(key.slice(0, -(name.length + 1)))
}

function nonNegativeInt(value: string, what: 'limit' | 'offset'): number {
  if (/^-\d+$/.test(value.trim())) {
    if (what === 'limit') throw invalidRange('Limit should be greater than or equal to zero.')
    throw parseError(`"failed to parse ${what} parameter (${value})" (line 1, column 1)`, 'unexpected "-" expecting digit')
  }
  if (!/^\d{1,15}$/.test(value.trim())) throw parseError(`"failed to parse ${what} parameter (${value})" (line 1, column 1)`, 'expecting a whole number')
  return Number(value.trim())
}

function columnList(value: string, what: string): string[] {
  const cursor = new Cursor(stripSpaces(value), `${what} parameter`)
  const names = [identifier(cursor, 'column name')]
  while (cursor.eat(',')) names.push(identifier(cursor, 'column name'))
  if (!cursor.done) cursor.fail('"," or end of input')
  return names
}

export function parseApiRequest(raw: RawRequest): ApiRequest {
  const method = raw.method.toUpperCase()
  if (!(METHODS as readonly string[]).includes(method)) throw unsupportedMethod(method)
  const tgt = target(raw.path)
  const readLike = method === 'GET' || method === 'HEAD'
  const profile = readLike ? raw.headers.acceptProfile : raw.headers.contentProfile
  const schema = profile?.trim() || raw.schemas[0]!
  if (!raw.schemas.includes(schema)) throw invalidSchema(schema, raw.schemas)

  const { media, explain } = negotiate(raw.headers.accept, tgt.kind)
  const request: ApiRequest = {
    method: method as ApiRequest['method'],
    target: tgt,
    schema,
    selectGiven: false,
    select: [{ kind: 'star' }],
    filters: [],
    order: [],
    ranges: [],
    preferences: parsePreferences(raw.headers.prefer ?? []),
    media,
    ...(explain ? { explain } : {}),
    rpcArgs: [],
  }
  const range = (path: EmbedPath) => {
    const key = path.join('\u0000')
    let entry = request.ranges.find((r) => r.path.join('\u0000') === key)
    if (!entry) request.ranges.push((entry = { path }))
    return entry
  }

  for (const [key, value] of raw.params) {
    if (key === 'select') {
      request.select = parseSelect(value)
      request.selectGiven = true
      continue
    }
    if (key === 'columns') {
      request.columns = columnList(value, 'columns')
      continue
    }
    if (key === 'on_conflict') {
      request.onConflict = columnList(value, 'on_conflict')
      continue
    }
    const orderPath = pathParam(key, 'order')
    if (orderPath) {
      request.order.push({ path: orderPath, terms: parseOrder(value) })
      continue
    }
    const limitPath = pathParam(key, 'limit')
    if (limitPath) {
      range(limitPath).limit = nonNegativeInt(value, 'limit')
      continue
    }
    const offsetPath = pathParam(key, 'offset')
    if (offsetPath) {
      range(offsetPath).offset = nonNegativeInt(value, 'offset')
      continue
    }
    const logic = logicKey(key)
    if (logic) {
      request.filters.push({ path: logic.path, condition: parseLogicTree(logic.op, logic.negated, value) })
      continue
    }
    if (tgt.kind === 'routine') {
      // Arguments or filters: only the function's signature can tell; the planner decides.
      request.rpcArgs.push([key, value])
      continue
    }
    const { path, field } = parseFilterKey(key)
    request.filters.push({ path, condition: parseFilter(field, value) })
  }
  if (raw.headers.range && readLike && RANGE_HEADER.test(raw.headers.range)) applyRangeHeader(raw.headers.range, range([]))
  return request
}

/** `Range: a-b` / `a-` narrows the top-level limit/offset (PostgREST intersects them). */
const RANGE_HEADER = /^\s*(?:items=)?(\d{1,15})-(\d{0,15})\s*$/

function applyRangeHeader(header: string, top: { limit?: number; offset?: number }): void {
  // A Range it cannot read is ignored, as PostgREST does (the caller checks the shape).
  const m = RANGE_HEADER.exec(header)!
  const from = Number(m[1])
  const to = m[2] === '' ? undefined : Number(m[2])
  if (to !== undefined && to < from) throw invalidRange('The Range header asks for a range that ends before it starts.')
  const offset = Math.max(top.offset ?? 0, from)
  let end = to === undefined ? undefined : to + 1
  if (top.limit !== undefined) end = Math.min(end ?? Infinity, (top.offset ?? 0) + top.limit)
  top.offset = offset || undefined
  if (end !== undefined) top.limit = Math.max(0, end - offset)
}
