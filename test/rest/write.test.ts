import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeEachDatabase } from '../support/databases.ts'
import { ALICE, BOB, startRest, type RestHarness } from './support.ts'

describeEachDatabase('REST writes', (ctx) => {
  let rest: RestHarness
  beforeAll(async () => {
    rest = await startRest(ctx())
  })
  afterAll(async () => {
    await rest?.app.close()
  })

  it('inserts one row: 201 with an empty body, or the row with .select()', async () => {
    const minimal = await rest.service.from('channels').insert({ slug: 'minimal' })
    expect(minimal.status).toBe(201)
    expect(minimal.data).toBeNull()
    expect(minimal.error).toBeNull()
    const { data, status } = await rest.service.from('channels').insert({ slug: 'returned' }).select('slug').single()
    expect(status).toBe(201)
    expect(data).toEqual({ slug: 'returned' })
  })

  it('inserts arrays with the union of keys, all or nothing', async () => {
    const { data, error } = await rest.service.from('users').insert([{ username: 'bulk1', status: 'OFFLINE' }, { username: 'bulk2' }]).select('username,status')
    expect(error).toBeNull()
    // Missing keys become NULL (defaultToNull), as PostgREST does without missing=default.
    expect(data).toEqual([{ username: 'bulk1', status: 'OFFLINE' }, { username: 'bulk2', status: null }])
    const withDefaults = await rest.service.from('users').insert([{ username: 'bulk3', status: 'OFFLINE' }, { username: 'bulk4' }], { defaultToNull: false }).select('username,status')
    expect(withDefaults.data).toEqual([{ username: 'bulk3', status: 'OFFLINE' }, { username: 'bulk4', status: 'ONLINE' }])
    const failed = await rest.service.from('users').insert([{ username: 'atomic1' }, { username: 'supabot' }])
    expect(failed.status).toBe(409)
    expect(failed.error?.code).toBe('23505')
    const after = await rest.service.from('users').select('username').eq('username', 'atomic1')
    expect(after.data).toEqual([])
  })

  it('upserts: merge updates and answers 200 when nothing was inserted, ignore keeps the old row', async () => {
    const merged = await rest.service.from('channels').upsert({ id: 1, slug: 'public-renamed' }).select('id,slug')
    expect(merged.status).toBe(200)
    expect(merged.data).toEqual([{ id: 1, slug: 'public-renamed' }])
    const inserted = await rest.service.from('channels').upsert({ id: 100, slug: 'hundred' }).select('id')
    expect(inserted.status).toBe(201)
    const ignored = await rest.service.from('channels').upsert({ id: 100, slug: 'ignored' }, { ignoreDuplicates: true }).select('id')
    expect(ignored.data).toEqual([])
    const check = await rest.service.from('channels').select('slug').eq('id', 100).single()
    expect(check.data).toEqual({ slug: 'hundred' })
    const byColumn = await rest.service.from('users').upsert({ username: 'supabot', status: 'OFFLINE' }, { onConflict: 'username' }).select('status').single()
    expect(byColumn.data).toEqual({ status: 'OFFLINE' })
  })

  it('updates and deletes with filters, counting and returning rows', async () => {
    const updated = await rest.service.from('channels').update({ data: { a: 1 } }, { count: 'exact' }).in('id', [2, 3]).select('id,data').order('id')
    expect(updated.status).toBe(200)
    expect(updated.count).toBe(2)
    expect(updated.data).toEqual([{ id: 2, data: { a: 1 } }, { id: 3, data: { a: 1 } }])
    const plain = await rest.service.from('channels').update({ slug: 'x' }).eq('id', 100)
    expect(plain.status).toBe(204)
    await rest.service.from('channels').insert({ id: 200, slug: 'doomed' })
    const deleted = await rest.service.from('channels').delete().eq('id', 200).select('slug')
    expect(deleted.data).toEqual([{ slug: 'doomed' }])
    const gone = await rest.service.from('channels').delete({ count: 'exact' }).eq('id', 200)
    expect(gone.status).toBe(204)
    expect(gone.count).toBe(0)
  })

  it('treats PATCH with an empty object as a no-op', async () => {
    const { status, data, error } = await rest.service.from('hotel').update({}).eq('id', 2).select()
    expect(error).toBeNull()
    expect(status).toBe(200)
    expect(data).toEqual([])
  })

  it('refuses PATCH and DELETE without a filter (safeupdate)', async () => {
    const del = await rest.service.from('hotel').delete()
    expect(del.status).toBe(400)
    expect(del.error).toMatchObject({ code: '21000', message: 'DELETE requires a WHERE clause' })
    const upd = await rest.service.from('hotel').update({ name: 'all' })
    expect(upd.error).toMatchObject({ code: '21000', message: 'UPDATE requires a WHERE clause' })
  })

  it('rolls back a mutation that .single() cannot coerce', async () => {
    const { error, status } = await rest.service.from('booking').update({ hotel_id: 2 }).eq('hotel_id', 1).select().single()
    expect(status).toBe(406)
    expect(error).toMatchObject({ code: 'PGRST116', details: 'The result contains 3 rows' })
    const unchanged = await rest.service.from('booking').select('id', { count: 'exact', head: true }).eq('hotel_id', 1)
    expect(unchanged.count).toBe(3)
  })

  it('honours Prefer: tx=rollback and max-affected under handling=strict', async () => {
    const res = await rest.fetch('/hotel?id=eq.1', { method: 'PATCH', headers: { Authorization: `Bearer ${rest.app.serviceRoleKey}`, 'Content-Type': 'application/json', Prefer: 'tx=rollback, return=representation' }, body: JSON.stringify({ name: 'rolled back' }) })
    expect(res.status).toBe(200)
    expect(res.headers.get('preference-applied')).toContain('tx=rollback')
    expect(await res.json()).toEqual([{ id: 1, name: 'rolled back' }])
    const still = await rest.service.from('hotel').select('name').eq('id', 1).single()
    expect(still.data).toEqual({ name: 'Sunset Resort' })
    // postgrest-js types maxAffected() for PostgREST 13+ clients only; the wire format is what matters here.
    const filtered = rest.service.from('booking').update({ hotel_id: 3 }).eq('hotel_id', 1) as unknown as { maxAffected(n: number): PromiseLike<{ status: number; error: unknown }> }
    const limited = await filtered.maxAffected(1)
    expect(limited.status).toBe(400)
    expect(limited.error).toMatchObject({ code: 'PGRST124', details: 'The query affects 3 rows' })
  })

  it('answers return=headers-only with a Location and reads CSV bodies', async () => {
    const res = await rest.fetch('/hotel', { method: 'POST', headers: { Authorization: `Bearer ${rest.app.serviceRoleKey}`, 'Content-Type': 'application/json', Prefer: 'return=headers-only' }, body: JSON.stringify({ id: 50, name: 'Located' }) })
    expect(res.status).toBe(201)
    expect(res.headers.get('location')).toBe('/hotel?id=eq.50')
    const csv = await rest.fetch('/hotel', { method: 'POST', headers: { Authorization: `Bearer ${rest.app.serviceRoleKey}`, 'Content-Type': 'text/csv', Prefer: 'return=representation' }, body: 'id,name\n51,"Comma, Inn"\n52,' })
    expect(csv.status).toBe(201)
    expect(await csv.json()).toEqual([{ id: 51, name: 'Comma, Inn' }, { id: 52, name: null }])
  })

  it('maps constraint errors: unknown column 400 PGRST204, not-null 400, foreign key 409', async () => {
    const unknown = await rest.service.from('hotel').insert({ nope: 1 })
    expect(unknown.status).toBe(400)
    expect(unknown.error).toMatchObject({ code: 'PGRST204', message: "Could not find the 'nope' column of 'hotel' in the schema cache" })
    const notNull = await rest.service.from('products').insert({ name: 'no price' })
    expect(notNull.status).toBe(400)
    expect(notNull.error?.code).toBe('23502')
    const fk = await rest.service.from('booking').insert({ id: 999, hotel_id: 9999 })
    expect(fk.status).toBe(409)
    expect(fk.error?.code).toBe('23503')
    const wrongType = await rest.service.from('hotel').insert({ id: 'not a number' })
    expect(wrongType.status).toBe(400)
    expect(wrongType.error?.code).toBe('22P02')
  })

  it('writes through auto-updatable views and refuses others with PostgreSQL\'s error', async () => {
    const ok = await rest.service.from('updatable_view').insert({ username: 'via_view' }).select('username')
    expect(ok.status).toBe(201)
    expect(ok.data).toEqual([{ username: 'via_view' }])
    // PostgREST answers 500 here; we answer 405 (the relation does not allow it), and keep the code.
    const refused = await rest.service.from('non_updatable_view').insert({ username: 'nope' })
    expect(refused.status).toBe(405)
    expect(refused.error?.code).toBe('55000')
    expect(refused.error?.message).toContain('cannot insert into view "non_updatable_view"')
  })

  it('refuses unknown preferences under handling=strict with PGRST122', async () => {
    const res = await rest.fetch('/hotel?id=eq.1', { headers: { Prefer: 'handling=strict, count=exact, bogus=1' } })
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ code: 'PGRST122', message: 'Invalid preferences given with handling=strict', details: 'Invalid preferences: bogus=1' })
  })

  it('rejects hostile bodies with 4xx', async () => {
    const headers = { Authorization: `Bearer ${rest.app.serviceRoleKey}`, 'Content-Type': 'application/json' }
    const bad = await rest.fetch('/hotel', { method: 'POST', headers, body: '{"id": 1,' })
    expect(bad.status).toBe(400)
    expect((await bad.json()).code).toBe('PGRST102')
    const scalar = await rest.fetch('/hotel', { method: 'POST', headers, body: '42' })
    expect(scalar.status).toBe(400)
    const mixed = await rest.fetch('/hotel', { method: 'POST', headers, body: '[{"id": 60}, {"name": "x"}]' })
    expect(mixed.status).toBe(400)
    const more = await rest.fetch('/hotel', { method: 'POST', headers, body: '[{"id": 60}, {"id": 61, "name": "x"}]' })
    expect(more.status).toBe(400)
    const fewer = await rest.fetch('/hotel', { method: 'POST', headers, body: '[{"id": 60, "name": "x"}, {"id": 61}]' })
    expect(fewer.status).toBe(400)
    const reordered = await rest.fetch('/hotel', { method: 'POST', headers, body: '[{"id": 9062, "name": "a"}, {"name": "b", "id": 9063}]' })
    expect(reordered.status).toBe(201)
    expect((await rest.fetch('/hotel?id=in.(9062,9063)', { method: 'DELETE', headers })).status).toBe(204)
    const deep = await rest.fetch('/channels', { method: 'POST', headers, body: JSON.stringify({ slug: 'deep', data: JSON.parse('['.repeat(2000) + ']'.repeat(2000)) }) })
    expect(deep.status).toBeLessThan(500)
    const many = await rest.fetch('/hotel', { method: 'POST', headers, body: JSON.stringify(Array.from({ length: 5000 }, (_, i) => ({ id: 10_000 + i, name: `h${i}` }))) })
    expect(many.status).toBe(201)
  })

  it('enforces RLS on writes: WITH CHECK refusals are 403, other users rows are untouched', async () => {
    const alice = await rest.user(ALICE)
    const own = await alice.from('todos').insert({ task: 'alice new' }).select('task,user_id').single()
    expect(own.data).toEqual({ task: 'alice new', user_id: ALICE })
    const forged = await alice.from('todos').insert({ task: 'as bob', user_id: BOB })
    expect(forged.status).toBe(403)
    expect(forged.error?.code).toBe('42501')
    const anon = await rest.anon.from('todos').insert({ task: 'anon', user_id: ALICE })
    expect(anon.error?.code).toBe('42501')
    const stolen = await alice.from('todos').update({ task: 'hacked' }).eq('task', 'bob private').select()
    expect(stolen.data).toEqual([])
    const removed = await alice.from('todos').delete().eq('task', 'bob private').select()
    expect(removed.data).toEqual([])
    const bobs = await rest.service.from('todos').select('task').eq('user_id', BOB)
    expect(bobs.data).toEqual([{ task: 'bob private' }])
    const badCheck = await alice.from('todos').insert({ task: '' })
    expect(badCheck.status).toBe(400)
    expect(badCheck.error?.code).toBe('23514')
  })
})

