/**
 * The OAuth 2.1 server's client registry for admins, as GoTrue serves it under
 * `/admin/oauth/clients` (`AUTH_OAUTH_SERVER_ENABLED`): register (the secret is shown once),
 * list, get, update, soft delete, regenerate the secret. Validation and messages follow GoTrue's
 * `oauthserver/service.go`.
 * @module
 */
import { randomBytes } from 'node:crypto'
import type { AuthContext, AuthDeps } from '../context.ts'
import { sha256Base64Url, UUID_PATTERN, newId } from '../crypto.ts'
import { authError, notFound, validationFailed } from '../errors.ts'
import {
  findOAuthClient,
  insertOAuthClient,
  listOAuthClients,
  softDeleteOAuthClient,
  updateOAuthClient,
  type OAuthClientChanges,
  type OAuthClientRow,
} from '../models/oauth-client.ts'
import { readBody, str, type Body } from '../request.ts'
import { rfc3339 } from '../time.ts'
import { pageParam } from './paging.ts'

const AUTH_METHODS = ['none', 'client_secret_basic', 'client_secret_post'] as const
const GRANT_TYPES = new Set(['authorization_code', 'refresh_token'])
const DANGEROUS_SCHEMES = new Set(['javascript:', 'data:', 'file:', 'vbscript:', 'about:', 'blob:'])

/** GoTrue answers 404 `feature_disabled` on every OAuth server route while it is off. */
export function requireOAuthServer(deps: AuthDeps): void {
  if (!deps.config.oauthServer) throw notFound('feature_disabled', 'OAuth server is disabled')
}

function stringList(body: Body, name: string): string[] | undefined {
  const value = body[name]
  if (value === undefined || value === null) return undefined
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw authError(400, 'bad_json', `Invalid JSON body: "${name}" must be an array of strings`)
  return value as string[]
}

function redirectUriProblem(uri: string): string | undefined {
  if (uri === '') return 'redirect URI cannot be empty'
  if (!URL.canParse(uri)) return 'invalid URL format'
  const url = new URL(uri)
  if (!url.host) return 'must have scheme and host'
  if (DANGEROUS_SCHEMES.has(url.protocol)) return `scheme '${url.protocol.slice(0, -1)}' is not allowed for security reasons`
  if (url.protocol === 'http:' && !['localhost', '127.0.0.1', '[::1]'].includes(url.hostname)) return 'HTTP scheme only allowed for localhost'
  if (url.hash || uri.includes('#')) return 'fragment not allowed in redirect URI'
  return undefined
}

function checkRedirectUris(uris: readonly string[] | undefined, required: boolean): void {
  if (required && (!uris || uris.length === 0)) throw validationFailed('redirect_uris is required')
  if (!uris) return
  if (uris.length === 0) throw validationFailed('redirect_uris cannot be empty')
  if (uris.length > 10) throw validationFailed('redirect_uris cannot exceed 10 items')
  for (const uri of uris) {
    const problem = redirectUriProblem(uri)
    if (problem) throw validationFailed(`invalid redirect_uri '${uri}': ${problem}`)
  }
}

function checkGrantTypes(grants: readonly string[] | undefined): void {
  if (!grants) return
  if (grants.length === 0) throw validationFailed('grant_types cannot be empty')
  if (grants.some((g) => !GRANT_TYPES.has(g))) throw validationFailed("grant_types must only contain 'authorization_code' and/or 'refresh_token'")
}

function checkUri(value: string | undefined, name: string): void {
  if (!value) return
  if (value.length > 2048) throw validationFailed(`${name} cannot exceed 2048 characters`)
  if (!URL.canParse(value)) throw validationFailed(`${name} must be a valid URL`)
}

function checkAuthMethod(method: string | undefined): void {
  if (method !== undefined && !(AUTH_METHODS as readonly string[]).includes(method)) {
    throw validationFailed(`token_endpoint_auth_method must be one of: [${AUTH_METHODS.join(' ')}]`)
  }
}

