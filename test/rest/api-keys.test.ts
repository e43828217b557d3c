/**
 * Supabase's new API keys: `sb_publishable_…` acts as anon (RLS applies), `sb_secret_…` as
 * service_role (RLS bypassed), on /rest/v1, /auth/v1 and /vault/v1, driven with supabase-js. A
 * secret key from a browser is refused, as Supabase refuses it; unknown keys are 401.
 */
import { mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createClient, type SupabaseClient } from '@supabase/supabase-js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiKeys, formatKeys } from '../../src/cli/commands/keys.ts'
import { loadConfig } from '../../src/config/config.ts'
import { ConfigError } from '../../src/config/env.ts'
import { generateOpaqueKey, isBrowserUserAgent, isWellFormedKey, opaqueKeyClaims } from '../../src/jwt/opaque-keys.ts'
import { describeEachDatabase } from '../support/databases.ts'
import { ALICE, startRest, type RestHarness } from './support.ts'

const PUBLISHABLE = generateOpaqueKey('publishable')
const SECRET = generateOpaqueKey('secret')
const ROTATED_SECRET = generateOpaqueKey('secret')
const BROWSER = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'

describe('opaque key format and matching', () => {
  it('generates keys of Supabase shape that the config accepts', () => {
    expect(PUBLISHABLE).toMatch(/^sb_publishable_[A-Za-z0-9_-]{22}_[A-Za-z0-9_-]{8}$/)
    expect(SECRET).toMatch(/^sb_secret_[A-Za-z0-9_-]{22}_[A-Za-z0-9_-]{8}$/)
    expect(isWellFormedKey('secret', SECRET)).toBe(true)
    expect(isWellFormedKey('publishable', SECRET)).toBe(false)
    expect(generateOpaqueKey('secret')).not.toBe(SECRET)
  })

  it('maps keys to roles, refuses unknown ones and secret keys from browsers', () => {
    const keys = { publishable: [PUBLISHABLE], secret: [SECRET, ROTATED_SECRET] }
    expect(opaqueKeyClaims(keys, PUBLISHABLE, BROWSER)).toEqual({ iss: 'supabase', role: 'anon' })
    expect(opaqueKeyClaims(keys, ROTATED_SECRET, 'node')).toEqual({ iss: 'supabase', role: 'service_role' })
    expect(opaqueKeyClaims(keys, 'eyJhbGciOi.x.y', undefined)).toBeUndefined()
    expect(() => opaqueKeyClaims(keys, SECRET.slice(0, -1) + 'A', 'node')).toThrow(/Invalid API key/)
    // A publishable key presented as a secret one (prefix swapped) is no key.
    expect(() => opaqueKeyClaims(keys, PUBLISHABLE.replace('sb_publishable_', 'sb_secret_'), 'node')).toThrow(/Invalid API key/)
    expect(() => opaqueKeyClaims(keys, SECRET, BROWSER)).toThrow(/Forbidden use of secret API key in browser/)
    expect(isBrowserUserAgent('curl/8.5.0')).toBe(false)
    expect(isBrowserUserAgent(undefined)).toBe(false)
  })

  it('refuses malformed configured keys naming the variable', () => {
    expect(() => loadConfig({ JWT_SECRET: 'x'.repeat(32), SECRET_KEYS: `${SECRET},sb_secret_short` })).toThrow(ConfigError)
    expect(() => loadConfig({ JWT_SECRET: 'x'.repeat(32), PUBLISHABLE_KEYS: SECRET })).toThrow(/PUBLISHABLE_KEYS/)
    expect(loadConfig({ JWT_SECRET: 'x'.repeat(32), SECRET_KEYS: `${SECRET}, ${ROTATED_SECRET}` }).secretKeys).toEqual([SECRET, ROTATED_SECRET])
  })

  it('`resolution keys` prints both formats; development keeps its generated keys in the data dir', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'resolution-keys-'))
    const first = await apiKeys({ RESOLUTION_DATA_DIR: dir })
    expect(isWellFormedKey('publishable', first.publishableKey)).toBe(true)
    expect(isWellFormedKey('secret', first.secretKey)).toBe(true)
    expect((await apiKeys({ RESOLUTION_DATA_DIR: dir })).secretKey).toBe(first.secretKey)
    expect(formatKeys(first, 'env')).toContain(`PUBLISHABLE_KEYS=${first.publishableKey}\nSECRET_KEYS=${first.secretKey}\n`)
    expect(JSON.parse(formatKeys(first, 'json'))).toMatchObject({ publishable_key: first.publishableKey, secret_key: first.secretKey })
    const configured = await apiKeys({ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(32), PUBLISHABLE_KEYS: PUBLISHABLE, SECRET_KEYS: SECRET })
    expect(configured).toMatchObject({ publishableKey: PUBLISHABLE, secretKey: SECRET })
  })
})

