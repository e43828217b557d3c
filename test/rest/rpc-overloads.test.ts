/**
 * RPC overloads resolved as PostgREST resolves them: argument names against required and
 * defaulted parameters, unnamed parameters (callable only as one raw-body json/jsonb/text/xml/bytea
 * parameter), the raw-body fallback by media type, `Prefer: params=single-object`, and PGRST202 /
 * PGRST203 with PostgREST's texts. Through supabase-js where it can say it, raw fetch otherwise.
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeEachDatabase } from '../support/databases.ts'
import { startRestWith, type RestHarness } from './support.ts'

const FUNCTIONS = `
create function ov_pick() returns int language sql as 'select 0';
create function ov_pick(int default 42) returns int language sql as 'select 1';
create function ov_pick(text default 'x') returns text language sql as $$ select 'text:' || $1 $$;
create function ov_only_int(int) returns int language sql as 'select 1';
create function ov_names(a int) returns text language sql as $$ select 'int' $$;
create function ov_names(a text) returns text language sql as $$ select 'text' $$;
create function ov_names(a int, b text default 'b') returns text language sql as $$ select 'a+b:' || b $$;
create function ov_required(a int, b int) returns int language sql as 'select a + b';
create function ov_payload(payload jsonb) returns jsonb language sql as 'select payload';
create function ov_raw_text(text) returns text language sql as $$ select upper($1) $$;
create function ov_raw_bytes(bytea) returns int language sql as 'select length($1)';
create function ov_row(messages) returns text language sql as 'select $1.message';
grant execute on all functions in schema public to anon;
`

describeEachDatabase('RPC overload resolution', (ctx) => {
  let rest: RestHarness
  const post = (fn: string, body: string, headers: Record<string, string> = {}) =>
    rest.fetch(`/rpc/${fn}`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body })

  beforeAll(async () => {
    rest = await startRestWith(ctx(), FUNCTIONS)
  })
  afterAll(async () => {
    await rest?.app.close()
  })

  it('calls the overload whose required names are given, defaults optional', async () => {
    expect((await rest.anon.rpc('ov_names', { a: 1, b: 'z' })).data).toBe('a+b:z')
    expect((await rest.anon.rpc('ov_required', { a: 1, b: 2 })).data).toBe(3)
    const missing = await rest.anon.rpc('ov_required', { a: 1 })
    expect(missing.status).toBe(404)
    expect(missing.error).toMatchObject({
      code: 'PGRST202',
      message: 'Could not find the function public.ov_required(a) in the schema cache',
      details: 'Searched for the function public.ov_required with parameter a or with a single unnamed json/jsonb parameter, but no matches were found in the schema cache.',
    })
    const extra = await rest.anon.rpc('ov_required', { a: 1, b: 2, c: 3 })
    expect(extra.error?.code).toBe('PGRST202')
    expect(extra.error?.details).toContain('with parameters a, b, c or with')
  })

  it('lists ambiguous candidates sorted, with their types as PostgreSQL names them', async () => {
    const res = await rest.anon.rpc('ov_names', { a: 1 })
    expect(res.status).toBe(300)
    expect(res.error).toEqual({
      code: 'PGRST203',
      details: null,
      hint: 'Try renaming the parameters or the function itself in the database so function overloading can be resolved',
      message: 'Could not choose the best candidate function between: public.ov_names(a => integer), public.ov_names(a => integer, b => text), public.ov_names(a => text)',
    })
  })

  it('takes an unnamed parameter by the empty key, and leaves out non-raw unnamed ones', async () => {
    expect((await rest.anon.rpc('ov_pick', { '': 'y' })).data).toBe('text:y')
    const bare = await rest.anon.rpc('ov_pick')
    expect(bare.status).toBe(300)
    expect(bare.error?.message).toBe('Could not choose the best candidate function between: public.ov_pick(), public.ov_pick( => text)')
    const onlyInt = await rest.anon.rpc('ov_only_int', { '': 1 })
    expect(onlyInt.status).toBe(404)
    expect(onlyInt.error).toMatchObject({
      message: 'Could not find the function public.ov_only_int() in the schema cache',
      details: 'Searched for the function public.ov_only_int with parameter  or with a single unnamed json/jsonb parameter, but no matches were found in the schema cache.',
      // Not in the schema cache at all: the hint would name another function, and none is close.
      hint: null,
    })
    // A row-typed unnamed parameter is a computed field, not a callable function.
    const row = await rest.anon.rpc('ov_row')
    expect(row.error).toMatchObject({ code: 'PGRST202', message: 'Could not find the function public.ov_row without parameters in the schema cache', hint: null })
  })

  it('passes the whole body to one json/jsonb parameter when no name fits', async () => {
    expect((await rest.anon.rpc('ov_payload', { x: 1, y: [2] })).data).toEqual({ x: 1, y: [2] })
    // Prefer: params=single-object even when a key happens to be the parameter's name.
    const single = await post('ov_payload', '{"payload":1}', { Prefer: 'params=single-object' })
    expect(await single.json()).toEqual({ payload: 1 })
    expect(await (await post('ov_payload', '{"payload":1}')).json()).toBe(1)
  })

  it('passes a raw text or binary body to one text or bytea parameter', async () => {
    const text = await post('ov_raw_text', 'hello "raw"', { 'Content-Type': 'text/plain' })
    expect(text.status).toBe(200)
    expect(await text.json()).toBe('HELLO "RAW"')
    const bytes = await post('ov_raw_bytes', '\u0000\u0001\u0002', { 'Content-Type': 'application/octet-stream' })
    expect(await bytes.json()).toBe(3)
    const wrong = await post('ov_required', 'text', { 'Content-Type': 'text/plain' })
    expect(wrong.status).toBe(404)
    expect((await wrong.json()).details).toBe('Searched for the function public.ov_required with a single unnamed text parameter, but no matches were found in the schema cache.')
  })

  it('keeps GET calls resolving by the names in the query string', async () => {
    const res = await rest.fetch('/rpc/ov_names?a=1&b=q')
    expect(await res.json()).toBe('a+b:q')
    const missing = await rest.fetch('/rpc/ov_required?a=1')
    expect(missing.status).toBe(404)
    expect((await missing.json()).details).toBe('Searched for the function public.ov_required with parameter a, but no matches were found in the schema cache.')
  })
})
