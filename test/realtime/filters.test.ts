/**
 * Realtime's full filter grammar for Postgres changes, as realtime-js's `postgresChangesFilter()`
 * writes it (`like`, `ilike`, `match`, `imatch`, `is`, `isdistinct`, `not.` on any operator,
 * comma-joined ANDs, quoted values), SQL's three-valued logic for NULL columns, `select` of
 * columns in the payload, the refusals Realtime gives at subscription, and the
 * `broadcast.replication_ready` system message.
 */
import type { RealtimeChannel } from '@supabase/supabase-js'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeEachDatabase } from '../support/databases.ts'
import { eventually, startRealtime, subscribed, type RealtimeHarness } from './support.ts'

const SCHEMA = `
CREATE TABLE public.notes (id int PRIMARY KEY, value text NOT NULL, details text, maybe text, flag boolean);
GRANT SELECT ON public.notes TO anon;
ALTER PUBLICATION supabase_realtime ADD TABLE public.notes;
`

type Payload = { eventType: string; new: Record<string, unknown> }
type SystemMessage = { extension?: string; status?: string; message?: string }

/** The ids of the inserted rows each filter delivered, keyed by filter. */
function subscribeAll(channel: RealtimeChannel, filters: string[]): Map<string, number[]> {
  const got = new Map<string, number[]>()
  for (const filter of filters) {
    got.set(filter, [])
    channel.on('postgres_changes', { event: 'INSERT', schema: 'public', table: 'notes', filter } as never, (p) => got.get(filter)!.push((p as unknown as Payload).new.id as number))
  }
  return got
}

function systemMessages(channel: RealtimeChannel): SystemMessage[] {
  const got: SystemMessage[] = []
  channel.on('system', {}, (message) => got.push(message as SystemMessage))
  return got
}

describeEachDatabase('realtime change filters and select', (db) => {
  let rt: RealtimeHarness
  beforeAll(async () => {
    await db().database.exec(SCHEMA)
    rt = await startRealtime(db())
  })
  afterAll(() => rt?.close())

  it('applies every operator, negation, AND and quoting with NULL columns matching nothing but is/isdistinct', async () => {
    const expected: Record<string, number[]> = {
      'value=like.ab%': [1, 2, 3],
      'value=ilike.AB\\%%': [3],
      'value=match.^a.c$': [1],
      'value=imatch.^SAY': [4],
      'maybe=is.null': [1, 2, 4, 5],
      'maybe=not.is.null': [3],
      'flag=is.true': [2],
      'maybe=isdistinct.yes': [1, 2, 4, 5],
      'maybe=not.eq.yes': [],
      'value=not.like.ab%': [4, 5],
      'value=like.ab%,details=eq.keep': [2],
      'details=in.("a,b",keep)': [2, 5],
      'value=eq."x,y (z)"': [5],
      'value=eq."say \\"hi\\""': [4],
    }
    const channel = rt.client().channel('filters')
    const got = subscribeAll(channel, Object.keys(expected))
    await subscribed(channel)
    await db().database.exec(`INSERT INTO public.notes (id, value, details, maybe, flag) VALUES
      (1, 'abc', 'skip', NULL, false), (2, 'abd', 'keep', NULL, true), (3, 'ab%x', NULL, 'yes', NULL),
      (4, 'say "hi"', NULL, NULL, NULL), (5, 'x,y (z)', 'a,b', NULL, NULL)`)
    // Row 5 is the last of one statement: once its change is in, all of them are.
    await eventually(() => (got.get('details=in.("a,b",keep)')!.length >= 2 ? true : undefined))
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(Object.fromEntries(got)).toEqual(expected)
  })

  it('carries only the selected columns and the primary key when `select` is given', async () => {
    const channel = rt.client().channel('select')
    const narrow: Payload[] = []
    const whole: Payload[] = []
    channel.on('postgres_changes', { event: 'INSERT', schema: 'public', table: 'notes', filter: 'id=eq.10', select: ['value'] } as never, (p) => narrow.push(p as unknown as Payload))
    channel.on('postgres_changes', { event: 'INSERT', schema: 'public', table: 'notes', filter: 'id=eq.10' } as never, (p) => whole.push(p as unknown as Payload))
    await subscribed(channel)
    await db().database.exec(`INSERT INTO public.notes (id, value, details) VALUES (10, 'ten', 'hidden')`)
    await eventually(() => (narrow[0] && whole[0] ? true : undefined))
    expect(narrow[0]!.new).toEqual({ id: 10, value: 'ten' })
    expect(whole[0]!.new).toMatchObject({ id: 10, value: 'ten', details: 'hidden' })
  })

  it('runs a backtracking pattern in linear time: the server keeps delivering', async () => {
    const channel = rt.client().channel('redos')
    const got = subscribeAll(channel, ['value=match.^(a+)+$', 'value=imatch.^(A|A)*C$', 'value=like.%a%a%a%a%a%c', 'id=eq.20'])
    await subscribed(channel)
    // With a backtracking engine each of the first three would take about 2^40 steps on this value.
    await db().database.query(`INSERT INTO public.notes (id, value) VALUES (20, repeat('a', 40) || 'b')`)
    await eventually(() => (got.get('id=eq.20')!.length === 1 ? true : undefined))
    expect([...got.values()].map((ids) => ids.length)).toEqual([0, 0, 0, 1])
  })

  it('refuses unknown columns, bad values and select on a wildcard with a system error', async () => {
    const refusals: Array<[Record<string, unknown>, RegExp]> = [
      [{ table: 'notes', filter: 'nope=eq.1' }, /invalid column for filter nope/],
      [{ table: 'notes', filter: 'id=eq.1', select: ['id', 'ghost'] }, /invalid column for select ghost/],
      [{ table: 'notes', filter: 'maybe=is.maybe' }, /invalid value for is filter/],
      [{ table: 'notes', filter: 'value=match.(' }, /invalid regular expression/],
      [{ table: 'notes', filter: 'value=match.(a)\\1' }, /cannot run in linear time/],
      [{ table: 'notes', filter: 'value=between.1' }, /Error parsing `filter` params/],
      [{ table: 'notes', select: 'id,value' }, /expected a list of column name strings/],
      [{ select: ['id'] }, /not supported for wildcard subscriptions/],
    ]
    for (const [params, reason] of refusals) {
      const channel = rt.client().channel(`refused-${Math.random()}`)
      const system = systemMessages(channel)
      channel.on('postgres_changes', { event: '*', schema: 'public', ...params } as never, () => {})
      channel.subscribe()
      const error = await eventually(() => system.find((m) => m.status === 'error'))
      expect(error.message, JSON.stringify(params)).toMatch(reason)
    }
  })

  it('says the replication connection is established when the join asks (broadcast.replication_ready)', async () => {
    const asking = rt.client().channel('ready-yes', { config: { broadcast: { replication_ready: true } } as never })
    const quiet = rt.client().channel('ready-no')
    const toAsking = systemMessages(asking)
    const toQuiet = systemMessages(quiet)
    await Promise.all([subscribed(asking), subscribed(quiet)])
    const ready = await eventually(() => toAsking.find((m) => m.extension === 'system'))
    expect(ready).toMatchObject({ status: 'ok', message: 'Replication connection established' })
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(toQuiet).toEqual([])
  })
})
