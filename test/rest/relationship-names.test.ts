/**
 * How embeds find their relationship by name, as PostgREST does: a self-reference by the table's
 * name is its to-many side (the children, hinted by the FK column), the parent goes by the FK
 * column (`parent_id(*)`); a foreign key's name stands for its table; a function of one row
 * returning one row answers null (200) when filters leave nothing.
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { reloadSchemaCache } from '../../src/rest/schema-cache/index.ts'
import { describeEachDatabase } from '../support/databases.ts'
import { startRest, type RestHarness } from './support.ts'

describeEachDatabase('relationships by name', (ctx) => {
  let rest: RestHarness
  beforeAll(async () => {
    rest = await startRest(ctx())
  })
  afterAll(async () => {
    await rest?.app.close()
  })

  it('embeds a self-reference by table name as the children, and the parent by column', async () => {
    const children = await rest.anon.from('collections').select('id, collections(id)').eq('id', 1).single()
    expect(children.data).toEqual({ id: 1, collections: [{ id: 2 }, { id: 3 }] })
    const hinted = await rest.anon.from('collections').select('id, kids:collections!parent_id(id)').eq('id', 2).single()
    expect(hinted.data).toEqual({ id: 2, kids: [{ id: 4 }, { id: 5 }] })
    const parent = await rest.anon.from('collections').select('id, parent_id(id, description)').eq('id', 2).single()
    expect(parent.data).toEqual({ id: 2, parent_id: { id: 1, description: 'Root Collection' } })
    const byConstraint = await rest.anon.from('collections').select('*, collections!collections_parent_id_fkey(*)')
    expect(byConstraint.status).toBe(400)
    expect(byConstraint.error).toMatchObject({
      code: 'PGRST200',
      details: "Searched for a foreign key relationship between 'collections' and 'collections' using the hint 'collections_parent_id_fkey' in the schema 'public', but no matches were found.",
    })
  })

  it('embeds by a foreign key name', async () => {
    const { data, error } = await rest.anon
      .from('users')
      .select('first:best_friends_first_user_fkey(id), second:best_friends_second_user_fkey(id), third:best_friends_third_wheel_fkey(id)')
      .eq('username', 'awailas')
      .single()
    expect(error).toBeNull()
    expect(data).toEqual({ first: [], second: [{ id: 2 }], third: [{ id: 1 }] })
    const toOne = await rest.anon.from('best_friends').select('id, best_friends_first_user_fkey(username)').eq('id', 1).single()
    expect(toOne.error).toBeNull()
    expect(toOne.data).toEqual({ id: 1, best_friends_first_user_fkey: { username: 'supabot' } })
  })

  it('answers null for a one-row function that filters leave empty', async () => {
    await ctx().database.exec(`create function rn_profile(name_param text) returns user_profiles language sql stable as 'select * from user_profiles where username = name_param limit 1';
      grant execute on function rn_profile(text) to anon; notify pgrst, 'reload schema'`)
    await reloadSchemaCache(ctx().database)
    const found = await rest.anon.rpc('rn_profile', { name_param: 'supabot' }).select('id, users(username)')
    expect(found.data).toEqual({ id: 1, users: { username: 'supabot' } })
    const { data, error, status } = await rest.anon.rpc('rn_profile', { name_param: 'supabot' }).select('id').eq('id', 2)
    expect(error).toBeNull()
    expect(status).toBe(200)
    expect(data).toBeNull()
    // Asking for one object still insists on one.
    const single = await rest.anon.rpc('rn_profile', { name_param: 'supabot' }).select('id').eq('id', 2).single()
    expect(single.status).toBe(406)
  })
})
