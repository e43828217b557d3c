import { describe, expect, it } from 'vitest'
import { errorOf } from '../support/errors.ts'
import { parseApiRequest, type RawRequest } from '../../src/rest/parse/api-request.ts'
import { parseFilter, parseFilterKey, parseLogicTree } from '../../src/rest/parse/filter.ts'
import { negotiateMedia } from '../../src/rest/parse/media.ts'
import { parseOrder } from '../../src/rest/parse/order.ts'
import { parsePreferences } from '../../src/rest/parse/preferences.ts'
import { parseSelect } from '../../src/rest/parse/select.ts'

function request(qs: string, extra: Partial<RawRequest> = {}) {
  return parseApiRequest({ method: 'GET', path: '/users', params: [...new URLSearchParams(qs).entries()], headers: {}, schemas: ['public', 'personal'], ...extra })
}

describe('select', () => {
  it('reads columns, aliases, casts and JSON paths', () => {
    expect(parseSelect('id, name:full_name, n:amount::int, data->a->>b, arr->0, "a,b"')).toEqual([
      { kind: 'column', field: { name: 'id', jsonPath: [] }, alias: undefined, cast: undefined },
      { kind: 'column', field: { name: 'full_name', jsonPath: [] }, alias: 'name', cast: undefined },
      { kind: 'column', field: { name: 'amount', jsonPath: [] }, alias: 'n', cast: 'int' },
      { kind: 'column', field: { name: 'data', jsonPath: [{ arrow: '->', key: 'a', index: false }, { arrow: '->>', key: 'b', index: false }] }, alias: undefined, cast: undefined },
      { kind: 'column', field: { name: 'arr', jsonPath: [{ arrow: '->', key: '0', index: true }] }, alias: undefined, cast: undefined },
      { kind: 'column', field: { name: 'a,b', jsonPath: [] }, alias: undefined, cast: undefined },
    ])
  })

  it('reads embeds with hints, join types, spreads and empty selects', () => {
    const [embed, spread, empty] = parseSelect('author:users!fk_author!inner(id,posts(*)),...profile(bio),tags()')
    expect(embed).toMatchObject({ kind: 'embed', name: 'users', alias: 'author', hint: 'fk_author', join: 'inner', spread: false })
    expect((embed as { select: unknown[] }).select).toHaveLength(2)
    expect(spread).toMatchObject({ kind: 'embed', name: 'profile', spread: true })
    expect(empty).toMatchObject({ kind: 'embed', name: 'tags', select: [] })
  })

  it('reads aggregates', () => {
    expect(parseSelect('count(),amount.sum()::int')).toEqual([
      { kind: 'count', alias: undefined, cast: undefined },
      { kind: 'column', field: { name: 'amount', jsonPath: [] }, alias: undefined, cast: undefined, aggregate: 'sum', aggregateCast: 'int' },
    ])
  })

  it('fails with PGRST100 and the position', () => {
    const { status, body } = errorOf(() => parseSelect('id,posts(id'))
    expect(status).toBe(400)
    expect(body.code).toBe('PGRST100')
    expect(body.message).toBe('"failed to parse select parameter (id,posts(id)" (line 1, column 12)')
    expect(body.details).toBe('unexpected end of input expecting "," or ")"')
  })
})

describe('filters', () => {
  it('reads operators, negation, quantifiers and text search languages', () => {
    const field = { name: 'a', jsonPath: [] }
    expect(parseFilter(field, 'not.eq.5')).toMatchObject({ negated: true, op: 'eq', value: '5' })
    expect(parseFilter(field, 'like(any).{a*,b*}')).toMatchObject({ op: 'like', quantifier: 'any', value: '{a*,b*}' })
    expect(parseFilter(field, 'fts(english).cat & dog')).toMatchObject({ op: 'fts', language: 'english', value: 'cat & dog' })
    expect(parseFilter(field, 'in.(1,"a,b","c\\"d")').list).toEqual(['1', 'a,b', 'c"d'])
    expect(parseFilter(field, 'in.()').list).toEqual([])
    expect(parseFilter(field, 'is.NULL')).toMatchObject({ op: 'is', value: 'null' })
    expect(parseFilter(field, 'eq.')).toMatchObject({ value: '' })
    expect(parseFilter(field, 'eq.a.b.c')).toMatchObject({ value: 'a.b.c' })
  })

  it('refuses unknown operators, bad is values and quantifiers on other operators', () => {
    const field = { name: 'a', jsonPath: [] }
    for (const bad of ['foo.1', 'is.maybe', 'in.1,2', 'cs(any).{a}', 'eq(any).1', 'eq', 'not.']) {
      expect(errorOf(() => parseFilter(field, bad)).body.code, bad).toBe('PGRST100')
    }
  })

  it('splits keys into embed path and field', () => {
    expect(parseFilterKey('posts.comments.data->>x')).toEqual({ path: ['posts', 'comments'], field: { name: 'data', jsonPath: [{ arrow: '->>', key: 'x', index: false }] } })
    expect(parseFilterKey('"information.cpe"')).toEqual({ path: [], field: { name: 'information.cpe', jsonPath: [] } })
    expect(parseFilterKey('column whitespace')).toEqual({ path: [], field: { name: 'column whitespace', jsonPath: [] } })
  })

  it('reads nested logic trees', () => {
    const tree = parseLogicTree('or', false, '(a.eq.1,and(b.gt.2,not.or(c.is.null,d.in.(1,2))),e.cs.{x,y},f.eq."q,r")')
    expect(tree.children).toHaveLength(4)
    expect(tree.children[1]).toMatchObject({ kind: 'logic', op: 'and', children: [{ op: 'gt' }, { kind: 'logic', op: 'or', negated: true }] })
    expect(tree.children[2]).toMatchObject({ op: 'cs', value: '{x,y}' })
    expect(tree.children[3]).toMatchObject({ op: 'eq', value: 'q,r' })
    expect(errorOf(() => parseLogicTree('or', false, '(a.eq.1')).body.code).toBe('PGRST100')
    expect(errorOf(() => parseLogicTree('and', false, 'a.eq.1')).body.code).toBe('PGRST100')
  })
})

