/**
 * `application/vnd.pgrst.plan` (supabase-js `.explain()`): the request's statement under EXPLAIN,
 * in JSON or text, with analyze/verbose/settings; only with DB_PLAN_ENABLED (406 otherwise) and
 * only for reads and function calls.
 */
import { createClient } from '@supabase/supabase-js'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { startTestApp, type TestApp } from '../support/app.ts'
import { describeEachDatabase } from '../support/databases.ts'
import { startRest, type RestHarness } from './support.ts'

describeEachDatabase('execution plans', (ctx) => {
  let off: RestHarness
  let on: TestApp
  const options = { auth: { persistSession: false, autoRefreshToken: false }, realtime: { transport: class {} as never } }

  beforeAll(async () => {
    off = await startRest(ctx())
    on = await startTestApp(ctx(), { DB_PLAN_ENABLED: 'true' })
  })
  afterAll(async () => {
    await off?.app.close()
    await on?.close()
  })

  it('is refused while DB_PLAN_ENABLED is off', async () => {
    const res = await off.anon.from('users').select().explain({ format: 'json' })
    expect(res.status).toBe(406)
    expect(res.error).toMatchObject({ code: 'PGRST107', message: 'None of these media types are available: application/vnd.pgrst.plan+json; for="application/json"' })
  })

  it('answers the plan of the read in JSON and text', async () => {
    const client = createClient(on.url, on.anonKey, options)
    const json = await client.from('users').select('username, messages(id)').eq('username', 'supabot').explain({ format: 'json' })
    expect(json.error).toBeNull()
    const plan = json.data as unknown as Array<{ Plan: { 'Node Type': string } }>
    expect(plan).toHaveLength(1)
    expect(plan[0]!.Plan['Node Type']).toBe('Aggregate')
    const text = await client.from('users').select().explain()
    expect(text.data).toMatch(/^Aggregate {2}\(cost=/)
    const analyzed = await client.from('users').select().explain({ analyze: true, verbose: true, format: 'json' })
    const first = (analyzed.data as unknown as Array<Record<string, unknown>>)[0]!
    expect(first['Execution Time']).toEqual(expect.any(Number))
    // VERBOSE adds output lists (the query identifier too, where compute_query_id is on).
    expect(JSON.stringify(first.Plan)).toContain('"Output"')
  })

  it('explains function calls and refuses writes', async () => {
    const client = createClient(on.url, on.anonKey, options)
    const call = await client.rpc('get_username_and_status', { name_param: 'supabot' }).explain({ format: 'json' })
    expect(call.error).toBeNull()
    const write = await client.from('users').insert({ username: 'planned' }).explain({ format: 'json' })
    expect(write.status).toBe(406)
    expect((await client.from('users').select('username').eq('username', 'planned')).data).toEqual([])
  })
})
