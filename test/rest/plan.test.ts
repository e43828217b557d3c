import { describe, expect, it } from 'vitest'
import { errorOf } from '../support/errors.ts'
import { parseApiRequest } from '../../src/rest/parse/api-request.ts'
import { targets } from '../../src/rest/parse/types.ts'
import { planRead } from '../../src/rest/plan/read-plan.ts'
import { readStatement } from '../../src/rest/query/read-query.ts'
import { testCache } from './cache-fixture.ts'

const cache = testCache()

function plan(path: string, qs: string, maxRows?: number) {
  const request = parseApiRequest({ method: 'GET', path, params: [...new URLSearchParams(qs).entries()], headers: {}, schemas: ['public'] })
  if (!targets(request, 'relation')) throw new Error(`${path} is not a table path`)
  return planRead(request, cache, { maxRows })
}

describe('relationships', () => {
  it('resolves many-to-one, one-to-many, one-to-one and many-to-many', () => {
    const card = (path: string, select: string) => plan(path, `select=${select}`).read.children[0]!.relationship.cardinality
    expect(card('/messages', 'users(*)')).toBe('many-to-one')
    expect(card('/users', 'messages(*)')).toBe('one-to-many')
    expect(card('/channels', 'channel_details(*)')).toBe('one-to-one')
    expect(card('/products', 'categories(*)')).toBe('many-to-many')
  })

  it('finds relationships through views', () => {
    const r = plan('/messages', 'select=active_users(*)').read.children[0]!.relationship
    expect(r).toMatchObject({ cardinality: 'many-to-one', target: { name: 'active_users' }, constraint: 'messages_username_fkey' })
  })

  it('answers ambiguity with PGRST201 (300) listing every candidate', () => {
    const { status, body } = errorOf(() => plan('/users', 'select=best_friends(*)'))
    expect(status).toBe(300)
    expect(body).toEqual({
      code: 'PGRST201',
      message: "Could not embed because more than one relationship was found for 'users' and 'best_friends'",
      details: [
        { cardinality: 'one-to-many', embedding: 'users with best_friends', relationship: 'best_friends_first_user_fkey using users(username) and best_friends(first_user)' },
        { cardinality: 'one-to-many', embedding: 'users with best_friends', relationship: 'best_friends_second_user_fkey using users(username) and best_friends(second_user)' },
      ],
      hint: "Try changing 'best_friends' to one of the following: 'best_friends!best_friends_first_user_fkey', 'best_friends!best_friends_second_user_fkey'. Find the desired relationship in the 'details' key.",
    })
  })

  it('disambiguates by constraint or column hint; a self-reference is its children by name, its parent by column', () => {
    expect(plan('/users', 'select=best_friends!second_user(*)').read.children[0]!.relationship.constraint).toBe('best_friends_second_user_fkey')
    expect(plan('/users', 'select=best_friends!best_friends_first_user_fkey(*)').read.children[0]!.relationship.constraint).toBe('best_friends_first_user_fkey')
    // A self-reference by the table's name is its to-many side (PostgREST); the parent goes by column.
    expect(plan('/collections', 'select=children:collections!parent_id(*)').read.children[0]!.relationship.cardinality).toBe('one-to-many')
    expect(plan('/collections', 'select=children:collections(*)').read.children[0]!.relationship.cardinality).toBe('one-to-many')
    expect(plan('/collections', 'select=parent:parent_id(*)').read.children[0]!.relationship.cardinality).toBe('many-to-one')
    expect(errorOf(() => plan('/collections', 'select=collections!collections_parent_id_fkey(*)')).body.code).toBe('PGRST200')
    // A foreign key's name stands for its table.
    expect(plan('/users', 'select=best_friends_first_user_fkey(id)').read.children[0]!.relationship).toMatchObject({ cardinality: 'one-to-many', constraint: 'best_friends_first_user_fkey' })
  })

  it('answers a missing relationship with PGRST200 and a suggestion', () => {
    const { status, body } = errorOf(() => plan('/users', 'select=mesages(*)'))
    expect(status).toBe(400)
    expect(body).toEqual({
      code: 'PGRST200',
      message: "Could not find a relationship between 'users' and 'mesages' in the schema cache",
      details: "Searched for a foreign key relationship between 'users' and 'mesages' in the schema 'public', but no matches were found.",
      hint: "Perhaps you meant 'messages' instead of 'mesages'.",
    })
  })
})

describe('read plans', () => {
  it('puts embedded filters, orders and ranges on the embed', () => {
    const { read } = plan('/channels', 'select=id,messages(id)&messages.id=gt.1&messages.order=id.desc&messages.limit=2')
    const child = read.children[0]!.plan
    expect(child.where).toHaveLength(1)
    expect(child.order).toHaveLength(1)
    expect(child.limit).toBe(2)
    expect(read.where).toHaveLength(0)
  })

  it('refuses filters on embeds that are not selected, bad embed operators and to-many related orders', () => {
    expect(errorOf(() => plan('/channels', 'messages.id=eq.1')).body.code).toBe('PGRST108')
    expect(errorOf(() => plan('/channels', 'select=*,messages(*)&messages=eq.1')).body.code).toBe('PGRST120')
    expect(errorOf(() => plan('/channels', 'select=*,messages(*)&order=messages(id)')).body.code).toBe('PGRST118')
  })

  it('caps the top-level limit at the maximum rows', () => {
    expect(plan('/users', 'limit=5000', 1000).read.limit).toBe(1000)
    expect(plan('/users', 'limit=5', 1000).read.limit).toBe(5)
    expect(plan('/users', '', 1000).read.limit).toBe(1000)
  })

  it('refuses unknown tables with PGRST205 and a suggestion', () => {
    expect(errorOf(() => plan('/user', ''))).toMatchObject({ status: 404, body: { code: 'PGRST205', hint: "Perhaps you meant the table 'public.users'" } })
  })
})

describe('generated SQL', () => {
  it('is one statement with every value as a parameter', () => {
    const qs = new URLSearchParams({ select: `username,x:data->>"key')--",messages!inner(id)`, username: "eq.'; DROP TABLE users; --", order: 'status.desc.nullslast', limit: '3' })
    const { read } = plan('/users', qs.toString())
    const { sql, params } = readStatement(read, { body: 'array', count: 'exact' })
    expect(sql).not.toContain('DROP TABLE')
    expect(sql).not.toContain("key')")
    expect(params).toContain("'; DROP TABLE users; --")
    expect(params).toContain("key')--")
    expect(sql).toContain('"users"."status" DESC NULLS LAST')
  })
})
