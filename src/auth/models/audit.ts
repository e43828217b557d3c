/**
 * `auth.audit_log_entries`, with GoTrue's payload (`actor_id`, `actor_username`, `action`,
 * `log_type`, `traits`) so Supabase's own dashboards read our rows.
 * @module
 */
import type { Queryable } from '../../db/types.ts'
import { NIL_INSTANCE } from './user.ts'

export type AuditAction =
  | 'login'
  | 'logout'
  | 'invite_accepted'
  | 'user_signedup'
  | 'user_invited'
  | 'user_deleted'
  | 'user_modified'
  | 'user_recovery_requested'
  | 'user_reauthenticate_requested'
  | 'user_confirmation_requested'
  | 'user_repeated_signup'
  | 'user_updated_password'
  | 'token_revoked'
  | 'token_refreshed'
  | 'factor_in_progress'
  | 'challenge_created'
  | 'verification_attempted'
  | 'factor_unenrolled'
  | 'factor_deleted'
  | 'passkey_created'
  | 'passkey_updated'
  | 'passkey_deleted'

const LOG_TYPE: Record<AuditAction, string> = {
  login: 'account',
  logout: 'account',
  invite_accepted: 'account',
  user_signedup: 'team',
  user_invited: 'team',
  user_deleted: 'team',
  user_modified: 'user',
  user_recovery_requested: 'user',
  user_reauthenticate_requested: 'user',
  user_confirmation_requested: 'user',
  user_repeated_signup: 'user',
  user_updated_password: 'user',
  token_revoked: 'token',
  token_refreshed: 'token',
  factor_in_progress: 'factor',
  challenge_created: 'factor',
  verification_attempted: 'factor',
  factor_unenrolled: 'factor',
  factor_deleted: 'factor',
  passkey_created: 'user',
  passkey_updated: 'user',
  passkey_deleted: 'user',
}

export interface AuditEntry {
  action: AuditAction
  actorId: string
  actorUsername: string
  traits?: Record<string, unknown>
  ip: string
}

/** The payload object for one entry (also used inside bigger statements). */
export function auditPayload(entry: AuditEntry): string {
  const payload: Record<string, unknown> = {
    actor_id: entry.actorId,
    actor_username: entry.actorUsername,
    actor_via_sso: false,
    action: entry.action,
    log_type: LOG_TYPE[entry.action],
  }
  if (entry.traits && Object.keys(entry.traits).length) payload.traits = entry.traits
  return JSON.stringify(payload)
}

export async function writeAudit(tx: Queryable, ...entries: AuditEntry[]): Promise<void> {
  for (const entry of entries) {
    await tx.query(
      `INSERT INTO auth.audit_log_entries (instance_id, id, payload, created_at, ip_address) VALUES ($1, gen_random_uuid(), $2::json, now(), $3)`,
      [NIL_INSTANCE, auditPayload(entry), entry.ip.slice(0, 64)],
    )
  }
}