describe('order, preferences, media', () => {
  it('reads order terms', () => {
    expect(parseOrder('a.desc.nullslast,author(name).asc,data->>x')).toEqual([
      { field: { name: 'a', jsonPath: [] }, direction: 'desc', nulls: 'last' },
      { relation: 'author', field: { name: 'name', jsonPath: [] }, direction: 'asc' },
      { field: { name: 'data', jsonPath: [{ arrow: '->>', key: 'x', index: false }] } },
    ])
  })

  it('merges Prefer headers and keeps what it does not understand', () => {
    expect(parsePreferences(['count=exact, return=representation', 'tx=rollback,bogus=1, max-affected=5'])).toEqual({
      count: 'exact', return: 'representation', tx: 'rollback', maxAffected: 5, invalid: ['bogus=1'],
    })
  })

  it('negotiates the media type', () => {
    expect(negotiateMedia(undefined, 'relation')).toEqual({ kind: 'json' })
    expect(negotiateMedia('application/vnd.pgrst.object+json;nulls=stripped', 'relation')).toEqual({ kind: 'object', stripNulls: true })
    expect(negotiateMedia('text/html, text/csv;q=0.5', 'relation')).toEqual({ kind: 'csv' })
    expect(errorOf(() => negotiateMedia('application/xml', 'relation'))).toMatchObject({ status: 406, body: { code: 'PGRST107' } })
  })
})

describe('api request', () => {
  it('assigns reserved parameters to embed paths', () => {
    const r = request('select=*,posts(*)&posts.order=id.desc&posts.limit=2&posts.offset=1&limit=10&posts.or=(a.eq.1)&id=gte.5')
    expect(r.ranges).toEqual([{ path: ['posts'], limit: 2, offset: 1 }, { path: [], limit: 10 }])
    expect(r.order).toEqual([{ path: ['posts'], terms: [{ field: { name: 'id', jsonPath: [] }, direction: 'desc' }] }])
    expect(r.filters.map((f) => f.path)).toEqual([['posts'], []])
  })

  it('picks the schema from the profile headers', () => {
    expect(request('', { headers: { acceptProfile: 'personal' } }).schema).toBe('personal')
    expect(request('', { method: 'POST', headers: { contentProfile: 'personal', acceptProfile: 'nope' } }).schema).toBe('personal')
    expect(errorOf(() => request('', { headers: { acceptProfile: 'secret' } }))).toMatchObject({
      status: 406,
      body: { code: 'PGRST106', message: 'Invalid schema: secret', hint: 'Only the following schemas are exposed: public, personal' },
    })
  })

  it('refuses negative limits with 416 and bad paths with 404', () => {
    expect(errorOf(() => request('limit=-1'))).toMatchObject({ status: 416, body: { code: 'PGRST103', details: 'Limit should be greater than or equal to zero.' } })
    expect(errorOf(() => request('', { path: '/a/b/c' }))).toMatchObject({ status: 404, body: { code: 'PGRST125' } })
    expect(errorOf(() => request('', { method: 'TRACE' }))).toMatchObject({ status: 405, body: { code: 'PGRST117' } })
  })

  it('intersects a Range header with limit and offset', () => {
    expect(request('', { headers: { range: '0-9' } }).ranges).toEqual([{ path: [], limit: 10 }])
    expect(request('limit=5&offset=2', { headers: { range: '3-' } }).ranges).toEqual([{ path: [], limit: 4, offset: 3 }])
    expect(request('', { headers: { range: 'bogus' } }).ranges).toEqual([])
    expect(errorOf(() => request('', { headers: { range: '5-2' } })).status).toBe(416)
  })

  it('keeps RPC query parameters for the planner', () => {
    const r = request('a=1&b=eq.2&order=a', { path: '/rpc/f' })
    expect(r.target).toEqual({ kind: 'routine', name: 'f' })
    expect(r.rpcArgs).toEqual([['a', '1'], ['b', 'eq.2']])
  })
})
