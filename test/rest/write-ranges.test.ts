// `Content-Range` on writes, as PostgREST answers it (rest-api.md §2.7): POST and DELETE
// "star/n", PATCH "0-(n-1)/n", with a star for the total unless `Prefer: count=exact` was sent.
import { afterAll, beforeAll, expect, it } from 'vitest'
import { reloadSchemaCache } from '../../src/rest/schema-cache/index.ts'
import { describeEachDatabase } from '../support/databases.ts'
import { startRest, type RestHarness } from './support.ts'

describeEachDatabase('REST: Content-Range on writes', (ctx) => {
  let rest: RestHarness
  beforeAll(async () => {
    rest = await startRest(ctx())
    await ctx().database.exec(`CREATE TABLE public.ranged (id int PRIMARY KEY, n int NOT NULL DEFAULT 0);
      GRANT ALL ON public.ranged TO anon, authenticated, service_role;`)
    await reloadSchemaCache(ctx().database)
  })
  afterAll(async () => {
    await rest?.app.close()
  })

  const write = async (method: string, path: string, options: { count?: boolean; body?: unknown } = {}) => {
    const response = await rest.fetch(path, {
      method,
      headers: { Authorization: `Bearer ${rest.app.serviceRoleKey}`, 'Content-Type': 'application/json', ...(options.count ? { Prefer: 'count=exact' } : {}) },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    })
    expect(response.status, await response.clone().text()).toBeLessThan(300)
    return response.headers.get('content-range')
  }
  const rows = (from: number) => [0, 1, 2].map((i) => ({ id: from + i }))

  it('POST: */* without a count, */n with one', async () => {
    expect(await write('POST', '/ranged', { body: rows(0) })).toBe('*/*')
    expect(await write('POST', '/ranged', { body: rows(10), count: true })).toBe('*/3')
  })

  it('PATCH: 0-2/* without a count, 0-2/3 with one, */0 when nothing matched', async () => {
    expect(await write('PATCH', '/ranged?id=lt.10', { body: { n: 1 } })).toBe('0-2/*')
    expect(await write('PATCH', '/ranged?id=gte.10', { body: { n: 2 }, count: true })).toBe('0-2/3')
    expect(await write('PATCH', '/ranged?id=eq.99', { body: { n: 3 }, count: true })).toBe('*/0')
    expect(await write('PATCH', '/ranged?id=eq.99', { body: { n: 3 } })).toBe('*/*')
  })

  it('DELETE: */* without a count, */n with one', async () => {
    expect(await write('DELETE', '/ranged?id=lt.10')).toBe('*/*')
    expect(await write('DELETE', '/ranged?id=gte.10', { count: true })).toBe('*/3')
    expect(await write('DELETE', '/ranged?id=gte.0', { count: true })).toBe('*/0')
  })
})
