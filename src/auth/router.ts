/**
 * The Supabase-Auth-compatible `/auth/v1` router: the whole route tree in one place (as GoTrue's
 * `api.go`), each endpoint in its own file under `handlers/`, errors rendered by one function in
 * the shape the request's `X-Supabase-Api-Version` asks for.
 * @module
 */
import { Hono, type Context } from 'hono'
import { HTTPException } from 'hono/http-exception'
import { infrastructureError } from '../db/errors.ts'
import { hasSqlState } from '../db/sqlstate.ts'
import { HttpError } from '../errors.ts'
import type { Services } from '../services.ts'
import { clientAddress } from '../http/client-address.ts'
import { createAuthDeps, type AuthContext, type AuthDeps, type AuthEnv } from './context.ts'
import { authError, renderAuthError } from './errors.ts'
import * as admin from './handlers/admin-users.ts'
import { generateLink } from './handlers/generate-link.ts'
import { invite } from './handlers/invite.ts'
import { logout } from './handlers/logout.ts'
import * as mfa from './handlers/mfa.ts'
import { health, jwks, openidConfiguration, settings } from './handlers/misc.ts'
import * as oauthClients from './handlers/oauth-clients.ts'
import * as passkeys from './handlers/passkeys.ts'
import { magicLink, otp } from './handlers/otp.ts'
import { recover } from './handlers/recover.ts'
import { resend } from './handlers/resend.ts'
import { signup } from './handlers/signup.ts'
import { token } from './handlers/token.ts'
import { authorize, manualLinkingDisabled, samlDisabled } from './handlers/unsupported.ts'
import { getUser, reauthenticate, updateCurrentUser } from './handlers/user.ts'
import { verifyGet, verifyPost } from './handlers/verify.ts'
import { requireAdmin, requireApiKey, requireUser } from './middleware.ts'

type Handler = (c: AuthContext, deps: AuthDeps) => Response | Promise<Response>

/** Turns a thrown value into an auth error (or undefined when it is a bug). */
export function toAuthError(error: unknown): HttpError | undefined {
  if (error instanceof HttpError) return error
  if (error instanceof HTTPException && error.status === 413) return authError(413, 'payload_too_large', 'Request body too large')
  const infra = infrastructureError(error)
  if (infra) return infra
  const constraint = (error as { constraint?: string } | null | undefined)?.constraint
  if (hasSqlState(error, 'unique_violation') && /email/.test(constraint ?? '')) return authError(422, 'email_exists', 'A user with this email address has already been registered')
  if (hasSqlState(error, 'lock_not_available', 'serialization_failure', 'deadlock_detected')) return authError(409, 'conflict', 'Concurrent requests conflicted; retry')
  return undefined
}

