/**
 * The send-email hook as a Postgres function (`AUTH_HOOK_SEND_EMAIL_*`): every auth email goes to
 * the function as `{metadata, user, email_data}` instead of out; the codes it gets verify; its
 * error refuses the request and leaves nothing behind; and hooks get GoTrue's 2 s timeout.
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { readOutbox } from '../../src/auth/mailer.ts'
import { describeEachDatabase } from '../support/databases.ts'
import { startAuth, uniqueEmail, type AuthHarness } from './support.ts'

interface HookEvent {
  metadata: { name: string; uuid: string }
  user: { id: string; email: string }
  email_data: { token: string; token_hash: string; token_new: string; token_hash_new: string; email_action_type: string; redirect_to: string; site_url: string }
}

describeEachDatabase('auth send-email hook', (ctx) => {
  let h: AuthHarness
  beforeAll(async () => {
    const { database } = ctx()
    await database.query('CREATE TABLE IF NOT EXISTS public.sent_emails (id bigserial PRIMARY KEY, event jsonb NOT NULL)')
    await database.query(`
      CREATE OR REPLACE FUNCTION public.send_email_hook(event jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
      BEGIN
        IF event->'user'->>'email' LIKE 'refused-%' THEN
          RETURN jsonb_build_object('error', jsonb_build_object('http_code', 429, 'message', 'Mail provider refused'));
        END IF;
        IF event->'user'->>'email' LIKE 'slow-%' THEN
          PERFORM pg_sleep(5);
        END IF;
        INSERT INTO public.sent_emails (event) VALUES (event);
        RETURN '{}'::jsonb;
      END $$`)
    h = await startAuth(ctx(), {
      AUTH_AUTOCONFIRM: 'false',
      AUTH_HOOK_SEND_EMAIL_ENABLED: 'true',
      AUTH_HOOK_SEND_EMAIL_URI: 'pg-functions://postgres/public/send_email_hook',
    })
  }, 60_000)
  afterAll(() => h?.close())

  async function eventsFor(email: string): Promise<HookEvent[]> {
    const { rows } = await ctx().database.query<{ event: HookEvent }>("SELECT event FROM public.sent_emails WHERE event->'user'->>'email' = $1 ORDER BY id", [email])
    return rows.map((r) => r.event)
  }

  it('hands the signup mail to the function instead of sending it; its code confirms the account', async () => {
    const email = uniqueEmail('hooked')
    const client = h.client()
    const { data, error } = await client.auth.signUp({ email, password: 'secret123' })
    expect(error).toBeNull()
    const [event, ...more] = await eventsFor(email)
    expect(more).toHaveLength(0)
    expect(event).toMatchObject({
      metadata: { name: 'send-email' },
      user: { id: data.user!.id, email },
      email_data: { email_action_type: 'signup', token: expect.stringMatching(/^\d{6}$/), token_new: '', token_hash_new: '' },
    })
    expect(event!.email_data.token_hash).toMatch(/^[0-9a-f]{56}$/)
    expect(event!.email_data.site_url).toBe(h.app.services.config.auth.externalUrl)
    expect(await readOutbox(ctx().database, email, 1)).toEqual([])

    const verified = await client.auth.verifyOtp({ email, token: event!.email_data.token, type: 'signup' })
    expect(verified.error).toBeNull()
    expect(verified.data.session).not.toBeNull()

    // Recovery goes the same way.
    await client.auth.resetPasswordForEmail(email)
    const recovery = (await eventsFor(email)).at(-1)!
    expect(recovery.email_data.email_action_type).toBe('recovery')
    expect((await h.client().auth.verifyOtp({ email, token: recovery.email_data.token, type: 'recovery' })).error).toBeNull()
  })

  it('refuses the request with the function\'s error and keeps nothing of it', async () => {
    const email = uniqueEmail('refused')
    const { error } = await h.client().auth.signUp({ email: `refused-${email}`, password: 'secret123' })
    expect(error).toMatchObject({ status: 429, message: 'Mail provider refused' })
    const { rows } = await ctx().database.query('SELECT 1 FROM auth.users WHERE email = $1', [`refused-${email}`])
    expect(rows).toHaveLength(0)
  })

  it('stops a function that runs past 2 seconds with 500 hook_timeout', async ({ skip }) => {
    // PGlite runs in this process's thread and has no statement timeout: nothing can stop a hook there.
    if (ctx().target === 'pglite') skip()
    const email = `slow-${uniqueEmail('slow')}`
    const started = Date.now()
    const res = await h.raw('/signup', { method: 'POST', json: { email, password: 'secret123' } })
    expect(res.status).toBe(500)
    expect(await res.json()).toMatchObject({ error_code: 'hook_timeout' })
    expect(Date.now() - started).toBeLessThan(4500)
    const { rows } = await ctx().database.query('SELECT 1 FROM auth.users WHERE email = $1', [email])
    expect(rows).toHaveLength(0)
    // The connection's own timeout is back: a later request on it runs normally.
    expect((await h.client().auth.signUp({ email: uniqueEmail('after'), password: 'secret123' })).error).toBeNull()
  }, 15_000)
})