function checkCommon(p: { clientName?: string; clientUri?: string; logoUri?: string; grantTypes?: readonly string[]; authMethod?: string }): void {
  checkGrantTypes(p.grantTypes)
  if ((p.clientName?.length ?? 0) > 1024) throw validationFailed('client_name cannot exceed 1024 characters')
  checkUri(p.clientUri, 'client_uri')
  checkUri(p.logoUri, 'logo_uri')
  checkAuthMethod(p.authMethod)
}

/** A new secret: 32 random bytes, base64url; only its SHA-256 is stored. */
function newSecret(): { secret: string; hash: string } {
  const secret = randomBytes(32).toString('base64url')
  return { secret, hash: sha256Base64Url(secret) }
}

/** The client as GoTrue marshals it (empty fields omitted; `response_types` is always `code`). */
export function oauthClientJson(row: OAuthClientRow, secret?: string): Record<string, unknown> {
  const out: Record<string, unknown> = { client_id: row.id }
  if (secret) out.client_secret = secret
  out.client_type = row.client_type
  const put = (key: string, value: unknown) => {
    if (value !== null && value !== undefined && value !== '' && !(Array.isArray(value) && value.length === 0)) out[key] = value
  }
  put('redirect_uris', row.redirect_uris ? row.redirect_uris.split(',') : [])
  put('token_endpoint_auth_method', row.token_endpoint_auth_method)
  put('grant_types', row.grant_types ? row.grant_types.split(',') : [])
  out.response_types = ['code']
  put('client_name', row.client_name)
  put('client_uri', row.client_uri)
  put('logo_uri', row.logo_uri)
  put('registration_type', row.registration_type)
  out.created_at = rfc3339(row.created_at)
  out.updated_at = rfc3339(row.updated_at)
  return out
}

function clientIdParam(c: AuthContext): string {
  const id = c.req.param('clientId') ?? ''
  if (!UUID_PATTERN.test(id)) throw validationFailed('invalid client_id format')
  return id.toLowerCase()
}

const clientNotFound = () => notFound('oauth_client_not_found', 'OAuth client not found')

export async function registerClient(c: AuthContext, deps: AuthDeps): Promise<Response> {
  requireOAuthServer(deps)
  const body = await readBody(c)
  const redirectUris = stringList(body, 'redirect_uris')
  const grantTypes = stringList(body, 'grant_types')
  const explicitType = str(body, 'client_type') || undefined
  const authMethod = str(body, 'token_endpoint_auth_method') || undefined
  const clientName = str(body, 'client_name') || undefined
  const clientUri = str(body, 'client_uri') || undefined
  const logoUri = str(body, 'logo_uri') || undefined
  checkRedirectUris(redirectUris, true)
  checkCommon({ clientName, clientUri, logoUri, grantTypes, authMethod })
  if (explicitType !== undefined && explicitType !== 'public' && explicitType !== 'confidential') throw validationFailed("client_type must be 'public' or 'confidential'")
  const inferred = authMethod === undefined ? undefined : authMethod === 'none' ? 'public' : 'confidential'
  if (explicitType && inferred && explicitType !== inferred) {
    throw validationFailed(`client_type '${explicitType}' is inconsistent with token_endpoint_auth_method '${authMethod}' (expected client_type '${inferred}')`)
  }
  const clientType = explicitType ?? inferred ?? 'confidential'
  const secret = clientType === 'confidential' ? newSecret() : undefined
  const row = await deps.transaction((tx) =>
    insertOAuthClient(tx, {
      id: newId(),
      secretHash: secret?.hash ?? null,
      registrationType: 'manual',
      clientType,
      tokenEndpointAuthMethod: authMethod ?? (clientType === 'public' ? 'none' : 'client_secret_basic'),
      redirectUris: redirectUris!,
      grantTypes: grantTypes && grantTypes.length > 0 ? grantTypes : ['authorization_code', 'refresh_token'],
      clientName: clientName ?? null,
      clientUri: clientUri ?? null,
      logoUri: logoUri ?? null,
    }),
  )
  return c.json(oauthClientJson(row, secret?.secret), 201)
}

