/** REALTIME_LISTEN_URL: a direct URL for Realtime's LISTEN beside a pooled DATABASE_URL, checked as DATABASE_URL is. */
import { describe, expect, it } from 'vitest'
import { describeConfig, loadConfig } from '../../src/config/config.ts'

const base = { JWT_SECRET: 'test-secret-with-at-least-32-characters-long', DATABASE_URL: 'postgres://app:pooled@proxy:6543/app' }

describe('REALTIME_LISTEN_URL', () => {
  it('is read, masked when shown, and refused by name when it is not a PostgreSQL URL', () => {
    const config = loadConfig({ ...base, REALTIME_LISTEN_URL: 'postgres://app:direct@db:5432/app' })
    expect(config.realtimeListenUrl).toBe('postgres://app:direct@db:5432/app')
    expect(JSON.stringify(describeConfig(config))).not.toContain('direct@')
    expect(loadConfig(base).realtimeListenUrl).toBeUndefined()
    expect(() => loadConfig({ ...base, REALTIME_LISTEN_URL: 'http://db' })).toThrow(/REALTIME_LISTEN_URL/)
  })
})
