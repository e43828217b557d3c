import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeEachDatabase } from '../support/databases.ts'
import { ALICE, BOB, startRest, type RestHarness } from './support.ts'

describeEachDatabase('REST reads', (ctx) => {
  let rest: RestHarness
  beforeAll(async () => {
    rest = await startRest(ctx())
  })
  afterAll(async () => {
    await rest?.app.close()
  })

  it('selects columns with a filter and an order', async () => {
    const { data, error, status } = await rest.anon.from('users').select('username,status').eq('status', 'OFFLINE')
    expect(error).toBeNull()
    expect(status).toBe(200)
    expect(data).toEqual([{ username: 'kiwicopple', status: 'OFFLINE' }])
  })

  it('formats values in PostgreSQL (ranges, tsvector)', async () => {
    const { data } = await rest.anon.from('users').select('username,age_range,catchphrase').eq('username', 'supabot').single()
    expect(data).toEqual({ username: 'supabot', age_range: '[1,2)', catchphrase: "'cat' 'fat'" })
  })

  it('embeds many-to-one, one-to-many, one-to-one and many-to-many', async () => {
    const m2o = await rest.anon.from('messages').select('id,user:users(username,status)').eq('id', 1).single()
    expect(m2o.data).toEqual({ id: 1, user: { username: 'supabot', status: 'ONLINE' } })
    const o2m = await rest.anon.from('channels').select('slug,messages(id)').order('id').order('id', { referencedTable: 'messages' })
    expect(o2m.data).toEqual([
      { slug: 'public', messages: [{ id: 1 }] },
      { slug: 'random', messages: [{ id: 2 }] },
      { slug: 'other', messages: [{ id: 3 }, { id: 4 }] },
    ])
    const o2o = await rest.anon.from('channels').select('id,channel_details(details)').order('id')
    expect(o2o.data).toEqual([
      { id: 1, channel_details: { details: 'Details for public channel' } },
      { id: 2, channel_details: { details: 'Details for random channel' } },
      { id: 3, channel_details: null },
    ])
    const m2m = await rest.anon.from('products').select('name,categories(name)').eq('id', 3).order('id', { referencedTable: 'categories' }).single()
    expect(m2m.data).toEqual({ name: 'Headphones', categories: [{ name: 'Electronics' }, { name: 'Audio' }] })
  })

  it('nests embeds and filters them by deep paths', async () => {
    const { data, error } = await rest.anon
      .from('channels')
      .select('slug, messages!inner(id, users(username, user_profiles(id)), ...users(status))')
      .eq('messages.users.username', 'supabot')
      .eq('messages.id', 1)
    expect(error).toBeNull()
    expect(data).toEqual([{ slug: 'public', messages: [{ id: 1, users: { username: 'supabot', user_profiles: [{ id: 1 }] }, status: 'ONLINE' }] }])
    const manySpread = await rest.anon.from('channels').select('slug, ...messages(message_ids:id)').eq('id', 3).single()
    expect(manySpread.data).toEqual({ slug: 'other', message_ids: [3, 4] })
  })

  it('answers an ambiguous embed with 300 PGRST201 and a hint', async () => {
    const { error, status } = await rest.anon.from('users').select('username,best_friends(id)')
    expect(status).toBe(300)
    expect(error?.code).toBe('PGRST201')
    expect(error?.message).toBe("Could not embed because more than one relationship was found for 'users' and 'best_friends'")
    expect(error?.hint).toContain("'best_friends!best_friends_first_user_fkey'")
    expect(Array.isArray(error?.details)).toBe(true)
    const hinted = await rest.anon.from('best_friends').select('id,first:users!best_friends_first_user_fkey(username),third:users!third_wheel(username)').order('id')
    expect(hinted.data).toEqual([
      { id: 1, first: { username: 'supabot' }, third: { username: 'awailas' } },
      { id: 2, first: { username: 'supabot' }, third: null },
    ])
  })

  it('answers an unknown relationship with PGRST200 and an unknown table with 404 PGRST205', async () => {
    const rel = await rest.anon.from('users').select('username,nope(*)')
    expect(rel.status).toBe(400)
    expect(rel.error).toMatchObject({ code: 'PGRST200', message: "Could not find a relationship between 'users' and 'nope' in the schema cache" })
    const table = await rest.anon.from('userz').select()
    expect(table.status).toBe(404)
    expect(table.error).toMatchObject({ code: 'PGRST205', message: "Could not find the table 'public.userz' in the schema cache", hint: "Perhaps you meant the table 'public.users'" })
  })

  it('answers unknown columns with PostgreSQL 42703 and status 400', async () => {
    const { error, status } = await rest.anon.from('users').select('username,nope')
    expect(status).toBe(400)
    expect(error).toMatchObject({ code: '42703', message: 'column users.nope does not exist' })
    const filter = await rest.anon.from('users').select('username').eq('nope', 1)
    expect(filter.error?.code).toBe('42703')
  })

  it('keeps only parents with matches under !inner, and filters embeds', async () => {
    const { data } = await rest.anon.from('channels').select('slug,messages!inner(id)').eq('messages.id', 2)
    expect(data).toEqual([{ slug: 'random', messages: [{ id: 2 }] }])
    const left = await rest.anon.from('channels').select('slug,messages(id)').eq('messages.id', 2).order('id')
    expect(left.data).toEqual([
      { slug: 'public', messages: [] },
      { slug: 'random', messages: [{ id: 2 }] },
      { slug: 'other', messages: [] },
    ])
  })

  it('ORs embed existence checks and filters inside embeds with or=', async () => {
    const either = await rest.anon.from('channels').select('id,channel_details(id),messages!inner(id)').or('channel_details.not.is.null,id.eq.3').order('id')
    expect(either.data?.map((r) => r.id)).toEqual([1, 2, 3])
    const embeddedOr = await rest.anon.from('channels').select('id,messages(id)').or('id.eq.3,id.eq.1', { referencedTable: 'messages' }).order('id').order('id', { referencedTable: 'messages' })
    expect(embeddedOr.data).toEqual([{ id: 1, messages: [{ id: 1 }] }, { id: 2, messages: [] }, { id: 3, messages: [{ id: 3 }] }])
    const nested = await rest.anon.from('users').select('username').or('and(status.eq.OFFLINE,username.eq.kiwicopple),not.or(username.neq.supabot,status.neq.ONLINE)').order('username')
    expect(nested.data).toEqual([{ username: 'kiwicopple' }, { username: 'supabot' }])
  })

  it('filters on embed existence with is.null and orders by a to-one column', async () => {
    const missing = await rest.anon.from('channels').select('id,channel_details()').is('channel_details', null)
    expect(missing.data).toEqual([{ id: 3 }])
    const ordered = await rest.anon.from('booking').select('id,hotel(name)').not('hotel', 'is', null).order('hotel(name)', { ascending: true, nullsFirst: false }).order('id')
    expect(ordered.data?.map((r) => r.id)).toEqual([5, 3, 1, 2, 6, 8])
  })

  it('supports every operator family', async () => {
    const names = async (q: PromiseLike<{ data: Array<{ username: string }> | null; error: unknown }>) => {
      const { data, error } = await q
      expect(error).toBeNull()
      return data!.map((r) => r.username).sort()
    }
    const users = () => rest.anon.from('users').select('username')
    expect(await names(users().in('username', ['supabot', 'awailas', 'a,b']))).toEqual(['awailas', 'supabot'])
    expect(await names(users().like('username', '%bot'))).toEqual(['supabot'])
    expect(await names(users().ilike('username', 'SUPA*'))).toEqual(['supabot'])
    expect(await names(users().likeAnyOf('username', ['supa%', 'kiwi%']))).toEqual(['kiwicopple', 'supabot'])
    expect(await names(users().neq('status', 'ONLINE'))).toEqual(['kiwicopple'])
    expect(await names(users().rangeAdjacent('age_range', '[2,25)'))).toEqual(['awailas', 'kiwicopple', 'supabot'])
    expect(await names(users().rangeLt('age_range', '[2,25)'))).toEqual(['supabot'])
    expect(await names(users().textSearch('catchphrase', "'fat' & 'cat'"))).toEqual(['supabot'])
    expect(await names(users().textSearch('catchphrase', 'fat', { type: 'plain', config: 'english' }))).toEqual(['dragarcia', 'supabot'])
    expect(await names(users().not('status', 'eq', 'ONLINE'))).toEqual(['kiwicopple'])
    expect(await names(users().or('username.eq.supabot,and(status.eq.OFFLINE,username.like.kiwi*)'))).toEqual(['kiwicopple', 'supabot'])
    expect(await names(users().is('data', null).eq('username', 'supabot'))).toEqual(['supabot'])
    expect(await names(users().regexMatch('username', '^sup'))).toEqual(['supabot'])
    expect(await names(users().eq('data->>foo', 'string value'))).toEqual(['jsonuser'])
    expect(await names(users().contains('data', { foo: 'string value' }))).toEqual(['jsonuser'])
    expect(await names(users().isDistinct('status', 'ONLINE'))).toEqual(['kiwicopple'])
    const arrays = await rest.anon.from('cornercase').select('id').contains('array_column', ['test']).overlaps('array_column', ['test', 'x'])
    expect(arrays.data).toEqual([{ id: 1 }])
    const quoted = await rest.anon.from('cornercase').select('id,"column whitespace"').eq('column whitespace', 'a b')
    expect(quoted.data).toEqual([{ id: 1, 'column whitespace': 'a b' }])
  })

  it('reads JSON paths and casts in select', async () => {
    const { data } = await rest.anon.from('users').select('username,foo:data->>foo,bar:data->fooRecord->bar,nested:data->fooRecord->bar->>nested,age_range::text').eq('username', 'jsonuser').single()
    expect(data).toEqual({ username: 'jsonuser', foo: 'string value', bar: { nested: 'value' }, nested: 'value', age_range: '[20,30)' })
    const bad = await rest.anon.from('users').select('username::evil_type')
    expect(bad.status).toBe(400)
  })

  it('counts, pages and answers 206 and 416', async () => {
    const { data, count, status } = await rest.anon.from('messages').select('id', { count: 'exact' }).order('id').range(0, 1)
    expect(data).toEqual([{ id: 1 }, { id: 2 }])
    expect(count).toBe(4)
    expect(status).toBe(206)
    const head = await rest.anon.from('messages').select('*', { count: 'exact', head: true })
    expect(head.count).toBe(4)
    expect(head.data).toBeNull()
    const planned = await rest.fetch('/messages?select=id', { headers: { Prefer: 'count=planned' } })
    expect(planned.status, await planned.clone().text()).toBeLessThan(300)
    expect(planned.headers.get('content-range')).toMatch(/^0-3\/\d+$/)
    const past = await rest.fetch('/messages?offset=10&limit=5', { headers: { Prefer: 'count=exact' } })
    expect(past.status).toBe(416)
    expect(await past.json()).toMatchObject({ code: 'PGRST103', message: 'Requested range not satisfiable' })
    const range = await rest.fetch('/messages?select=id&order=id&limit=2&offset=1')
    expect(range.headers.get('content-range')).toBe('1-2/*')
    const header = await rest.fetch('/messages?select=id&order=id', { headers: { Range: '1-2', Prefer: 'count=exact' } })
    expect(header.status).toBe(206)
    expect(header.headers.get('content-range')).toBe('1-2/4')
    expect(await header.json()).toEqual([{ id: 2 }, { id: 3 }])
  })

  it('answers .single() with 406 PGRST116 unless exactly one row', async () => {
    const many = await rest.anon.from('users').select().single()
    expect(many.status).toBe(406)
    expect(many.error).toMatchObject({ code: 'PGRST116', message: 'Cannot coerce the result to a single JSON object', details: 'The result contains 5 rows' })
    const none = await rest.anon.from('users').select().eq('username', 'nobody').single()
    expect(none.error?.details).toContain('0 rows')
    const maybe = await rest.anon.from('users').select().eq('username', 'nobody').maybeSingle()
    expect(maybe.data).toBeNull()
    expect(maybe.error).toBeNull()
  })

  it('serves CSV and strips nulls', async () => {
    const csv = await rest.anon.from('channels').select('id,slug').order('id').csv()
    expect(csv.data).toBe('id,slug\n1,public\n2,random\n3,other')
    // PostgREST's CSV: each value in its type's text form, quoted the way PostgreSQL quotes a record.
    const typed = await rest.anon.from('users').select('username,data,age_range,catchphrase').in('username', ['supabot', 'jsonuser']).order('username').csv()
    expect(typed.data).toBe(
      'username,data,age_range,catchphrase\n' +
        'jsonuser,"{""foo"": ""string value"", ""fooRecord"": {""bar"": {""nested"": ""value""}, ""baz"": ""string value""}}","[20,30)","\'json\' \'test\'"\n' +
        'supabot,,"[1,2)","\'cat\' \'fat\'"',
    )
    const embedded = await rest.anon.from('channels').select('id,channel_details(details)').eq('id', 1).csv()
    expect(embedded.data).toBe('id,channel_details\n1,"{""details"":""Details for public channel""}"')
    const stripped = await rest.anon.from('user_profiles').select('id,username').order('id').stripNulls()
    expect(stripped.data).toEqual([{ id: 1, username: 'supabot' }, { id: 2 }])
  })

  it('switches schema with Accept-Profile and refuses unexposed ones', async () => {
    const refused = await rest.anon.schema('personal').from('users').select('username')
    expect(refused.status).toBe(406)
    expect(refused.error).toMatchObject({ code: 'PGRST106', message: 'Invalid schema: personal' })
  })

  it('spreads a to-one embed into its parent', async () => {
    const { data } = await rest.anon.from('messages').select('id,...users(username,status)').eq('id', 1).single()
    expect(data).toEqual({ id: 1, username: 'supabot', status: 'ONLINE' })
  })

  it('rejects aggregates while they are disabled', async () => {
    const { error, status } = await rest.anon.from('messages').select('count()')
    expect(status).toBe(400)
    expect(error?.code).toBe('PGRST123')
  })

  it('lets row-level security decide: anon sees public rows, a user also their own, service_role all', async () => {
    const anon = await rest.anon.from('todos').select('task').order('id')
    expect(anon.data).toEqual([{ task: 'alice public' }])
    const alice = await (await rest.user(ALICE)).from('todos').select('task').order('id')
    expect(alice.data).toEqual([{ task: 'alice private' }, { task: 'alice public' }])
    const bob = await (await rest.user(BOB)).from('todos').select('task').order('id')
    expect(bob.data).toEqual([{ task: 'alice public' }, { task: 'bob private' }])
    const service = await rest.service.from('todos').select('task', { count: 'exact' })
    expect(service.count).toBe(3)
  })

  it('answers missing privileges with 401 for anon and 403 for a user', async () => {
    // No key at all stops at the gateway check (test/app/api-key-gate.test.ts has the anonymous mode).
    const anonymous = await fetch(`${rest.app.url}/rest/v1/secrets_table`)
    expect(anonymous.status).toBe(401)
    expect(await anonymous.json()).toMatchObject({ code: 'no_api_key' })
    // The anon key is a JWT, so PostgREST (behind Supabase's gateway) answers 403.
    const anon = await rest.anon.from('secrets_table').select()
    expect(anon.status).toBe(403)
    const user = await (await rest.user(ALICE)).from('secrets_table').select()
    expect(user.status).toBe(403)
    const service = await rest.service.from('secrets_table').select('value')
    expect(service.data).toEqual([{ value: 'only service_role' }])
  })

  it('gives PostgREST JWT errors and refuses unknown roles', async () => {
    const bad = await rest.fetch('/users', { headers: { Authorization: 'Bearer not.a.jwt' } })
    expect(bad.status).toBe(401)
    expect((await bad.json()).code).toBe('PGRST301')
    const expired = await rest.token({ role: 'authenticated', sub: ALICE, exp: Math.floor(Date.now() / 1000) - 100 })
    const exp = await rest.fetch('/users', { headers: { Authorization: `Bearer ${expired}` } })
    expect(exp.status).toBe(401)
    expect(await exp.json()).toMatchObject({ code: 'PGRST303', message: 'JWT expired' })
    const ghost = await rest.token({ role: 'ghost_role' })
    const ghostRes = await rest.fetch('/users', { headers: { Authorization: `Bearer ${ghost}` } })
    expect(ghostRes.status).toBe(401)
  })

  it('exposes the request to SQL: role, claims, method, path, headers and cookies, read-only for GET', async () => {
    const token = await rest.token({ sub: ALICE, role: 'authenticated' })
    const res = await rest.fetch('/rpc/request_context', { headers: { Authorization: `Bearer ${token}`, 'X-Custom': 'yes', Cookie: 'theme=dark; a=b' } })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ role: 'authenticated', sub: ALICE, claims_role: 'authenticated', method: 'GET', path: '/rpc/request_context', custom_header: 'yes', cookie: 'dark', read_only: 'on' })
    const anon = await rest.fetch('/rpc/request_context', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' })
    expect(await anon.json()).toMatchObject({ role: 'anon', sub: null, claims_role: 'anon', method: 'POST' })
  })

  it('parses bad query strings into 400 PGRST100', async () => {
    for (const qs of ['select=id,(', 'id=foo.1', 'order=id.sideways', 'or=(id.eq.1', 'limit=abc', 'id=in.1,2', 'status=is.maybe']) {
      const res = await rest.fetch(`/users?${qs}`)
      expect(res.status, qs).toBe(400)
      expect((await res.json()).code, qs).toBe('PGRST100')
    }
  })

  it('answers a plain OPTIONS with what the target allows (PostgREST), and a preflight with CORS', async () => {
    const table = await rest.fetch('/users', { method: 'OPTIONS' })
    expect(table.status).toBe(200)
    expect(table.headers.get('allow')).toBe('OPTIONS,GET,HEAD,POST,PUT,PATCH,DELETE')
    expect((await rest.fetch('/non_updatable_view', { method: 'OPTIONS' })).headers.get('allow')).toBe('OPTIONS,GET,HEAD')
    expect((await rest.fetch('/rpc/set_users_offline', { method: 'OPTIONS' })).headers.get('allow')).toBe('OPTIONS,POST')
    expect((await rest.fetch('/rpc/echo_bigint_as_text', { method: 'OPTIONS' })).headers.get('allow')).toBe('OPTIONS,GET,HEAD,POST')
    const missing = await rest.fetch('/no_such_table', { method: 'OPTIONS' })
    expect(missing.status).toBe(404)
    expect((await missing.json()).code).toBe('PGRST205')
    const preflight = await rest.fetch('/users', { method: 'OPTIONS', headers: { origin: 'http://example.test', 'access-control-request-method': 'PATCH' } })
    expect(preflight.status).toBe(204)
    expect(preflight.headers.get('allow')).toBeNull()
    expect(preflight.headers.get('access-control-allow-methods')).toContain('PATCH')
  })
})

