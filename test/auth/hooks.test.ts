/**
 * The custom access token hook as a Postgres function (`AUTH_HOOK_CUSTOM_ACCESS_TOKEN_*`): claims
 * it adds reach every access token (sign-in, refresh); an `error` answer refuses the sign-in with
 * its status and message; output without the required claims is refused, never signed. The
 * password verification attempt hook sees each password check and may reject (and sign out).
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/config.ts'
import { describeEachDatabase } from '../support/databases.ts'
import { jwtPayload, startAuth, uniqueEmail, type AuthHarness } from './support.ts'

describeEachDatabase('auth hooks', (ctx) => {
  let h: AuthHarness
  beforeAll(async () => {
    const { database } = ctx()
    await database.query(`CREATE TABLE IF NOT EXISTS public.user_roles (user_id uuid PRIMARY KEY, user_role text NOT NULL)`)
    await database.query(`
      CREATE OR REPLACE FUNCTION public.custom_access_token_hook(event jsonb) RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
      DECLARE
        claims jsonb := event->'claims';
        found text;
      BEGIN
        IF claims->>'email' LIKE 'refused-%' THEN
          RETURN jsonb_build_object('error', jsonb_build_object('http_code', 403, 'message', 'Accounts of this kind may not sign in'));
        END IF;
        IF claims->>'email' LIKE 'broken-%' THEN
          RETURN jsonb_build_object('claims', claims - 'role');
        END IF;
        SELECT user_role INTO found FROM public.user_roles WHERE user_id = (event->>'user_id')::uuid;
        RETURN jsonb_build_object('claims', claims || jsonb_build_object('user_role', coalesce(found, 'member'), 'auth_method', event->>'authentication_method'));
      END $$`)
    // Rejects after two wrong passwords of one account, and signs that account out.
    await database.query(`CREATE TABLE IF NOT EXISTS public.password_failures (user_id uuid PRIMARY KEY, failures int NOT NULL)`)
    await database.query(`
      CREATE OR REPLACE FUNCTION public.password_attempt_hook(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
      DECLARE n int;
      BEGIN
        IF (event->>'valid')::boolean THEN
          SELECT failures INTO n FROM public.password_failures WHERE user_id = (event->>'user_id')::uuid;
          IF coalesce(n, 0) >= 2 THEN
            RETURN jsonb_build_object('decision', 'reject', 'message', 'Locked after failed attempts', 'should_logout_user', true);
          END IF;
          RETURN jsonb_build_object('decision', 'continue');
        END IF;
        INSERT INTO public.password_failures AS f VALUES ((event->>'user_id')::uuid, 1)
          ON CONFLICT (user_id) DO UPDATE SET failures = f.failures + 1;
        RETURN jsonb_build_object('decision', 'continue');
      END $$`)
    h = await startAuth(ctx(), {
      AUTH_HOOK_CUSTOM_ACCESS_TOKEN_ENABLED: 'true',
      AUTH_HOOK_CUSTOM_ACCESS_TOKEN_URI: 'pg-functions://postgres/public/custom_access_token_hook',
      AUTH_HOOK_PASSWORD_VERIFICATION_ATTEMPT_ENABLED: 'true',
      AUTH_HOOK_PASSWORD_VERIFICATION_ATTEMPT_URI: 'pg-functions://postgres/public/password_attempt_hook',
    })
  }, 60_000)
  afterAll(() => h?.close())

  it('adds the function\'s claims to sign-in and refresh tokens', async () => {
    const email = uniqueEmail('hooked')
    const client = h.client()
    const signup = await client.auth.signUp({ email, password: 'secret123' })
    expect(signup.error).toBeNull()
    expect(jwtPayload(signup.data.session!.access_token)).toMatchObject({ user_role: 'member', role: 'authenticated', email })

    await ctx().database.query('INSERT INTO public.user_roles (user_id, user_role) VALUES ($1, $2)', [signup.data.user!.id, 'admin'])
    const signIn = await client.auth.signInWithPassword({ email, password: 'secret123' })
    expect(jwtPayload(signIn.data.session!.access_token)).toMatchObject({ user_role: 'admin', auth_method: 'password' })
    const refreshed = await client.auth.refreshSession()
    const claims = jwtPayload(refreshed.data.session!.access_token)
    expect(claims).toMatchObject({ user_role: 'admin', auth_method: 'token_refresh' })
    expect(refreshed.data.session!.expires_in).toBe(3600)
    // The token still works as a user token.
    expect((await client.auth.getUser()).data.user!.email).toBe(email)
  })

  it('refuses with the function\'s error, and refuses output that drops a required claim', async () => {
    const refused = await h.client().auth.signUp({ email: uniqueEmail('refused'), password: 'secret123' })
    expect(refused.error).toMatchObject({ status: 403, message: 'Accounts of this kind may not sign in' })
    expect(refused.data.session).toBeNull()
    // supabase-js reports any 5xx as a retryable fetch error, so read the answer itself.
    const broken = await h.raw('/signup', { method: 'POST', headers: { 'x-supabase-api-version': '2024-01-01' }, json: { email: uniqueEmail('broken'), password: 'secret123' } })
    expect(broken.status).toBe(500)
    expect(await broken.json()).toEqual({ code: 'unexpected_failure', message: 'output claims do not conform to the expected schema' })
  })

  it('password verification attempt hook: sees each check, its rejection refuses even the right password and signs out', async () => {
    const email = uniqueEmail('attempts')
    const client = h.client()
    expect((await client.auth.signUp({ email, password: 'secret123' })).error).toBeNull()
    const { data } = await client.auth.signInWithPassword({ email, password: 'secret123' })
    const refreshToken = data.session!.refresh_token
    for (let i = 0; i < 2; i++) {
      expect((await h.client().auth.signInWithPassword({ email, password: 'wrong-one' })).error).toMatchObject({ status: 400, code: 'invalid_credentials', message: 'Invalid login credentials' })
    }
    const locked = await h.client().auth.signInWithPassword({ email, password: 'secret123' })
    expect(locked.error).toMatchObject({ status: 400, code: 'invalid_credentials', message: 'Locked after failed attempts' })
    // should_logout_user: the earlier session is gone.
    const refresh = await h.raw('/token?grant_type=refresh_token', { method: 'POST', json: { refresh_token: refreshToken } })
    expect(refresh.status).toBe(400)
  })

  it('reads GoTrue-style settings and refuses a URI that names no function', () => {
    const config = loadConfig({ AUTH_HOOK_CUSTOM_ACCESS_TOKEN_ENABLED: 'true', AUTH_HOOK_CUSTOM_ACCESS_TOKEN_URI: 'pg-functions://postgres/app/claims' })
    expect(config.auth.customAccessTokenHook).toEqual({ schema: 'app', name: 'claims' })
    expect(loadConfig({ AUTH_HOOK_CUSTOM_ACCESS_TOKEN_URI: 'pg-functions://postgres/app/claims' }).auth.customAccessTokenHook).toBeUndefined()
    expect(() => loadConfig({ AUTH_HOOK_CUSTOM_ACCESS_TOKEN_ENABLED: 'true', AUTH_HOOK_CUSTOM_ACCESS_TOKEN_URI: 'https://example.com/hook' })).toThrow(/AUTH_HOOK_CUSTOM_ACCESS_TOKEN_URI/)
  })
})