describeEachDatabase('REST functions', (ctx) => {
  let rest: RestHarness
  beforeAll(async () => {
    rest = await startRest(ctx())
  })
  afterAll(async () => {
    await rest?.app.close()
  })

  it('calls scalar functions by POST and GET', async () => {
    expect((await rest.anon.rpc('get_status', { name_param: 'supabot' })).data).toBe('ONLINE')
    expect((await rest.anon.rpc('get_status', { name_param: 'kiwicopple' }, { get: true })).data).toBe('OFFLINE')
    expect((await rest.anon.rpc('echo_bigint_as_text', { bigint_param: 9007199254740993n.toString() })).data).toBe('9007199254740993')
    expect((await rest.anon.rpc('function_with_optional_param')).data).toBe('')
    expect((await rest.anon.rpc('sum_json', { a: 1, b: 2 })).data).toBe(3)
  })

  it('returns rows of set-returning functions with filters, order and select', async () => {
    const { data, error } = await rest.anon.rpc('get_messages_by_username', { search_username: 'supabot' }).select('id,channel_id').gt('id', 1).order('id', { ascending: false }).limit(2)
    expect(error).toBeNull()
    expect(data).toEqual([{ id: 4, channel_id: 3 }, { id: 3, channel_id: 3 }])
    const table = await rest.anon.rpc('get_username_and_status', { name_param: 'supabot' })
    expect(table.data).toEqual([{ username: 'supabot', status: 'ONLINE' }])
    const embedded = await rest.anon.rpc('get_messages_by_username', { search_username: 'supabot' }).select('id,channels(slug)').eq('id', 1).single()
    expect(embedded.error).toBeNull()
    expect(embedded.data).toEqual({ id: 1, channels: { slug: 'public' } })
  })

  it('returns a composite as an object, a set of scalars as an array, and counts set results', async () => {
    const row = await rest.anon.rpc('function_returning_row').select('username')
    expect(row.data).toEqual({ username: 'awailas' })
    const hidden = await rest.anon.rpc('hidden_rows')
    expect(hidden.error).toBeNull()
    expect((hidden.data as Array<{ username: string }>).map((r) => r.username)).toEqual(['awailas', 'dragarcia'])
    const numbers = await rest.anon.rpc('numbers', { n: 3 })
    expect(numbers.data).toEqual([1, 2, 3])
    const counted = await rest.anon.rpc('get_messages_by_username', { search_username: 'supabot' }, { count: 'exact', head: true })
    expect(counted.count).toBe(4)
    const viaGet = await rest.fetch('/rpc/get_messages_by_username?search_username=supabot&select=id&id=gt.2&order=id')
    expect(await viaGet.json()).toEqual([{ id: 3 }, { id: 4 }])
  })

  it('answers void with 204 and runs stable functions read-only', async () => {
    const v = await rest.anon.rpc('void_func')
    expect(v.status).toBe(204)
    expect(v.data).toBeNull()
    const viaGet = await rest.fetch('/rpc/offline_user?name_param=supabot')
    expect(viaGet.status).toBe(405)
    expect((await viaGet.json()).code).toBe('25006')
    const rolledBack = await rest.fetch('/rpc/offline_user', { method: 'POST', headers: { Authorization: `Bearer ${rest.app.serviceRoleKey}`, 'Content-Type': 'application/json', Prefer: 'tx=rollback' }, body: '{"name_param":"dragarcia"}' })
    expect(await rolledBack.json()).toBe('OFFLINE')
    expect((await rest.service.from('users').select('status').eq('username', 'dragarcia').single()).data).toEqual({ status: 'ONLINE' })
    const viaPost = await rest.service.rpc('offline_user', { name_param: 'awailas' })
    expect(viaPost.data).toBe('OFFLINE')
  })

  it('gives PGRST202 for unknown functions and PGRST203 for ambiguous overloads', async () => {
    const missing = await rest.anon.rpc('get_statuz', { name_param: 'x' })
    expect(missing.status).toBe(404)
    expect(missing.error).toMatchObject({
      code: 'PGRST202',
      message: 'Could not find the function public.get_statuz(name_param) in the schema cache',
      hint: 'Perhaps you meant to call the function public.get_status',
    })
    const ambiguous = await rest.anon.rpc('postgrest_unresolvable_function', { a: 'x' })
    expect(ambiguous.status).toBe(300)
    expect(ambiguous.error?.code).toBe('PGRST203')
    const resolved = await rest.anon.rpc('postgrest_resolvable_with_override_function', { b: 1 })
    expect(resolved.data).toBe('foo')
  })

  it('serves the OpenAPI document at the root', async () => {
    const res = await rest.fetch('/', { headers: { Accept: 'application/openapi+json' } })
    expect(res.status).toBe(200)
    const doc = await res.json()
    expect(doc.swagger).toBe('2.0')
    expect(doc.definitions.users.properties.username).toMatchObject({ type: 'string', format: 'text' })
    expect(doc.definitions.users.properties.status.enum).toEqual(['ONLINE', 'OFFLINE'])
    expect(doc.paths['/rpc/get_status']).toBeDefined()
    // follow-privileges: anon does not learn about tables it cannot use; service_role does.
    expect(doc.paths['/secrets_table']).toBeUndefined()
    const service = await (await rest.fetch('/', { headers: { Authorization: `Bearer ${rest.app.serviceRoleKey}` } })).json()
    expect(service.paths['/secrets_table']).toBeDefined()
  })
})

