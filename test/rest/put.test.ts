/**
 * `PUT /t?pk=eq.v`: PostgREST's upsert of one row. Filters must be exactly the primary key with
 * `eq` (PGRST105), no limit/offset (PGRST114), and the payload's key must match the URL's
 * (PGRST115, nothing written). Row-level security applies as for any insert/update.
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeEachDatabase } from '../support/databases.ts'
import { ALICE, BOB, startRest, type RestHarness } from './support.ts'

describeEachDatabase('PUT upsert of one row', (ctx) => {
  let rest: RestHarness
  const put = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    rest.fetch(path, { method: 'PUT', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
  const row = async (id: number) => (await ctx().database.query('SELECT id, "column whitespace" AS ws, array_column FROM public.cornercase WHERE id = $1', [id])).rows[0]

  beforeAll(async () => {
    rest = await startRest(ctx())
  })
  afterAll(async () => {
    await rest?.app.close()
  })

  it('inserts a new row, then replaces it (204, or 200 with the row)', async () => {
    const created = await put('/cornercase?id=eq.10', { id: 10, 'column whitespace': 'new', array_column: ['x'] })
    expect(created.status).toBe(204)
    expect(await row(10)).toEqual({ id: 10, ws: 'new', array_column: ['x'] })
    const replaced = await put('/cornercase?id=eq.10', { id: 10, 'column whitespace': 'again', array_column: null }, { prefer: 'return=representation' })
    expect(replaced.status).toBe(200)
    expect(await replaced.json()).toEqual([{ id: 10, 'column whitespace': 'again', array_column: null }])
    expect(await row(10)).toEqual({ id: 10, ws: 'again', array_column: null })
  })

  it('takes a composite key and a one-element array, with select and a single object', async () => {
    const response = await put('/product_categories?product_id=eq.2&category_id=eq.3&select=category_id', [{ product_id: 2, category_id: 3 }], {
      prefer: 'return=representation',
      accept: 'application/vnd.pgrst.object+json',
    })
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ category_id: 3 })
  })

  it('refuses filters that are not exactly the primary key with eq (PGRST105)', async () => {
    for (const path of ['/cornercase', '/cornercase?id=gt.1', '/cornercase?id=eq.1&array_column=is.null', '/cornercase?id=not.eq.1', '/cornercase?or=(id.eq.1)', '/product_categories?product_id=eq.1', '/cornercase?id=eq.1&id=eq.1']) {
      const response = await put(path, { id: 1 })
      expect(response.status, path).toBe(405)
      expect(await response.json()).toMatchObject({ code: 'PGRST105', message: "Filters must include all and only primary key columns with 'eq' operators" })
    }
    // A table without a primary key has nothing PUT can address.
    expect((await put('/todos_without_pk?id=eq.1', { id: 1 })).status).toBe(404)
  })

  it('refuses limit/offset (PGRST114) and bodies that are not one object (PGRST102)', async () => {
    const limited = await put('/cornercase?id=eq.1&limit=1', { id: 1 })
    expect(limited.status).toBe(400)
    expect((await limited.json()).code).toBe('PGRST114')
    for (const body of [[{ id: 1 }, { id: 1 }], 'text', null]) {
      const response = await put('/cornercase?id=eq.1', body)
      expect(response.status).toBe(400)
      expect((await response.json()).code).toBe('PGRST102')
    }
    const unknown = await put('/cornercase?id=eq.1', { id: 1, nope: 2 })
    expect((await unknown.json()).code).toBe('PGRST204')
  })

  it('writes nothing when the payload key differs from the URL (PGRST115)', async () => {
    const before = await row(1)
    for (const body of [{ id: 2, 'column whitespace': 'hijack' }, { 'column whitespace': 'no key' }]) {
      const response = await put('/cornercase?id=eq.1', body)
      expect(response.status).toBe(400)
      expect(await response.json()).toMatchObject({ code: 'PGRST115', message: 'Payload values do not match URL in primary key column(s)' })
    }
    expect(await row(1)).toEqual(before)
    // With Prefer: missing=default the key is still taken from the payload.
    const defaulted = await put('/cornercase?id=eq.1', { id: 3 }, { prefer: 'missing=default' })
    expect((await defaulted.json()).code).toBe('PGRST115')
    const kept = await put('/cornercase?id=eq.11', { id: 11 }, { prefer: 'missing=default,return=representation' })
    expect(await kept.json()).toEqual([{ id: 11, 'column whitespace': null, array_column: null }])
    expect(await row(2)).toMatchObject({ ws: null })
  })

  it('keeps row-level security: a user cannot take over another user\'s row', async () => {
    const alice = await rest.token({ sub: ALICE, role: 'authenticated' })
    const headers = { authorization: `Bearer ${alice}` }
    const own = await put('/todos?id=eq.100', { id: 100, user_id: ALICE, task: 'put by alice', is_public: false }, headers)
    expect(own.status).toBe(204)
    const bobs = await ctx().database.query<{ id: string }>('SELECT id FROM public.todos WHERE user_id = $1', [BOB])
    const id = Number(bobs.rows[0]!.id)
    const takeover = await put(`/todos?id=eq.${id}`, { id, user_id: ALICE, task: 'mine now', is_public: true }, headers)
    expect(takeover.status).toBe(403)
    expect((await takeover.json()).code).toBe('42501')
    expect((await ctx().database.query('SELECT task FROM public.todos WHERE id = $1', [id])).rows[0]).toEqual({ task: 'bob private' })
  })
})
