/**
 * Private channels, authorized as Supabase Realtime does it: row-level security on
 * `realtime.messages`. In one transaction that is always rolled back, a probe message per
 * extension (broadcast, presence) is inserted for the topic by the service; then, as the caller's
 * role with its claims and `realtime.topic` set, the probes it can SELECT say what it may read,
 * and an INSERT it may make (each under a savepoint) what it may write.
 * @module
 */
import { randomUUID } from 'node:crypto'
import { withSession } from '../db/session.ts'
import { hasSqlState } from '../db/sqlstate.ts'
import { roleGuardOf } from '../http/role-guard.ts'
import type { Claims } from '../jwt/service.ts'
import type { Services } from '../services.ts'
import type { Permissions } from './channel.ts'

const EXTENSIONS = ['broadcast', 'presence'] as const
export type Extension = (typeof EXTENSIONS)[number]

const NONE: Record<Extension, Permissions> = { broadcast: { read: false, write: false }, presence: { read: false, write: false } }

export async function policiesFor(services: Services, claims: Claims, topic: string): Promise<Record<Extension, Permissions>> {
  const role = typeof claims.role === 'string' ? claims.role : 'anon'
  // A role the role guard refuses (a token naming `postgres`) gets nothing, as in REST.
  if ((await roleGuardOf(services).verdict(role).catch(() => 'refused')) !== 'allowed') return NONE
  const database = await services.database()
  const probes = { broadcast: randomUUID(), presence: randomUUID() }
  const options = { claims: { ...claims, role }, settings: { 'realtime.topic': topic }, statementTimeoutMs: services.config.statementTimeoutMs }
  try {
    return await withSession(database, options, async (tx) => {
      tx.markRollback()
      await tx.query(`INSERT INTO realtime.messages (id, topic, extension, private) VALUES ($1, $3, 'broadcast', true), ($2, $3, 'presence', true)`, [probes.broadcast, probes.presence, topic])
      await tx.query(`SELECT set_config('role', $1, true)`, [role])
      const { rows } = await tx.query<{ id: string }>('SELECT id FROM realtime.messages WHERE id = ANY($1::uuid[])', [[probes.broadcast, probes.presence]])
      const readable = new Set(rows.map((row) => row.id))
      const result = {} as Record<Extension, Permissions>
      for (const extension of EXTENSIONS) {
        await tx.query('SAVEPOINT realtime_write')
        let write = true
        try {
          await tx.query(`INSERT INTO realtime.messages (topic, extension, private) VALUES ($1, $2, true)`, [topic, extension])
        } catch (error) {
          if (!hasSqlState(error, 'insufficient_privilege')) throw error
          write = false
        }
        await tx.query('ROLLBACK TO SAVEPOINT realtime_write')
        result[extension] = { read: readable.has(probes[extension]), write }
      }
      return result
    })
  } catch (error) {
    // No realtime.messages (a database bootstrapped before it existed): nobody is authorized.
    if (hasSqlState(error, 'undefined_table')) return NONE
    throw error
  }
}
