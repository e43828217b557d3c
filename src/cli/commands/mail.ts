/**
 * `resolution mail`: the development outbox (auth emails kept in `_resolution.auth_outbox` when
 * SMTP_URL is unset), newest first, with their codes and links. Works on DATABASE_URL, on the
 * embedded database, and through a running service's wire port.
 * @module
 */
import type { Command } from 'commander'
import { FatalError } from '../../errors.ts'
import { hasSqlState } from '../../db/sqlstate.ts'
import type { Queryable } from '../../db/types.ts'
import { withDatabase } from '../context.ts'

export interface OutboxEntry {
  id: string
  created_at: string
  kind: string
  recipient: string
  subject: string
  otp: string | null
  link: string | null
}

export async function listOutbox(database: Queryable, options: { to?: string; limit: number }): Promise<OutboxEntry[]> {
  try {
    const { rows } = await database.query<OutboxEntry>(
      `SELECT id::text, created_at::text, kind, recipient, subject, otp, link FROM _resolution.auth_outbox
        WHERE $1::text IS NULL OR lower(recipient) = lower($1::text) ORDER BY id DESC LIMIT $2`,
      [options.to ?? null, options.limit],
    )
    return rows
  } catch (error) {
    if (hasSqlState(error, 'undefined_table', 'invalid_schema_name')) {
      throw new FatalError('no development outbox in this database (_resolution.auth_outbox): run `resolution db init` or start the service once')
    }
    throw error
  }
}

export function formatOutbox(entries: OutboxEntry[], to?: string): string {
  if (entries.length === 0) return `no mail in the outbox${to ? ` for ${to}` : ''}\n`
  return entries
    .map((m) => {
      const lines = [`#${m.id}  ${m.created_at}  ${m.kind}  to ${m.recipient}`, `  subject: ${m.subject}`]
      if (m.otp) lines.push(`  code:    ${m.otp}`)
      if (m.link) lines.push(`  link:    ${m.link}`)
      return lines.join('\n')
    })
    .join('\n\n') + '\n'
}

function limitOption(raw: string): number {
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 1000) throw new FatalError(`--limit: must be a whole number from 1 to 1000, got ${JSON.stringify(raw)}`)
  return Number(raw)
}

export function registerMail(program: Command): void {
  program
    .command('mail')
    .description('List the development outbox (auth emails when SMTP_URL is unset), newest first, with codes and links')
    .option('--database-url <url>', 'PostgreSQL URL (overrides DATABASE_URL; without either, the embedded database or the running service)')
    .option('--to <email>', 'only mail to this address')
    .option('--limit <n>', 'at most this many mails (1-1000)', '10')
    .option('--json', 'print JSON')
    .action(async (options: { databaseUrl?: string; to?: string; limit: string; json?: boolean }) => {
      const limit = limitOption(options.limit)
      await withDatabase(options, async (database) => {
        const entries = await listOutbox(database, { to: options.to, limit })
        process.stdout.write(options.json ? `${JSON.stringify(entries, null, 2)}\n` : formatOutbox(entries, options.to))
      })
    })
}
