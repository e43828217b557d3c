/**
 * Features this service does not offer (OAuth providers, identity linking, SAML, Web3, MFA),
 * answered as a GoTrue configured without them answers, so clients show the usual message.
 * @module
 */
import type { AuthContext } from '../context.ts'
import { authError } from '../errors.ts'

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
  if (grant === 'id_token') throw authError(400, 'provider_disabled', 'Unsupported provider: id_token sign-in is not configured')
  throw authError(400, 'validation_failed', 'unsupported_grant_type')
}
