/** `resolution keys`: keys that verify with the configured secret, stable in development, checked when configured. */
import { mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { createJwtService } from '../../src/jwt/service.ts'
import { apiKeys, formatKeys } from '../../src/cli/commands/keys.ts'
import { loadConfig } from '../../src/config/config.ts'

const SECRET = 'a-production-secret-of-at-least-32-chars'

describe('resolution keys', () => {
  it('issues anon and service_role keys that verify with JWT_SECRET', async () => {
    const keys = await apiKeys({ NODE_ENV: 'production', JWT_SECRET: SECRET, DATABASE_URL: 'postgres://x@localhost/db' })
    const jwt = await createJwtService(loadConfig({ JWT_SECRET: SECRET }))
    expect(await jwt.verify(keys.anonKey)).toMatchObject({ iss: 'supabase', role: 'anon' })
    expect(await jwt.verify(keys.serviceRoleKey)).toMatchObject({ iss: 'supabase', role: 'service_role' })
    expect(formatKeys(keys, 'env')).toMatch(new RegExp(`^ANON_KEY=${keys.anonKey}\nSERVICE_ROLE_KEY=${keys.serviceRoleKey}\nPUBLISHABLE_KEYS=sb_publishable_\\S+\nSECRET_KEYS=sb_secret_\\S+\n$`))
    expect(JSON.parse(formatKeys(keys, 'json'))).toMatchObject({ anon_key: keys.anonKey, service_role_key: keys.serviceRoleKey })
  })

  it('prints the same development keys every time for one data dir', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'resolution-keys-'))
    const first = await apiKeys({ RESOLUTION_DATA_DIR: dir })
    const second = await apiKeys({ RESOLUTION_DATA_DIR: dir })
    expect(second).toEqual(first)
  })

  it('refuses a configured key that the secret does not verify, or one with the wrong role', async () => {
    const other = await apiKeys({ NODE_ENV: 'production', JWT_SECRET: 'another-secret-that-is-32-characters-long' })
    await expect(apiKeys({ NODE_ENV: 'production', JWT_SECRET: SECRET, ANON_KEY: other.anonKey })).rejects.toThrow(/ANON_KEY: does not verify/)
    const mine = await apiKeys({ NODE_ENV: 'production', JWT_SECRET: SECRET })
    await expect(apiKeys({ NODE_ENV: 'production', JWT_SECRET: SECRET, ANON_KEY: mine.serviceRoleKey })).rejects.toThrow(/expected anon/)
    await expect(apiKeys({ NODE_ENV: 'production' })).rejects.toThrow(/JWT_SECRET/)
  })
})
