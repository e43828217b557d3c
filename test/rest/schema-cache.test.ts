import { afterAll, beforeAll, expect, it } from 'vitest'
import { loadSchemaCache, relationKey } from '../../src/rest/schema-cache/index.ts'
import { viewColumnSources } from '../../src/rest/schema-cache/view-columns.ts'
import { describeEachDatabase } from '../support/databases.ts'
import { loadFixture } from './support.ts'

describeEachDatabase('REST schema cache', (ctx) => {
  beforeAll(async () => {
    await loadFixture(ctx())
  })
  afterAll(() => {})

  it('loads the bootstrapped Supabase schemas (auth, vault, extensions) without a hitch', async () => {
    const cache = await loadSchemaCache(ctx().database, ['public', 'auth', 'vault', 'extensions'])
    expect(cache.relations.get(relationKey('auth', 'users'))?.primaryKey).toEqual(['id'])
    const fromIdentities = cache.relationships.get(relationKey('auth', 'identities')) ?? []
    expect(fromIdentities.some((r) => r.target.name === 'users' && r.cardinality === 'many-to-one')).toBe(true)
    expect(cache.relations.get(relationKey('vault', 'secrets'))?.kind).toBe('table')
  })

  it('reads columns, keys, relationships through views, and functions of the fixture', async () => {
    const cache = await loadSchemaCache(ctx().database, ['public', 'personal'])
    const users = cache.relations.get(relationKey('public', 'users'))!
    expect(users.columns.map((c) => c.name)).toEqual(['username', 'data', 'age_range', 'status', 'catchphrase'])
    expect(users.columnsByName.get('status')).toMatchObject({ typeName: 'user_status', enumValues: ['ONLINE', 'OFFLINE'], nullable: true })
    const todos = cache.relations.get(relationKey('public', 'todos'))!
    expect(todos.columnsByName.get('id')).toMatchObject({ identity: true, nullable: false })
    expect(todos.columnsByName.get('user_id')?.default).toBe('auth.uid()')
    // active_users is `select * from users`: messages → active_users comes through the view.
    const fromMessages = cache.relationships.get(relationKey('public', 'messages')) ?? []
    expect(fromMessages.find((r) => r.target.name === 'active_users')).toMatchObject({ cardinality: 'many-to-one', constraint: 'messages_username_fkey', targetColumns: ['username'] })
    expect(cache.relations.get(relationKey('public', 'active_users'))?.primaryKey).toEqual(['username'])
    const getStatus = cache.routines.get(relationKey('public', 'get_status'))![0]!
    expect(getStatus).toMatchObject({ volatility: 'immutable', returnsSet: false, returnTypeName: 'user_status', params: [{ name: 'name_param', typeName: 'text', hasDefault: false }] })
    const table = cache.routines.get(relationKey('public', 'get_username_and_status'))![0]!
    expect(table.outColumns.map((c) => c.name)).toEqual(['username', 'status'])
    expect(cache.computedFields?.get(relationKey('public', 'messages'))?.has('blurb_message')).toBe(true)
    expect(cache.relationships.get(relationKey('public', 'products'))?.find((r) => r.cardinality === 'many-to-many')?.junction?.relation.name).toBe('product_categories')
  })

  it('keeps only plain column references of a view rule', () => {
    const rule = '({QUERY :commandType 1 :rtable ({RANGETBLENTRY :subquery {QUERY :targetList ({TARGETENTRY :expr {VAR :varno 1} :resno 1 :resname inner :resorigtbl 99 :resorigcol 9 :resjunk false})}}) :targetList ({TARGETENTRY :expr {VAR :varno 1 :varattno 1} :resno 1 :resname id :ressortgroupref 0 :resorigtbl 16400 :resorigcol 1 :resjunk false} {TARGETENTRY :expr {FUNCEXPR :funcid 1} :resno 2 :resname computed :resorigtbl 0 :resorigcol 0 :resjunk false} {TARGETENTRY :expr {VAR :varno 1 :varattno 2} :resno 3 :resname my\\ name :resorigtbl 16400 :resorigcol 2 :resjunk false})})'
    expect(viewColumnSources(rule)).toEqual([
      { column: 'id', sourceOid: 16400, sourceAttnum: 1 },
      { column: 'my name', sourceOid: 16400, sourceAttnum: 2 },
    ])
  })
})
