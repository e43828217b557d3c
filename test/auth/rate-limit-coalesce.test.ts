/**
 * Issue 16: concurrent hits on one rate-limit key are counted together by one upsert per batch
 * (all clients behind one address share the key, and one upsert each queued on its row). Each
 * hit must still get its own count, no hit may be lost, and the limit still refuses past it.
 */
import { expect, it } from 'vitest'
import { COUNT_HITS, Counters, WindowLimit } from '../../src/auth/rate-limit.ts'
import type { Queryable } from '../../src/db/types.ts'
import { describeEachDatabase } from '../support/databases.ts'

describeEachDatabase('auth rate-limit counters under concurrency', (ctx) => {
  /** The database, counting the upserts that reach it. */
  const counting = () => {
    const database = ctx().database
    const seen = { upserts: 0 }
    const wrapped: Queryable = {
      query: (sql, params, options) => {
        if (sql.includes('INSERT INTO _resolution.auth_rate_limits')) seen.upserts++
        return database.query(sql, params, options)
      },
      exec: (sql) => database.exec(sql),
      copyFrom: (sql, source) => database.copyFrom(sql, source),
    }
    return { seen, counters: new Counters(() => Promise.resolve(wrapped)) }
  }

  it('gives 200 concurrent hits the counts 1..200 in fewer upserts, and stores 200', async () => {
    const { seen, counters } = counting()
    const hits = await Promise.all(Array.from({ length: 200 }, () => counters.hit('coalesce', '203.0.113.7', 300)))
    expect(hits.map((h) => h.hits).sort((a, b) => a - b)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1))
    expect(seen.upserts).toBeLessThan(200)
    const { rows } = await ctx().database.query<{ hits: number }>(`SELECT hits FROM _resolution.auth_rate_limits WHERE bucket = 'coalesce' AND key = '203.0.113.7'`)
    expect(rows[0]!.hits).toBe(200)
  })

  it('keeps keys apart and refuses exactly the hits past the limit', async () => {
    const { counters } = counting()
    const limit = new WindowLimit('coalesce-limit', 5, 300, counters)
    const outcomes = await Promise.allSettled([...Array.from({ length: 8 }, () => limit.take('198.51.100.1')), ...Array.from({ length: 3 }, () => limit.take('198.51.100.2'))])
    const refused = outcomes.filter((o) => o.status === 'rejected') as PromiseRejectedResult[]
    expect(refused).toHaveLength(3)
    for (const r of refused) expect(r.reason).toMatchObject({ status: 429 })
  })

  it('rejects every hit of a batch whose upsert failed, and counts again afterwards', async () => {
    let fail = true
    const database = ctx().database
    const flaky: Queryable = {
      query: (sql, params, options) => (fail && sql.includes('auth_rate_limits') ? Promise.reject(new Error('connection lost')) : database.query(sql, params, options)),
      exec: (sql) => database.exec(sql),
      copyFrom: (sql, source) => database.copyFrom(sql, source),
    }
    const counters = new Counters(() => Promise.resolve(flaky))
    const failed = await Promise.allSettled(Array.from({ length: 5 }, () => counters.hit('coalesce-flaky', 'k', 300)))
    expect(failed.every((o) => o.status === 'rejected')).toBe(true)
    fail = false
    expect((await counters.hit('coalesce-flaky', 'k', 300)).hits).toBe(1)
  })

  it('commits a hit without waiting for the WAL flush, for that transaction only', async () => {
    const database = ctx().database
    const inside = await database.transaction(async (tx) => {
      await tx.query(COUNT_HITS.sql, ['unflushed', 'k', Date.now(), 300, 1])
      return (await tx.query<{ setting: string }>("SELECT current_setting('synchronous_commit') AS setting")).rows[0]!.setting
    })
    expect(inside).toBe('off')
    // Autocommitted, as the counters run it, on every connection of the pool: none keeps the setting.
    await Promise.all(Array.from({ length: 20 }, () => database.query(COUNT_HITS.sql, ['unflushed', 'k', Date.now(), 300, 1])))
    const after = await Promise.all(Array.from({ length: 20 }, () => database.query<{ setting: string }>("SELECT current_setting('synchronous_commit') AS setting")))
    expect(new Set(after.map((r) => r.rows[0]!.setting))).toEqual(new Set(['on']))
    const { rows } = await database.query<{ hits: number }>(`SELECT hits FROM _resolution.auth_rate_limits WHERE bucket = 'unflushed' AND key = 'k'`)
    expect(rows[0]!.hits).toBe(21)
  })
})
