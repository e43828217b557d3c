/**
 * The OAuth 2.1 server's client registry through supabase-js (`auth.admin.oauth`): register
 * (secret shown once, stored hashed), get, list with pagination, partial update, secret
 * regeneration, soft delete; GoTrue's validation of redirect URIs, grant types and client types;
 * admins only; 404 feature_disabled when switched off.
 */
import { createHash } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { describeEachDatabase } from '../support/databases.ts'
import { startAuth, uniqueEmail, type AuthHarness } from './support.ts'

describeEachDatabase('auth OAuth clients (admin)', (ctx) => {
  let h: AuthHarness
  beforeAll(async () => {
    h = await startAuth(ctx(), { AUTH_OAUTH_SERVER_ENABLED: 'true' })
  }, 60_000)
  afterAll(() => h?.close())
  const oauth = () => h.admin().auth.admin.oauth

  it('registers, gets, updates, regenerates the secret of and deletes a client', async () => {
    const created = await oauth().createClient({ client_name: 'Dashboard', redirect_uris: ['https://app.example.com/cb', 'http://localhost:3000/cb'] })
    expect(created.error).toBeNull()
    const client = created.data!
    expect(client).toMatchObject({
      client_name: 'Dashboard',
      client_type: 'confidential',
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: ['https://app.example.com/cb', 'http://localhost:3000/cb'],
      registration_type: 'manual',
    })
    expect(client.client_secret).toMatch(/^[A-Za-z0-9_-]{43}$/)
    const { rows } = await ctx().database.query<{ client_secret_hash: string }>('SELECT client_secret_hash FROM auth.oauth_clients WHERE id = $1', [client.client_id])
    expect(rows[0]!.client_secret_hash).toBe(createHash('sha256').update(client.client_secret!).digest('base64url'))

    const got = await oauth().getClient(client.client_id)
    expect(got.data).toMatchObject({ client_id: client.client_id, client_name: 'Dashboard' })
    expect(got.data).not.toHaveProperty('client_secret')

    const updated = await oauth().updateClient(client.client_id, { logo_uri: 'https://app.example.com/logo.png' })
    expect(updated.data).toMatchObject({ client_name: 'Dashboard', logo_uri: 'https://app.example.com/logo.png' })
    const nothing = await oauth().updateClient(client.client_id, {})
    expect(nothing.error).toMatchObject({ status: 400, message: 'No fields provided for update' })

    const regenerated = await oauth().regenerateClientSecret(client.client_id)
    expect(regenerated.data!.client_secret).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(regenerated.data!.client_secret).not.toBe(client.client_secret)

    expect((await oauth().deleteClient(client.client_id)).error).toBeNull()
    expect((await oauth().getClient(client.client_id)).error).toMatchObject({ status: 404, code: 'oauth_client_not_found' })
    expect((await oauth().deleteClient(client.client_id)).error).toMatchObject({ status: 404 })
    const kept = await ctx().database.query<{ deleted_at: string | null }>('SELECT deleted_at FROM auth.oauth_clients WHERE id = $1', [client.client_id])
    expect(kept.rows[0]!.deleted_at).not.toBeNull() // soft delete, as GoTrue
  })

  it('makes public clients without a secret', async () => {
    const { data } = await oauth().createClient({ client_name: 'SPA', redirect_uris: ['https://spa.example.com/cb'], token_endpoint_auth_method: 'none' } as never)
    expect(data).toMatchObject({ client_type: 'public', token_endpoint_auth_method: 'none' })
    expect(data).not.toHaveProperty('client_secret')
    const regenerated = await oauth().regenerateClientSecret(data!.client_id)
    expect(regenerated.error).toMatchObject({ status: 400, message: 'Cannot regenerate secret for public client' })
    const inconsistent = await oauth().createClient({ client_name: 'x', redirect_uris: ['https://x.example.com'], client_type: 'public', token_endpoint_auth_method: 'client_secret_post' } as never)
    expect(inconsistent.error).toMatchObject({ status: 400, code: 'validation_failed' })
  })

  it('lists newest first with X-Total-Count and Link pagination', async () => {
    const ids: string[] = []
    for (let i = 0; i < 3; i++) ids.push((await oauth().createClient({ client_name: `page ${i}`, redirect_uris: ['https://p.example.com/cb'] })).data!.client_id)
    const all = await oauth().listClients()
    expect(all.error).toBeNull()
    const listed = all.data!.clients.map((c) => c.client_id)
    expect(listed.slice(0, 3)).toEqual([...ids].reverse())
    const page = await oauth().listClients({ page: 1, perPage: 2 })
    expect(page.data!.clients).toHaveLength(2)
    expect(page.data).toMatchObject({ nextPage: 2, total: all.data!.clients.length })
  })

  it('refuses bad redirect URIs, grant types and ids with GoTrue’s messages', async () => {
    const bad: Array<[unknown, RegExp]> = [
      [{ client_name: 'x', redirect_uris: [] }, /redirect_uris is required/],
      [{ client_name: 'x' }, /redirect_uris is required/],
      [{ redirect_uris: ['javascript:alert(1)//x'] }, /not allowed|scheme and host/],
      [{ redirect_uris: ['http://evil.example.com/cb'] }, /HTTP scheme only allowed for localhost/],
      [{ redirect_uris: ['https://a.example.com/cb#frag'] }, /fragment not allowed/],
      [{ redirect_uris: ['https://a.example.com'], grant_types: ['password'] }, /grant_types must only contain/],
      [{ redirect_uris: ['https://a.example.com'], logo_uri: 'not a url' }, /logo_uri must be a valid URL/],
      [{ redirect_uris: 'https://a.example.com' }, /must be an array of strings/],
    ]
    for (const [body, message] of bad) {
      const { data, error } = await oauth().createClient(body as never)
      expect(data).toBeNull()
      expect(error?.status).toBe(400)
      expect(error?.message).toMatch(message)
    }
    expect((await oauth().getClient('00000000-0000-0000-0000-000000000000')).error).toMatchObject({ status: 404, code: 'oauth_client_not_found' })
    expect((await oauth().getClient("1' OR '1'='1")).error).toMatchObject({ status: 400, message: 'invalid client_id format' })
  })

  it('is for admins only', async () => {
    const client = h.client()
    await client.auth.signUp({ email: uniqueEmail('oauth'), password: 'secret123' })
    const token = (await client.auth.getSession()).data.session!.access_token
    const res = await h.raw('/admin/oauth/clients', { headers: { authorization: `Bearer ${token}` } })
    expect(res.status).toBe(403)
    expect(await res.json()).toMatchObject({ error_code: 'not_admin' })
  })
})

describe('auth OAuth clients switched off', () => {
  describeEachDatabase('AUTH_OAUTH_SERVER_ENABLED unset', (ctx) => {
    let h: AuthHarness
    beforeAll(async () => {
      h = await startAuth(ctx())
    }, 60_000)
    afterAll(() => h?.close())

    it('answers 404 feature_disabled', async () => {
      const { error } = await h.admin().auth.admin.oauth.listClients()
      expect(error).toMatchObject({ status: 404, code: 'feature_disabled', message: 'OAuth server is disabled' })
    })
  })
})
