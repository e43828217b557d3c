/**
 * Computed relationships (PostgREST's embedding functions): `fn(row_of_a) RETURNS SETOF b` embeds
 * as to-many, `RETURNS b` or `SETOF b ROWS 1` as to-one; views work as input and output, with
 * column selection, sub-embeds, computed fields inside and `!inner`. Functions without a row
 * parameter, or returning no exposed relation, are no relationship (PGRST200).
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeEachDatabase } from '../support/databases.ts'
import { startRestWith, type RestHarness } from './support.ts'

const FUNCTIONS = `
create function cr_messages(channels) returns setof messages language sql stable as 'select * from messages where channel_id = $1.id';
create function cr_messages(users) returns setof messages language sql stable as 'select * from messages where username = $1.username';
create function cr_profile(users) returns user_profiles language sql stable as 'select * from user_profiles where username = $1.username limit 1';
create function cr_profile_one(users) returns setof user_profiles language sql stable rows 1 as 'select * from user_profiles where username = $1.username';
create function cr_recent(active_users) returns setof recent_messages language sql stable as 'select * from recent_messages where username = $1.username';
create function cr_first_word(messages) returns text language sql stable as $$ select split_part($1.message, ' ', 1) $$;
create function cr_no_row() returns setof messages language sql stable as 'select * from messages';
grant execute on all functions in schema public to anon;
`

describeEachDatabase('computed relationships', (ctx) => {
  let rest: RestHarness

  beforeAll(async () => {
    rest = await startRestWith(ctx(), FUNCTIONS)
  })
  afterAll(async () => {
    await rest?.app.close()
  })

  it('embeds a SETOF function as to-many, by its name, with columns and sub-embeds', async () => {
    const { data, error } = await rest.anon.from('channels').select('id, msgs:cr_messages(id, channels(slug))').order('id').order('id', { referencedTable: 'cr_messages' })
    expect(error).toBeNull()
    expect(data).toEqual([
      { id: 1, msgs: [{ id: 1, channels: { slug: 'public' } }] },
      { id: 2, msgs: [{ id: 2, channels: { slug: 'random' } }] },
      { id: 3, msgs: [{ id: 3, channels: { slug: 'other' } }, { id: 4, channels: { slug: 'other' } }] },
    ])
    // The same name over another row type is another relationship.
    const byUser = await rest.anon.from('users').select('username, cr_messages(id)').eq('username', 'supabot')
    expect(byUser.data).toEqual([{ username: 'supabot', cr_messages: [{ id: 1 }, { id: 2 }, { id: 3 }, { id: 4 }] }])
  })

  it('embeds a row-returning function, and SETOF … ROWS 1, as to-one', async () => {
    const { data } = await rest.anon.from('users').select('username, cr_profile(id), one:cr_profile_one(id)').in('username', ['supabot', 'kiwicopple']).order('username')
    expect(data).toEqual([
      // A function returning one composite gives a row of nulls when it finds nothing (PostgreSQL's answer).
      { username: 'kiwicopple', cr_profile: { id: null }, one: null },
      { username: 'supabot', cr_profile: { id: 1 }, one: { id: 1 } },
    ])
    const inner = await rest.anon.from('users').select('username, cr_profile_one!inner(id)')
    expect(inner.data).toEqual([{ username: 'supabot', cr_profile_one: { id: 1 } }])
  })

  it('takes views as input and output, with computed fields inside', async () => {
    const { data, error } = await rest.anon.from('active_users').select('username, cr_recent(id)').eq('username', 'supabot').order('id', { referencedTable: 'cr_recent' }).limit(2, { referencedTable: 'cr_recent' })
    expect(error).toBeNull()
    expect(data).toEqual([{ username: 'supabot', cr_recent: [{ id: 1 }, { id: 2 }] }])
    const inside = await rest.anon.from('users').select('username, cr_messages(id, cr_first_word)').eq('username', 'supabot').order('id', { referencedTable: 'cr_messages' }).limit(2, { referencedTable: 'cr_messages' })
    expect(inside.data).toEqual([{ username: 'supabot', cr_messages: [{ id: 1, cr_first_word: 'Hello' }, { id: 2, cr_first_word: 'Perfection' }] }])
  })

  it('filters on an embedded function and on its columns', async () => {
    const { data } = await rest.anon.from('channels').select('id, cr_messages!inner(id)').eq('cr_messages.id', 4)
    expect(data).toEqual([{ id: 3, cr_messages: [{ id: 4 }] }])
  })

  it('answers PGRST200 for functions that are no relationship', async () => {
    const res = await rest.anon.from('channels').select('id, cr_no_row(*)')
    expect(res.status).toBe(400)
    expect(res.error).toMatchObject({
      code: 'PGRST200',
      message: "Could not find a relationship between 'channels' and 'cr_no_row' in the schema cache",
    })
  })
})