describeEachDatabase('REST aggregates and computed fields', (ctx) => {
  let rest: RestHarness
  beforeAll(async () => {
    rest = await startRest(ctx(), { DB_AGGREGATES_ENABLED: 'true' })
  })
  afterAll(async () => {
    await rest?.app.close()
  })

  it('counts and sums with an implicit GROUP BY, also inside embeds', async () => {
    const total = await rest.anon.from('messages').select('count()').single()
    expect(total.data).toEqual({ count: 4 })
    const grouped = await rest.anon.from('messages').select('channel_id, n:count(), max_id:id.max()').order('channel_id')
    expect(grouped.data).toEqual([
      { channel_id: 1, n: 1, max_id: 1 },
      { channel_id: 2, n: 1, max_id: 2 },
      { channel_id: 3, n: 2, max_id: 4 },
    ])
    const summed = await rest.anon.from('products').select('price.sum()::int').single()
    expect(summed.data).toEqual({ sum: 1900 })
    const embedded = await rest.anon.from('channels').select('slug, messages(count())').order('id')
    expect(embedded.data).toEqual([
      { slug: 'public', messages: [{ count: 1 }] },
      { slug: 'random', messages: [{ count: 1 }] },
      { slug: 'other', messages: [{ count: 2 }] },
    ])
    // An aggregate in a to-one embed groups by that embed's other columns, spreads included.
    const toOne = await rest.anon.from('messages').select('id, channels(id.sum(), ...channel_details(details))').order('id')
    expect(toOne.error).toBeNull()
    expect(toOne.data).toEqual([
      { id: 1, channels: { sum: 1, details: 'Details for public channel' } },
      { id: 2, channels: { sum: 2, details: 'Details for random channel' } },
      { id: 3, channels: { sum: 3, details: null } },
      { id: 4, channels: { sum: 3, details: null } },
    ])
  })

  it('hoists an aggregate inside a to-one spread into the parent\'s grouping (PostgREST 13)', async () => {
    // postgrest-js relationships-spread-operations: "select with aggregate sum and spread on nested relation".
    const nested = await rest.anon.from('users').select('username, messages(channels(id.sum(), ...channel_details(details_sum:id.sum(), details)))').limit(1).single()
    expect(nested.error).toBeNull()
    expect(nested.data).toEqual({
      username: 'supabot',
      messages: [
        { channels: { sum: 1, details_sum: 1, details: 'Details for public channel' } },
        { channels: { sum: 2, details_sum: 2, details: 'Details for random channel' } },
        { channels: { sum: 3, details_sum: null, details: null } },
        { channels: { sum: 3, details_sum: null, details: null } },
      ],
    })
    // At the top level: the spread's aggregates group with the parent's other columns, casts and count() included.
    const top = await rest.anon.from('messages').select('channel_id, ...channels(top_id:id.max(), n:count(), slug)').order('channel_id')
    expect(top.error).toBeNull()
    expect(top.data).toEqual([
      { channel_id: 1, top_id: 1, n: 1, slug: 'public' },
      { channel_id: 2, top_id: 2, n: 1, slug: 'random' },
      { channel_id: 3, top_id: 3, n: 2, slug: 'other' },
    ])
    const cast = await rest.anon.from('messages').select('...channels(total:id.sum()::text)').single()
    expect(cast.data).toEqual({ total: '9' })
  })

  it('treats fn(row) functions as computed columns in select, filters and order', async () => {
    const { data, error } = await rest.anon.from('messages').select('id, blurb_message').eq('blurb_message', 'Som').order('id', { ascending: false })
    expect(error).toBeNull()
    expect(data).toEqual([{ id: 4, blurb_message: 'Som' }, { id: 3, blurb_message: 'Som' }])
  })
})

