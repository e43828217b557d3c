/**
 * Where auth emails go: SMTP (nodemailer) when `SMTP_URL` is set, otherwise the development
 * outbox table `_resolution.auth_outbox`, which the logs point to. The outbox is written in the
 * request's transaction, so a failed request leaves no mail behind.
 * @module
 */
import nodemailer from 'nodemailer'
import type { Config } from '../config/config.ts'
import type { Database, Queryable } from '../db/types.ts'
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
  /** Prepares whatever the mailer needs (the outbox table) outside any request transaction. */
  ready(database: Database): Promise<void>
  send(tx: Queryable, mail: Mail): Promise<void>
  readonly description: string
}

export const OUTBOX_TABLE = '_resolution.auth_outbox'

const OUTBOX_DDL = `
CREATE SCHEMA IF NOT EXISTS _resolution;
CREATE TABLE IF NOT EXISTS _resolution.auth_outbox (
  id bigserial PRIMARY KEY,
  created_at timestamptz NOT NULL DEFAULT now(),
  kind text NOT NULL,
  recipient text NOT NULL,
  subject text NOT NULL,
  body text NOT NULL,
  otp text,
  link text
);
CREATE INDEX IF NOT EXISTS auth_outbox_recipient_idx ON _resolution.auth_outbox (recipient, id);
REVOKE ALL ON _resolution.auth_outbox FROM PUBLIC;`

function outboxMailer(logger: Logger, options: { lambda: boolean }): Mailer {
  const prepared = new WeakMap<Database, Promise<void>>()
  return {
    description: `development outbox (${OUTBOX_TABLE})`,
    ready(database) {
      // Lambda never runs DDL: there the outbox must exist already (or SMTP_URL be set).
      if (options.lambda) return Promise.resolve()
      let pending = prepared.get(database)
      if (!pending) {
        // Two processes may race on CREATE … IF NOT EXISTS (duplicate catalog rows): retry once.
        pending = database.exec(OUTBOX_DDL).catch(() => database.exec(OUTBOX_DDL))
        pending.catch(() => prepared.delete(database))
        prepared.set(database, pending)
      }
      return pending
    },
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
        if ((error as { code?: string }).code === '42P01') {
          throw new Error(`auth email not sent: ${OUTBOX_TABLE} does not exist (set SMTP_URL, or create the outbox outside Lambda)`, { cause: error })
        }
        throw error
      }
      logger.info({ kind: mail.kind, outbox: OUTBOX_TABLE }, `auth email written to the development outbox ${OUTBOX_TABLE} (SMTP_URL is unset)`)
    },
  }
}

function smtpMailer(config: Config, logger: Logger): Mailer {
  const transport = nodemailer.createTransport(config.smtpUrl!)
  const from = `"${config.auth.smtpSenderName.replace(/"/g, '')}" <${config.auth.smtpAdminEmail}>`
  return {
    description: 'SMTP',
    ready: async () => {},
    async send(_tx, mail) {
      await transport.sendMail({ from, to: mail.to, subject: mail.subject, text: mail.text, html: mail.html })
      logger.info({ kind: mail.kind }, 'auth email sent over SMTP')
    },
  }
}

export function createMailer(config: Config, logger: Logger, options: { lambda?: boolean } = {}): Mailer {
  return config.smtpUrl ? smtpMailer(config, logger) : outboxMailer(logger, { lambda: options.lambda ?? false })
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