describeEachDatabase('REST schema cache reload', (ctx) => {
  let rest: RestHarness
  beforeAll(async () => {
    rest = await startRest(ctx())
  })
  afterAll(async () => {
    await rest?.app.close()
  })

  it('sees new tables after a reload: NOTIFY pgrst on PostgreSQL, reloadSchemaCache() anywhere', async () => {
    const before = await rest.anon.from('late_table').select()
    expect(before.error?.code).toBe('PGRST205')
    const database = ctx().database
    await database.exec(`CREATE TABLE public.late_table (id int primary key); GRANT SELECT ON public.late_table TO anon; INSERT INTO public.late_table VALUES (7); NOTIFY pgrst, 'reload schema';`)
    if (database.kind === 'pg') {
      // The listener reloads on its own.
      let data: unknown = null
      for (let i = 0; i < 50 && !Array.isArray(data); i++) {
        await new Promise((r) => setTimeout(r, 100))
        data = (await rest.anon.from('late_table').select('id')).data
      }
      expect(data).toEqual([{ id: 7 }])
    } else {
      const { reloadSchemaCache } = await import('../../src/rest/schema-cache/index.ts')
      await reloadSchemaCache(database)
      expect((await rest.anon.from('late_table').select('id')).data).toEqual([{ id: 7 }])
    }
  })

  it('refuses embedded-resource filters on PATCH with a 400, not a 500', async () => {
    const res = await rest.fetch('/channels?select=*,messages(*)&messages=is.null', { method: 'PATCH', headers: { Authorization: `Bearer ${rest.app.serviceRoleKey}`, 'Content-Type': 'application/json' }, body: '{"slug":"x"}' })
    expect(res.status).toBe(400)
  })
})