describeEachDatabase('REST settings: schemas and maximum rows', (ctx) => {
  let rest: RestHarness
  beforeAll(async () => {
    rest = await startRest(ctx(), { DB_SCHEMAS: 'public,personal', DB_MAX_ROWS: '2' })
  })
  afterAll(async () => {
    await rest?.app.close()
  })

  it('switches schema with Accept-Profile and Content-Profile', async () => {
    const res = await rest.anon.schema('personal').from('users').select('username').eq('username', 'leroyjenkins')
    expect(res.data).toEqual([{ username: 'leroyjenkins' }])
    const raw = await rest.fetch('/users?select=username&username=eq.leroyjenkins', { headers: { 'Accept-Profile': 'personal' } })
    expect(raw.headers.get('content-profile')).toBe('personal')
    const inserted = await rest.service.schema('personal').from('users').insert({ username: 'newbie' }).select('username').single()
    expect(inserted.data).toEqual({ username: 'newbie' })
    const publicSide = await rest.service.from('users').select('username').eq('username', 'newbie')
    expect(publicSide.data).toEqual([])
  })

  it('caps responses at DB_MAX_ROWS while the count still counts every row', async () => {
    const { data, count, status } = await rest.anon.from('messages').select('id', { count: 'exact' }).order('id')
    expect(data).toEqual([{ id: 1 }, { id: 2 }])
    expect(count).toBe(4)
    expect(status).toBe(206)
  })
})
