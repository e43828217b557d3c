/** REALTIME_DEAD_SERVER_SECONDS; REALTIME_LISTEN_URL: a direct URL for Realtime's LISTEN beside a pooled DATABASE_URL, checked as DATABASE_URL is. */
import { describe, expect, it } from 'vitest'
import { describeConfig, loadConfig } from '../../src/config/config.ts'

const base = { JWT_SECRET: 'test-secret-with-at-least-32-characters-long', DATABASE_URL: 'postgres://app:pooled@proxy:6543/app' }

describe('REALTIME_DEAD_SERVER_SECONDS', () => {
  it('defaults to 35 s, sets the hub\'s beacon to a third of it (at most 10 s), and refuses what is out of range by name', async () => {
    const { timingsFor } = await import('../../src/realtime/hub.ts')
    expect(loadConfig(base).realtimeDeadServerSeconds).toBe(35)
    expect(loadConfig({ ...base, REALTIME_DEAD_SERVER_SECONDS: '6' }).realtimeDeadServerSeconds).toBe(6)
    expect(timingsFor(35)).toEqual({ aliveMs: 10_000, deadMs: 35_000 })
    expect(timingsFor(6)).toEqual({ aliveMs: 2000, deadMs: 6000 })
    for (const bad of ['0', '2', 'soon', '4000']) expect(() => loadConfig({ ...base, REALTIME_DEAD_SERVER_SECONDS: bad })).toThrow(/REALTIME_DEAD_SERVER_SECONDS/)
  })
})

describe('REALTIME_LISTEN_URL', () => {
  it('is read, masked when shown, and refused by name when it is not a PostgreSQL URL', () => {
    const config = loadConfig({ ...base, REALTIME_LISTEN_URL: 'postgres://app:direct@db:5432/app' })
    expect(config.realtimeListenUrl).toBe('postgres://app:direct@db:5432/app')
    expect(JSON.stringify(describeConfig(config))).not.toContain('direct@')
    expect(loadConfig(base).realtimeListenUrl).toBeUndefined()
    expect(() => loadConfig({ ...base, REALTIME_LISTEN_URL: 'http://db' })).toThrow(/REALTIME_LISTEN_URL/)
  })
})