describeEachDatabase('sb_publishable_ / sb_secret_ keys over HTTP', (ctx) => {
  let rest: RestHarness
  let publishable: SupabaseClient
  let secret: SupabaseClient
  const options = { auth: { persistSession: false, autoRefreshToken: false }, realtime: { transport: class {} as never } }
  const call = (family: string, route: string, headers: Record<string, string>, init: RequestInit = {}) =>
    fetch(`${rest.app.url}/${family}/v1${route}`, { ...init, headers: { 'user-agent': 'node', ...headers } })

  beforeAll(async () => {
    rest = await startRest(ctx(), { PUBLISHABLE_KEYS: PUBLISHABLE, SECRET_KEYS: `${SECRET},${ROTATED_SECRET}` })
    publishable = createClient(rest.app.url, PUBLISHABLE, options)
    secret = createClient(rest.app.url, SECRET, options)
  })
  afterAll(async () => {
    await rest?.app.close()
  })

  it('a publishable key reads as anon (RLS applies), a secret key as service_role', async () => {
    const asAnon = await publishable.from('todos').select('task').order('id')
    expect(asAnon.error).toBeNull()
    expect(asAnon.data).toEqual([{ task: 'alice public' }])
    const asService = await secret.from('todos').select('task').order('id')
    expect(asService.data?.map((r) => r.task)).toEqual(['alice private', 'alice public', 'bob private'])
    const context = await secret.rpc('request_context')
    expect(context.data).toMatchObject({ role: 'service_role', claims_role: 'service_role' })
    const hidden = await publishable.from('secrets_table').select()
    expect(hidden.error?.code).toBe('42501')
  })

  it('a user JWT as bearer beside a publishable apikey runs as the user', async () => {
    const jwt = await rest.token({ sub: ALICE, role: 'authenticated' })
    const response = await call('rest', '/rpc/request_context', { apikey: PUBLISHABLE, authorization: `Bearer ${jwt}` })
    expect(await response.json()).toMatchObject({ role: 'authenticated', sub: ALICE })
  })

  it('either header carries the key; every configured secret key works', async () => {
    const viaBearer = await call('rest', '/todos?select=id', { authorization: `Bearer ${ROTATED_SECRET}` })
    expect(viaBearer.status).toBe(200)
    expect(await viaBearer.json()).toHaveLength(3)
  })

  it('refuses unknown keys and a secret key from a browser, even beside a valid JWT', async () => {
    const unknown = await call('rest', '/todos', { apikey: generateOpaqueKey('publishable') })
    expect(unknown.status).toBe(401)
    expect(await unknown.json()).toMatchObject({ code: 'invalid_api_key', message: 'Invalid API key' })
    const browser = await call('rest', '/todos', { apikey: SECRET, 'user-agent': BROWSER })
    expect(browser.status).toBe(401)
    expect((await browser.json()).message).toBe('Forbidden use of secret API key in browser')
    const jwt = await rest.token({ sub: ALICE, role: 'authenticated' })
    const beside = await call('rest', '/todos', { apikey: SECRET, authorization: `Bearer ${jwt}`, 'user-agent': BROWSER })
    expect(beside.status).toBe(401)
    const browserPublishable = await call('rest', '/todos?select=id', { apikey: PUBLISHABLE, 'user-agent': BROWSER })
    expect(browserPublishable.status).toBe(200)
  })

  it('/auth/v1: the publishable key opens public endpoints, the secret key the admin API', async () => {
    const settings = await call('auth', '/settings', { apikey: PUBLISHABLE })
    expect(settings.status).toBe(200)
    const created = await secret.auth.admin.createUser({ email: 'new-keys@example.com', password: 'a-long-password', email_confirm: true })
    expect(created.error).toBeNull()
    const listed = await secret.auth.admin.listUsers()
    expect(listed.data.users.map((u) => u.email)).toContain('new-keys@example.com')
    const notAdmin = await publishable.auth.admin.listUsers()
    expect(notAdmin.error?.status).toBe(403)
    const signedIn = await publishable.auth.signInWithPassword({ email: 'new-keys@example.com', password: 'a-long-password' })
    expect(signedIn.error).toBeNull()
    // A key is no user: GoTrue's answer to the anon JWT the gateway would forward.
    const keyAsUser = await call('auth', '/user', { apikey: PUBLISHABLE, authorization: `Bearer ${PUBLISHABLE}` })
    expect(keyAsUser.status).toBe(403)
    const forged = await call('auth', '/settings', { apikey: generateOpaqueKey('secret') })
    expect(forged.status).toBe(401)
    const browser = await call('auth', '/admin/users', { apikey: SECRET, authorization: `Bearer ${SECRET}`, 'user-agent': BROWSER })
    expect(browser.status).toBe(401)
  })

  it('/vault/v1 is the secret key\'s, not the publishable key\'s', async () => {
    expect((await call('vault', '/secrets', { apikey: SECRET })).status).toBe(200)
    expect((await call('vault', '/secrets', { apikey: PUBLISHABLE })).status).toBe(401)
    expect((await call('vault', '/secrets', { apikey: SECRET, 'user-agent': BROWSER })).status).toBe(401)
  })
})
