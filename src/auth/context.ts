/**
 * What every auth handler gets: the services, auth config, mailer, limiters, and a transaction
 * helper that runs as the connecting (owner) role — auth tables are not the API roles' business.
 * @module
 */
import type { Context } from 'hono'
import type { Claims } from '../jwt/service.ts'
import type { AuthConfig } from '../config/config.ts'
import type { Queryable } from '../db/types.ts'
import type { Services } from '../services.ts'
import { disableBcryptWorkers } from './bcrypt-pool.ts'
import { createMailer, type Mailer } from './mailer.ts'
import type { UserRow } from './models/user.ts'
import { createLimiters, type AuthLimiters } from './rate-limit.ts'

export interface AuthDeps {
  services: Services
  config: AuthConfig
  mailer: Mailer
  limits: AuthLimiters
  /** BEGIN … COMMIT on the app database, as the connecting role. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>
}

export function createAuthDeps(services: Services): AuthDeps {
  // One request at a time (Lambda): bcrypt threads would only cost memory there.
  if (!services.profile.workerThreads) disableBcryptWorkers()
  const mailer = services.mailer ?? createMailer(services.config, services.logger)
  return {
    services,
    config: services.config.auth,
    mailer,
    limits: services.authLimiters ?? createLimiters(services.config.auth, () => services.database(), services.clock),
    async transaction(fn) {
      const database = await services.database()
      return database.transaction(fn)
    },
  }
}

/** Request values set by the auth middleware (GoTrue's `withUser`/`getUser`). */
export type AuthVariables = {
  requestId?: string
  claims: Claims
  user: UserRow
  sessionId: string | undefined
  /** Whether the request carries admin rights (service_role). */
  admin: boolean
  /** The client's address (client-address.ts): per-client limits and audit rows. */
  clientAddress: string | undefined
}

export type AuthEnv = { Variables: AuthVariables }
export type AuthContext = Context<AuthEnv>
