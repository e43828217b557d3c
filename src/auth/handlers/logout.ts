/**
 * `POST /logout?scope=global|local|others`: deletes sessions (their refresh tokens cascade).
 * A token without `session_id` logs out globally. 204 with no body.
 * @module
 */
import type { AuthContext, AuthDeps } from '../context.ts'
import { validationFailed } from '../errors.ts'
import { writeAudit } from '../models/audit.ts'
import { deleteSessions } from '../models/session.ts'
import { clientIp } from '../request.ts'

const SCOPES = ['global', 'local', 'others'] as const

export async function logout(c: AuthContext, deps: AuthDeps): Promise<Response> {
  const raw = c.req.query('scope') ?? 'global'
  const scope = SCOPES.find((s) => s === raw)
  if (!scope) throw validationFailed(`Unsupported logout scope "${raw}"`)
  const user = c.get('user')
  const ip = clientIp(c)
  await deps.transaction(async (tx) => {
    await deleteSessions(tx, user.id, scope, c.get('sessionId'))
    await writeAudit(tx, { action: 'logout', actorId: user.id, actorUsername: user.email ?? user.phone ?? '', ip })
  })
  return c.body(null, 204)
}
