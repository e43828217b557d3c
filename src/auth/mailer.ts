/**
 * Where auth emails go: SMTP (nodemailer) when `SMTP_URL` is set, otherwise the development
 * outbox table `_resolution.auth_outbox`, which the logs point to. The outbox is written in the
 * request's transaction, so a failed request leaves no mail behind.
 * @module
 */
import type { Transporter } from 'nodemailer'
import type { Config } from '../config/config.ts'
import { hasSqlState } from '../db/sqlstate.ts'
import type { Queryable } from '../db/types.ts'
import type { Logger } from '../logger.ts'

export type MailKind = 'signup' | 'invite' | 'magiclink' | 'recovery' | 'email_change_current' | 'email_change_new' | 'reauthentication'

export interface Mail {
  kind: MailKind
  to: string
  subject: string
  text: string
  html: string
  /** The one-time code the mail carries (also in the link's hash). */
  otp?: string
  link?: string
}

export interface Mailer {
  send(tx: Queryable, mail: Mail): Promise<void>
  readonly description: string
}

export const OUTBOX_TABLE = '_resolution.auth_outbox'

function outboxMailer(logger: Logger): Mailer {
  return {
    description: `development outbox (${OUTBOX_TABLE})`,
    async send(tx, mail) {
      try {
        await tx.query(`INSERT INTO _resolution.auth_outbox (kind, recipient, subject, body, otp, link) VALUES ($1, $2, $3, $4, $5, $6)`, [
          mail.kind,
          mail.to,
          mail.subject,
          mail.text,
          mail.otp ?? null,
          mail.link ?? null,
        ])
      } catch (error) {
        if (hasSqlState(error, 'undefined_table')) {
          throw new Error(`auth email not sent: ${OUTBOX_TABLE} does not exist (set SMTP_URL, or run \`resolution db init\` to create it)`, { cause: error })
        }
        throw error
      }
      logger.info({ kind: mail.kind, outbox: OUTBOX_TABLE }, `auth email written to the development outbox ${OUTBOX_TABLE} (SMTP_URL is unset)`)
    },
  }
}

function smtpMailer(config: Config, logger: Logger): Mailer {
  // Loaded on the first mail: nodemailer is a third of the Lambda bundle's import time.
  let transport: Promise<Transporter> | undefined
  const connect = () => (transport ??= import('nodemailer').then((nodemailer) => nodemailer.default.createTransport(config.smtpUrl!)))
  const from = `"${config.auth.smtpSenderName.replace(/"/g, '')}" <${config.auth.smtpAdminEmail}>`
  return {
    description: 'SMTP',
    async send(_tx, mail) {
      await (await connect()).sendMail({ from, to: mail.to, subject: mail.subject, text: mail.text, html: mail.html })
      logger.info({ kind: mail.kind }, 'auth email sent over SMTP')
    },
  }
}

export function createMailer(config: Config, logger: Logger): Mailer {
  return config.smtpUrl ? smtpMailer(config, logger) : outboxMailer(logger)
}

export interface OutboxMail {
  id: string
  kind: MailKind
  recipient: string
  subject: string
  body: string
  otp: string | null
  link: string | null
  created_at: string
}

/** The newest outbox mails to `recipient` (tests, `resolution` tooling). */
export async function readOutbox(database: Queryable, recipient: string, limit = 10): Promise<OutboxMail[]> {
  const { rows } = await database.query<OutboxMail>(
    `SELECT id::text, kind, recipient, subject, body, otp, link, created_at FROM _resolution.auth_outbox
      WHERE lower(recipient) = lower($1) ORDER BY auth_outbox.id DESC LIMIT $2`,
    [recipient, limit],
  )
  return rows
}
