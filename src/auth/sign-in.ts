/**
 * Issuing a session for a user inside a handler's transaction: session row, amr, first refresh
 * token, `last_sign_in_at`, a `login` audit row, then the signed access token.
 * @module
 */
import type { Queryable } from '../db/types.ts'
import type { AuthContext, AuthDeps } from './context.ts'
import { customAccessTokenHook } from './hooks.ts'
import { writeAudit } from './models/audit.ts'
import { listFactors } from './models/factor.ts'
import { listIdentities } from './models/identity.ts'
import { createSession, type AuthMethod } from './models/session.ts'
import type { UserRow } from './models/user.ts'
import { clientIp, userAgent } from './request.ts'
import { sessionJson, type SessionJson } from './tokens.ts'
import { userJson, type UserJson } from './user-json.ts'

export async function issueSession(deps: AuthDeps, tx: Queryable, c: AuthContext, user: UserRow, method: AuthMethod): Promise<SessionJson> {
  const ip = clientIp(c)
  const created = await createSession(tx, { userId: user.id, method, ip, userAgent: userAgent(c) })
  await writeAudit(tx, { action: 'login', actorId: user.id, actorUsername: user.email ?? user.phone ?? '', ip, traits: { provider: providerOf(user, method) } })
  const [identities, factors] = [await listIdentities(tx, [user.id]), await listFactors(tx, [user.id])]
  return sessionJson(deps.services, {
    user: created.user,
    userJson: userJson(created.user, identities, factors),
    sessionId: created.sessionId,
    aal: 'aal1',
    amr: [{ method, timestamp: Math.floor(Date.now() / 1000) }],
    refreshToken: created.refreshToken,
    audience: c.req.header('x-jwt-aud') || undefined,
  }, customAccessTokenHook(deps.config.customAccessTokenHook, tx, user.id, method))
}

function providerOf(user: UserRow, method: AuthMethod): string {
  if (method === 'anonymous') return 'anonymous'
  return user.email ? 'email' : user.phone ? 'phone' : 'email'
}

/** The user as JSON with its identities and MFA factors (two extra queries). */
export async function loadUserJson(tx: Queryable, user: UserRow): Promise<UserJson> {
  return userJson(user, await listIdentities(tx, [user.id]), await listFactors(tx, [user.id]))
}