export function authRouter(services: Services): Hono<AuthEnv> {
  const deps = createAuthDeps(services)
  const app = new Hono<AuthEnv>()
  const h = (fn: Handler) => (c: AuthContext) => fn(c, deps)
  const keyed = requireApiKey(deps)
  const user = requireUser(deps)
  const adminOnly = requireAdmin(deps)

  app.use('*', async (c, next) => {
    c.set('clientAddress', clientAddress(c, deps.config.rateLimitHeader, deps.config.rateLimitTrustedHops))
    await next()
  })

  // Open routes (no apikey), as the Supabase gateway has them.
  app.get('/health', h(health))
  app.get('/.well-known/jwks.json', h(jwks))
  app.get('/.well-known/openid-configuration', h(openidConfiguration))
  app.get('/verify', h(verifyGet))

  app.get('/settings', keyed, h(settings))
  app.post('/signup', keyed, h(signup))
  app.post('/token', keyed, h(token))
  app.post('/verify', keyed, h(verifyPost))
  app.post('/recover', keyed, h(recover))
  app.post('/otp', keyed, h(otp))
  app.post('/magiclink', keyed, h(magicLink))
  app.post('/resend', keyed, h(resend))
  app.get('/user', keyed, user, h(getUser))
  app.put('/user', keyed, user, h(updateCurrentUser))
  app.post('/logout', keyed, user, h(logout))
  app.get('/reauthenticate', keyed, user, h(reauthenticate))

  // Not offered here; answered as GoTrue answers with these features off.
  app.get('/authorize', h(authorize))
  app.get('/user/identities/authorize', keyed, user, manualLinkingDisabled)
  app.delete('/user/identities/:id', keyed, user, manualLinkingDisabled)
  app.post('/sso', keyed, samlDisabled)
  app.post('/factors', keyed, user, h(mfa.enroll))
  app.post('/factors/:factorId/challenge', keyed, user, h(mfa.challenge))
  app.post('/factors/:factorId/verify', keyed, user, h(mfa.verify))
  app.delete('/factors/:factorId', keyed, user, h(mfa.unenroll))
  const passkeysOn = passkeys.passkeysEnabled(deps)
  app.post('/passkeys/authentication/options', keyed, passkeysOn, h(passkeys.authenticationOptions))
  app.post('/passkeys/authentication/verify', keyed, passkeysOn, h(passkeys.authenticationVerify))
  app.post('/passkeys/registration/options', keyed, passkeysOn, user, h(passkeys.registrationOptions))
  app.post('/passkeys/registration/verify', keyed, passkeysOn, user, h(passkeys.registrationVerify))
  app.get('/passkeys', keyed, passkeysOn, user, h(passkeys.listOwn))
  app.patch('/passkeys/:passkeyId', keyed, passkeysOn, user, h(passkeys.rename))
  app.delete('/passkeys/:passkeyId', keyed, passkeysOn, user, h(passkeys.removeOwn))

  app.post('/invite', keyed, adminOnly, h(invite))
  app.post('/admin/generate_link', keyed, adminOnly, h(generateLink))
  app.get('/admin/users', keyed, adminOnly, h(admin.listUsers))
  app.post('/admin/users', keyed, adminOnly, h(admin.createUser))
  app.get('/admin/users/:id', keyed, adminOnly, h(admin.getUserById))
  app.put('/admin/users/:id', keyed, adminOnly, h(admin.updateUserById))
  app.delete('/admin/users/:id', keyed, adminOnly, h(admin.deleteUserById))
  app.get('/admin/users/:id/factors', keyed, adminOnly, h(mfa.adminListFactors))
  app.delete('/admin/users/:id/factors/:factorId', keyed, adminOnly, h(mfa.adminDeleteFactor))
  app.get('/admin/audit', keyed, adminOnly, h(admin.auditLog))
  app.get('/admin/users/:id/passkeys', keyed, adminOnly, passkeysOn, h(passkeys.adminList))
  app.delete('/admin/users/:id/passkeys/:passkeyId', keyed, adminOnly, passkeysOn, h(passkeys.adminRemove))
  app.get('/admin/oauth/clients', keyed, adminOnly, h(oauthClients.listClients))
  app.post('/admin/oauth/clients', keyed, adminOnly, h(oauthClients.registerClient))
  app.get('/admin/oauth/clients/:clientId', keyed, adminOnly, h(oauthClients.getClient))
  app.put('/admin/oauth/clients/:clientId', keyed, adminOnly, h(oauthClients.updateClient))
  app.delete('/admin/oauth/clients/:clientId', keyed, adminOnly, h(oauthClients.deleteClient))
  app.post('/admin/oauth/clients/:clientId/regenerate_secret', keyed, adminOnly, h(oauthClients.regenerateSecret))

  app.notFound((c) => respond(c, authError(404, 'not_found', 'Not Found')))
  app.onError((error, c) => {
    const known = toAuthError(error)
    if (!known) {
      services.logger.error({ err: error, requestId: c.get('requestId') }, 'auth: unexpected failure')
      return respond(c, authError(500, 'unexpected_failure', 'Unexpected failure, please check server logs for more information'))
    }
    if (known.status >= 500) services.logger.warn({ code: known.code, requestId: c.get('requestId') }, known.message)
    return respond(c, known)
  })
  return app
}

function respond(c: Context, error: HttpError): Response {
  const rendered = renderAuthError(error, c.req.header('x-supabase-api-version'), c.get('requestId') as string | undefined)
  return c.json(rendered.body, rendered.status as 400, rendered.headers)
}
