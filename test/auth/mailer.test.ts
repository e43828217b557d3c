/** The development outbox: created once outside request transactions, never by a Lambda instance. */
import { expect, it } from 'vitest'
import { createMailer, readOutbox } from '../../src/auth/mailer.ts'
import { loadConfig } from '../../src/config/config.ts'
import { createLogger } from '../../src/logger.ts'
import { describeEachDatabase } from '../support/databases.ts'

const mail = { kind: 'signup' as const, to: 'Someone@Example.com', subject: 'Confirm Your Signup', text: 'code 123456', html: '<p>123456</p>', otp: '123456', link: 'http://x/verify' }

describeEachDatabase('auth outbox', (ctx) => {
  const config = loadConfig({ JWT_SECRET: 'x'.repeat(40) })
  const logger = createLogger('silent')

  it('on Lambda runs no DDL, and a missing outbox fails with a clear message', async () => {
    const database = ctx().database
    const mailer = createMailer(config, logger, { lambda: true })
    await mailer.ready(database)
    const exists = await database.query<{ t: string | null }>(`SELECT to_regclass('_resolution.auth_outbox')::text AS t`)
    expect(exists.rows[0]!.t).toBeNull()
    await expect(database.transaction((tx) => mailer.send(tx, mail))).rejects.toThrow(/does not exist \(set SMTP_URL/)
  })

  it('creates the outbox idempotently (also concurrently) and stores mails in the request transaction', async () => {
    const database = ctx().database
    await Promise.all([createMailer(config, logger).ready(database), createMailer(config, logger).ready(database)])
    const mailer = createMailer(config, logger)
    await mailer.ready(database)
    await database.transaction((tx) => mailer.send(tx, mail))
    await expect(database.transaction(async (tx) => {
      await mailer.send(tx, { ...mail, otp: '999999' })
      throw new Error('request failed')
    })).rejects.toThrow('request failed')
    const rows = await readOutbox(database, 'someone@example.com')
    expect(rows.map((r) => r.otp)).toEqual(['123456'])
  })
})
