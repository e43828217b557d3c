/**
 * `auth.oauth_clients`, the OAuth 2.1 server's client registry, written as GoTrue writes it: the
 * row id is the public `client_id`, redirect URIs and grant types are comma-joined text, the secret
 * is kept only as its SHA-256 (base64url), and deletion is soft (`deleted_at`).
 * @module
 */
import type { Queryable } from '../../db/types.ts'

export interface OAuthClientRow {
  id: string
  client_secret_hash: string | null
  registration_type: 'dynamic' | 'manual'
  client_type: 'public' | 'confidential'
  token_endpoint_auth_method: string
  redirect_uris: string
  grant_types: string
  client_name: string | null
  client_uri: string | null
  logo_uri: string | null
  created_at: string
  updated_at: string
}

const COLUMNS = `id, client_secret_hash, registration_type::text AS registration_type, client_type::text AS client_type,
  token_endpoint_auth_method, redirect_uris, grant_types, client_name, client_uri, logo_uri, created_at, updated_at`

export interface NewOAuthClient {
  id: string
  secretHash: string | null
  registrationType: 'dynamic' | 'manual'
  clientType: 'public' | 'confidential'
  tokenEndpointAuthMethod: string
  redirectUris: readonly string[]
  grantTypes: readonly string[]
  clientName: string | null
  clientUri: string | null
  logoUri: string | null
}

export async function insertOAuthClient(tx: Queryable, c: NewOAuthClient): Promise<OAuthClientRow> {
  const { rows } = await tx.query<OAuthClientRow>(
    `INSERT INTO auth.oauth_clients (id, client_secret_hash, registration_type, client_type, token_endpoint_auth_method,
       redirect_uris, grant_types, client_name, client_uri, logo_uri, created_at, updated_at)
     VALUES ($1, $2, $3::auth.oauth_registration_type, $4::auth.oauth_client_type, $5, $6, $7, $8, $9, $10, now(), now())
     RETURNING ${COLUMNS}`,
    [c.id, c.secretHash, c.registrationType, c.clientType, c.tokenEndpointAuthMethod, c.redirectUris.join(','), c.grantTypes.join(','), c.clientName, c.clientUri, c.logoUri],
  )
  return rows[0]!
}

/** A live (not deleted) client, optionally locked for an update. */
export async function findOAuthClient(tx: Queryable, id: string, options: { forUpdate?: boolean } = {}): Promise<OAuthClientRow | undefined> {
  const lock = options.forUpdate ? ' FOR UPDATE' : ''
  const { rows } = await tx.query<OAuthClientRow>(`SELECT ${COLUMNS} FROM auth.oauth_clients WHERE id = $1 AND deleted_at IS NULL${lock}`, [id])
  return rows[0]
}

/** Newest first, as GoTrue lists them, with the number of live clients. */
export async function listOAuthClients(tx: Queryable, limit: number, offset: number): Promise<{ clients: OAuthClientRow[]; total: number }> {
  const { rows } = await tx.query<OAuthClientRow>(
    `SELECT ${COLUMNS} FROM auth.oauth_clients WHERE deleted_at IS NULL ORDER BY created_at DESC, id LIMIT $1 OFFSET $2`,
    [limit, offset],
  )
  const count = await tx.query<{ n: string | number }>('SELECT count(*) AS n FROM auth.oauth_clients WHERE deleted_at IS NULL')
  return { clients: rows, total: Number(count.rows[0]?.n ?? 0) }
}

export interface OAuthClientChanges {
  redirectUris?: readonly string[]
  grantTypes?: readonly string[]
  clientName?: string
  clientUri?: string
  logoUri?: string
  tokenEndpointAuthMethod?: string
  secretHash?: string
}

/** Sets the given fields (absent ones keep their value); an empty string clears a text field. */
export async function updateOAuthClient(tx: Queryable, id: string, changes: OAuthClientChanges): Promise<OAuthClientRow | undefined> {
  const { rows } = await tx.query<OAuthClientRow>(
    `UPDATE auth.oauth_clients SET
       redirect_uris = coalesce($2, redirect_uris),
       grant_types = coalesce($3, grant_types),
       client_name = CASE WHEN $4::text IS NULL THEN client_name ELSE nullif($4, '') END,
       client_uri = CASE WHEN $5::text IS NULL THEN client_uri ELSE nullif($5, '') END,
       logo_uri = CASE WHEN $6::text IS NULL THEN logo_uri ELSE nullif($6, '') END,
       token_endpoint_auth_method = coalesce($7, token_endpoint_auth_method),
       client_secret_hash = coalesce($8, client_secret_hash),
       updated_at = now()
     WHERE id = $1 AND deleted_at IS NULL RETURNING ${COLUMNS}`,
    [
      id,
      changes.redirectUris?.join(',') ?? null,
      changes.grantTypes?.join(',') ?? null,
      changes.clientName ?? null,
      changes.clientUri ?? null,
      changes.logoUri ?? null,
      changes.tokenEndpointAuthMethod ?? null,
      changes.secretHash ?? null,
    ],
  )
  return rows[0]
}

export async function softDeleteOAuthClient(tx: Queryable, id: string): Promise<boolean> {
  const { rows } = await tx.query('UPDATE auth.oauth_clients SET deleted_at = now(), updated_at = now() WHERE id = $1 AND deleted_at IS NULL RETURNING id', [id])
  return rows.length > 0
}
