/**
 * Features this service does not offer (OAuth providers, ID tokens, identity linking, SAML, Web3),
 * answered as a GoTrue configured without them answers, so clients show the usual message.
 * @module
 */
import type { AuthContext } from '../context.ts'
import { authError } from '../errors.ts'
import { readBody, str } from '../request.ts'

export function manualLinkingDisabled(): Response {
  throw authError(404, 'manual_linking_disabled', 'Manual linking is disabled')
}

export function samlDisabled(): Response {
  throw authError(404, 'saml_provider_disabled', 'SAML 2.0 is disabled')
}

/** `GET /authorize?provider=…`: no external OAuth providers are configured. */
export function authorize(c: AuthContext): Response {
  const provider = c.req.query('provider') ?? ''
  throw authError(400, 'validation_failed', `Unsupported provider: Provider ${provider} could not be found`)
}

/** Grants other than password, refresh_token and pkce. */
export function unsupportedGrant(grant: string | undefined): never {
  if (grant === 'web3') throw authError(400, 'web3_provider_disabled', 'Web3 provider is disabled')
  throw authError(400, 'validation_failed', 'unsupported_grant_type')
}

/** The issuers GoTrue names for its built-in ID-token providers. */
const ID_TOKEN_ISSUERS: Record<string, string> = {
  google: 'https://accounts.google.com',
  apple: 'https://appleid.apple.com',
  facebook: 'https://www.facebook.com',
  azure: 'https://login.microsoftonline.com/common/v2.0',
  kakao: 'https://kauth.kakao.com',
}

/** `grant_type=id_token`: no provider is enabled, so GoTrue's answer for a disabled one. */
export async function idTokenGrant(c: AuthContext): Promise<never> {
  const body = await readBody(c)
  const provider = str(body, 'provider') ?? ''
  const issuer = ID_TOKEN_ISSUERS[provider] ?? (str(body, 'issuer') || provider)
  if (!issuer) throw authError(400, 'validation_failed', 'provider or client_id and issuer required')
  throw authError(400, 'provider_disabled', `Provider (issuer ${JSON.stringify(issuer)}) is not enabled`)
}
