/**
 * One client cannot take the whole pool: past its share, its own requests wait, and past the wait
 * limit they (not other clients') get 503 PGRST003.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { reloadSchemaCache } from '../../src/rest/schema-cache/index.ts'
import { FairShare } from '../../src/rest/fair-share.ts'
import { openTestDatabase } from '../support/databases.ts'
import { startRest, type RestHarness } from './support.ts'

describe('FairShare', () => {
  it('runs a client’s share at once, queues the rest in order, and refuses a waiter past the limit', async () => {
    vi.useFakeTimers()
    try {
      const share = new FairShare(2, 100)
      const releases: Array<() => void> = []
      const started: string[] = []
      const job = (name: string) => () => {
        started.push(name)
        return new Promise<string>((resolve) => releases.push(() => resolve(name)))
      }
      const a1 = share.run('a', job('a1'))
      const a2 = share.run('a', job('a2'))
      const a3 = share.run('a', job('a3'))
      const a4 = share.run('a', job('a4'))
      const b1 = share.run('b', job('b1'))
      await Promise.resolve()
      expect(started).toEqual(['a1', 'a2', 'b1'])
      releases[0]!()
      await expect(a1).resolves.toBe('a1')
      expect(started).toEqual(['a1', 'a2', 'b1', 'a3'])
      const refused = expect(a4).rejects.toMatchObject({ status: 503, code: 'PGRST003' })
      await vi.advanceTimersByTimeAsync(150)
      await refused
      for (const release of releases.slice(1)) release()
      await expect(Promise.all([a2, a3, b1])).resolves.toEqual(['a2', 'a3', 'b1'])
    } finally {
      vi.useRealTimers()
    }
  })
})

// A pool is what a greedy client could exhaust; PGlite is one connection behind a mutex.
describe.runIf(!!process.env.TEST_DATABASE_URL)('REST: a greedy client gets the 503, others are served [postgres]', () => {
  let testDb: Awaited<ReturnType<typeof openTestDatabase>>
  const ctx = () => testDb
  let rest: RestHarness
  beforeAll(async () => {
    testDb = await openTestDatabase('postgres')
    rest = await startRest(ctx(), { DB_POOL_CLIENT_SHARE: '1', DB_POOL_CLIENT_WAIT: '300', AUTH_RATE_LIMIT_HEADER: 'X-Forwarded-For' })
    await ctx().database.exec(`CREATE FUNCTION public.nap(seconds float8) RETURNS int LANGUAGE sql VOLATILE AS $$ SELECT 1 FROM pg_sleep(seconds) $$;
      GRANT EXECUTE ON FUNCTION public.nap(float8) TO anon;`)
    await reloadSchemaCache(ctx().database)
  })
  afterAll(async () => {
    await rest?.app.close()
    await testDb?.dispose()
  })

  const nap = (client: string, seconds: number) =>
    rest.fetch('/rpc/nap', { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Forwarded-For': client }, body: JSON.stringify({ seconds }) })

  it('refuses the second request of a client whose share is busy past the wait, and serves another client', async () => {
    const slow = nap('203.0.113.7', 2)
    // Wait until the slow call holds its connection, however loaded the machine is.
    for (;;) {
      const { rows } = await ctx().database.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE datname = current_database() AND state = 'active' AND query LIKE '%nap%' AND pid <> pg_backend_pid()`,
      )
      if (rows[0]!.n > 0) break
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    const [greedy, other] = await Promise.all([nap('203.0.113.7', 0), nap('198.51.100.9', 0)])
    expect(greedy.status).toBe(503)
    expect(((await greedy.json()) as { code: string }).code).toBe('PGRST003')
    expect(greedy.headers.get('retry-after')).toBe('1')
    expect(other.status).toBe(200)
    expect((await slow).status).toBe(200)
  })
})
