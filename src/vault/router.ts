/**
 * `/vault/v1`: the vault over HTTP, for the service_role only. Lists and writes never return
 * values; only `GET /secrets/{id or name}` does, with `Cache-Control: no-store`. Each request is
 * one transaction as the connecting role (the service_role check happens here, not in SQL, since
 * Vault grants nobody INSERT/UPDATE on `vault.secrets`).
 * @module
 */
import { Hono, type Context } from 'hono'
import { withSession, type RequestTx } from '../db/session.ts'
import { hasSqlState } from '../db/sqlstate.ts'
import { appError } from '../errors.ts'
import { authenticate } from '../http/principal.ts'
import type { Services } from '../services.ts'
import { VaultError } from './errors.ts'
import { createVaultStore, type VaultStore } from './store.ts'
import { checkReference, parseCreateBody, parseUpdateBody } from './validate.ts'

const SERVICE_ROLE = 'service_role'

async function requireServiceRole(services: Services, c: Context): Promise<Record<string, unknown>> {
  const principal = await authenticate(services, { authorization: c.req.header('authorization'), apikey: c.req.header('apikey'), userAgent: c.req.header('user-agent') })
  if (principal.source === 'none' || principal.role === 'anon') {
    throw appError('unauthorized', 'The vault needs the service_role key (Authorization: Bearer <service_role key>)')
  }
  if (principal.role !== SERVICE_ROLE) throw appError('forbidden', `The vault is for the service_role only, not ${JSON.stringify(principal.role)}`)
  return principal.claims
}

async function jsonBody(c: Context): Promise<unknown> {
  const text = await c.req.text()
  if (text.trim() === '') throw new VaultError('vault_invalid_request', 'a JSON body is required')
  try {
    return JSON.parse(text)
  } catch {
    throw appError('invalid_json', 'The request body is not valid JSON')
  }
}

function pageParam(c: Context, name: string, fallback: number, max: number): number {
  const raw = c.req.query(name)
  if (raw === undefined || raw === '') return fallback
  if (!/^\d{1,9}$/.test(raw) || Number(raw) > max) throw new VaultError('vault_invalid_request', `"${name}" must be a whole number between 0 and ${max}`)
  return Number(raw)
}

function reference(c: Context): string {
  return checkReference(c.req.param('ref') ?? '')
}

export type VaultRouterEnv = { Variables: { vaultClaims: Record<string, unknown> } }

export function vaultRouter(services: Services, store: VaultStore = createVaultStore({ rootKey: services.config.vaultRootKey })): Hono<VaultRouterEnv> {
  const app = new Hono<VaultRouterEnv>()

  // Every route, known or not: strangers learn nothing, not even how input is validated.
  app.use('*', async function vaultServiceRoleOnly(c, next) {
    c.set('vaultClaims', await requireServiceRole(services, c))
    await next()
  })

  /** Runs `fn` in one transaction carrying the caller's claims. */
  async function inTransaction<T>(c: Context<VaultRouterEnv>, fn: (tx: RequestTx) => Promise<T>): Promise<T> {
    const claims = c.get('vaultClaims')
    try {
      return await withSession(await services.database(), { claims, statementTimeoutMs: services.config.statementTimeoutMs }, fn)
    } catch (error) {
      if (hasSqlState(error, 'undefined_table')) {
        throw new VaultError('vault_not_configured', 'this database has no vault.secrets table: run `resolution db init`', { cause: error })
      }
      throw error
    }
  }

  app.get('/secrets', async (c) => {
    const limit = pageParam(c, 'limit', 1000, 1000)
    const offset = pageParam(c, 'offset', 0, 1_000_000_000)
    return c.json(await inTransaction(c, (tx) => store.list(tx, { limit, offset })))
  })

  app.post('/secrets', async (c) => {
    const input = parseCreateBody(await jsonBody(c))
    return c.json(await inTransaction(c, (tx) => store.create(tx, input)), 201)
  })

  app.get('/secrets/:ref', async (c) => {
    const ref = reference(c)
    const secret = await inTransaction(c, (tx) => store.get(tx, ref))
    if (!secret) throw new VaultError('vault_secret_not_found', `no secret with id or name ${JSON.stringify(ref)}`)
    return c.json(secret, 200, { 'Cache-Control': 'no-store' })
  })

  app.patch('/secrets/:ref', async (c) => {
    const ref = reference(c)
    const input = parseUpdateBody(await jsonBody(c))
    return c.json(await inTransaction(c, (tx) => store.update(tx, ref, input)))
  })

  app.delete('/secrets/:ref', async (c) => {
    const ref = reference(c)
    const deleted = await inTransaction(c, (tx) => store.delete(tx, ref))
    if (!deleted) throw new VaultError('vault_secret_not_found', `no secret with id or name ${JSON.stringify(ref)}`)
    return c.json(deleted)
  })

  app.all('/secrets', () => {
    throw appError('method_not_allowed', 'Use GET or POST on /secrets')
  })
  app.all('/secrets/:ref', () => {
    throw appError('method_not_allowed', 'Use GET, PATCH or DELETE on /secrets/{id or name}')
  })
  return app
}
