/** The development outbox: made by the bootstrap, written in the request's transaction. */
import { expect, it } from 'vitest'
import { createMailer, readOutbox, type Mail, type Mailer } from '../../src/auth/mailer.ts'
import { loadConfig } from '../../src/config/config.ts'
import { createLogger } from '../../src/logger.ts'
import { describeEachDatabase } from '../support/databases.ts'
import { startAuth, uniqueEmail } from './support.ts'

const mail = { kind: 'signup' as const, to: 'Someone@Example.com', subject: 'Confirm Your Signup', text: 'code 123456', html: '<p>123456</p>', otp: '123456', link: 'http://x/verify' }

describeEachDatabase('auth outbox', (ctx) => {
  const config = loadConfig({ JWT_SECRET: 'x'.repeat(40) })
  const logger = createLogger('silent')

  it('stores mails in the request transaction: a failed request leaves none behind', async () => {
    const database = ctx().database
    const mailer = createMailer(config, logger)
    await database.transaction((tx) => mailer.send(tx, mail))
    await expect(
      database.transaction(async (tx) => {
        await mailer.send(tx, { ...mail, otp: '999999' })
        throw new Error('request failed')
      }),
    ).rejects.toThrow('request failed')
    const rows = await readOutbox(database, 'someone@example.com')
    expect(rows.map((r) => r.otp)).toEqual(['123456'])
  })

  it('fails with a clear message where the outbox is missing (a database never bootstrapped)', async () => {
    const database = ctx().database
    await database.exec('DROP TABLE _resolution.auth_outbox')
    await expect(database.transaction((tx) => createMailer(config, logger).send(tx, mail))).rejects.toThrow(/does not exist \(set SMTP_URL, or run `resolution db init`/)
  })
})

describeEachDatabase('an injected mailer (createServices({ mailer }))', (ctx) => {
  it('receives the mails auth sends, in the request transaction, instead of the outbox', async () => {
    const sent: Mail[] = []
    const mailer: Mailer = { description: 'test mailer', send: async (_tx, mail) => void sent.push(mail) }
    const h = await startAuth(ctx(), { AUTH_AUTOCONFIRM: 'false' }, { mailer })
    try {
      const email = uniqueEmail('injected')
      const { error } = await h.client().auth.signUp({ email, password: 'Injected-pass-1' })
      expect(error).toBeNull()
      expect(sent).toHaveLength(1)
      expect(sent[0]).toMatchObject({ kind: 'signup', to: email })
      expect(sent[0]!.otp).toMatch(/^\d{6}$/)
      expect(await readOutbox(ctx().database, email)).toEqual([])
    } finally {
      await h.close()
    }
  })
})