export async function listClients(c: AuthContext, deps: AuthDeps): Promise<Response> {
  requireOAuthServer(deps)
  const page = pageParam(c.req.query('page'), 'page', 1, 1_000_000)
  const perPage = pageParam(c.req.query('per_page'), 'per_page', 50, 1000)
  const { clients, total } = await deps.transaction((tx) => listOAuthClients(tx, perPage, (page - 1) * perPage))
  const last = Math.max(1, Math.ceil(total / perPage))
  const links: string[] = []
  if (page < last) links.push(`</admin/oauth/clients?page=${page + 1}&per_page=${perPage}>; rel="next"`)
  links.push(`</admin/oauth/clients?page=${last}&per_page=${perPage}>; rel="last"`)
  c.header('X-Total-Count', String(total))
  c.header('Link', links.join(', '))
  return c.json({ clients: clients.map((row) => oauthClientJson(row)) })
}

export async function getClient(c: AuthContext, deps: AuthDeps): Promise<Response> {
  requireOAuthServer(deps)
  const id = clientIdParam(c)
  const row = await deps.transaction((tx) => findOAuthClient(tx, id))
  if (!row) throw clientNotFound()
  return c.json(oauthClientJson(row))
}

export async function updateClient(c: AuthContext, deps: AuthDeps): Promise<Response> {
  requireOAuthServer(deps)
  const id = clientIdParam(c)
  const body = await readBody(c)
  const changes: OAuthClientChanges = {
    redirectUris: stringList(body, 'redirect_uris'),
    grantTypes: stringList(body, 'grant_types'),
    clientName: str(body, 'client_name'),
    clientUri: str(body, 'client_uri'),
    logoUri: str(body, 'logo_uri'),
    tokenEndpointAuthMethod: str(body, 'token_endpoint_auth_method'),
  }
  const row = await deps.transaction(async (tx) => {
    const current = await findOAuthClient(tx, id, { forUpdate: true })
    if (!current) throw clientNotFound()
    if (Object.values(changes).every((v) => v === undefined)) throw validationFailed('No fields provided for update')
    checkRedirectUris(changes.redirectUris, false)
    checkCommon({ ...changes, authMethod: changes.tokenEndpointAuthMethod })
    const method = changes.tokenEndpointAuthMethod
    if (method !== undefined && (method === 'none') !== (current.client_type === 'public')) {
      throw validationFailed(`token_endpoint_auth_method '${method}' is not valid for a ${current.client_type} client`)
    }
    return updateOAuthClient(tx, id, changes)
  })
  if (!row) throw clientNotFound()
  return c.json(oauthClientJson(row))
}

export async function deleteClient(c: AuthContext, deps: AuthDeps): Promise<Response> {
  requireOAuthServer(deps)
  const id = clientIdParam(c)
  const deleted = await deps.transaction((tx) => softDeleteOAuthClient(tx, id))
  if (!deleted) throw clientNotFound()
  return c.body(null, 204)
}

export async function regenerateSecret(c: AuthContext, deps: AuthDeps): Promise<Response> {
  requireOAuthServer(deps)
  const id = clientIdParam(c)
  const secret = newSecret()
  const row = await deps.transaction(async (tx) => {
    const current = await findOAuthClient(tx, id, { forUpdate: true })
    if (!current) throw clientNotFound()
    if (current.client_type !== 'confidential') throw validationFailed('Cannot regenerate secret for public client')
    return updateOAuthClient(tx, id, { secretHash: secret.hash })
  })
  if (!row) throw clientNotFound()
  return c.json(oauthClientJson(row, secret.secret))
}
