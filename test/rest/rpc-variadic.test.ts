/**
 * Variadic functions over `/rpc`: the `VARIADIC` parameter takes a JSON array in a POST body (one
 * value is an array of one), every repetition of its name on GET (`?v=a&v=b`) or one array
 * literal (what postgrest-js sends); it may sit after ordinary parameters.
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeEachDatabase } from '../support/databases.ts'
import { startRestWith, type RestHarness } from './support.ts'

const FUNCTIONS = `
CREATE FUNCTION public.variadic_join(VARIADIC words text[]) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT array_to_string(words, ' ') $$;
CREATE FUNCTION public.variadic_sum(base int, VARIADIC nums int[] DEFAULT '{}') RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT base + coalesce((SELECT sum(n)::int FROM unnest(nums) AS n), 0) $$;
CREATE FUNCTION public.variadic_messages(VARIADIC ids bigint[]) RETURNS SETOF public.messages LANGUAGE sql STABLE AS $$ SELECT * FROM public.messages WHERE id = ANY(ids) $$;
`

describeEachDatabase('variadic functions in RPC', (ctx) => {
  let rest: RestHarness
  beforeAll(async () => {
    rest = await startRestWith(ctx(), FUNCTIONS)
  })
  afterAll(async () => {
    await rest?.app.close()
  })

  it('POST: an array, or one value, goes to the VARIADIC parameter', async () => {
    expect((await rest.anon.rpc('variadic_join', { words: ['hello', 'variadic', 'world'] })).data).toBe('hello variadic world')
    expect((await rest.anon.rpc('variadic_join', { words: 'alone' })).data).toBe('alone')
    expect((await rest.anon.rpc('variadic_sum', { base: 10, nums: [1, 2, 3] })).data).toBe(16)
    // PostgreSQL resolves a call in named notation only with the variadic argument given.
    expect((await rest.anon.rpc('variadic_sum', { base: 10, nums: [] })).data).toBe(10)
  })

  it('GET: repeated names, one value, or the array literal postgrest-js sends', async () => {
    const repeated = await rest.fetch('/rpc/variadic_join?words=a&words=b&words=c')
    expect(await repeated.json()).toBe('a b c')
    expect(await (await rest.fetch('/rpc/variadic_sum?base=1&nums=5')).json()).toBe(6)
    const viaClient = await rest.anon.rpc('variadic_sum', { base: 1, nums: [2, 3] }, { get: true })
    expect(viaClient.error).toBeNull()
    expect(viaClient.data).toBe(6)
  })

  it('reads rows with select and filters after the arguments', async () => {
    const { data, error } = await rest.anon.rpc('variadic_messages', { ids: [1, 2, 3] }).select('id').gt('id', 1).order('id')
    expect(error).toBeNull()
    expect(data).toEqual([{ id: 2 }, { id: 3 }])
    const viaGet = await rest.fetch('/rpc/variadic_messages?ids=1&ids=3&select=id&order=id.desc')
    expect(await viaGet.json()).toEqual([{ id: 3 }, { id: 1 }])
  })

  it('a value of the wrong type is the database\'s 400, not a crash', async () => {
    const { error, status } = await rest.anon.rpc('variadic_sum', { base: 1, nums: ['x'] })
    expect(status).toBe(400)
    expect(error?.code).toBe('22P02')
    const hostile = await rest.fetch(`/rpc/variadic_join?words=${encodeURIComponent("'); DROP TABLE messages; --")}`)
    expect(await hostile.json()).toBe("'); DROP TABLE messages; --")
  })
})
