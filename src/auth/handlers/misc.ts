/**
 * `GET /settings`, `GET /health`, `GET /.well-known/jwks.json`.
 * @module
 */
import type { AuthContext, AuthDeps } from '../context.ts'

const EXTERNAL_PROVIDERS = [
  'anonymous_users', 'apple', 'azure', 'bitbucket', 'discord', 'facebook', 'snapchat', 'figma', 'fly', 'github', 'gitlab',
  'google', 'keycloak', 'kakao', 'linkedin', 'linkedin_oidc', 'notion', 'spotify', 'slack', 'slack_oidc', 'workos',
  'twitch', 'twitter', 'email', 'phone', 'zoom',
] as const

export function settings(c: AuthContext, deps: AuthDeps): Response {
  const external: Record<string, boolean> = {}
  for (const name of EXTERNAL_PROVIDERS) external[name] = false
  external.email = true
  external.anonymous_users = deps.config.anonymousUsers
  return c.json({
    external,
    disable_signup: deps.config.disableSignup,
    mailer_autoconfirm: deps.services.config.authAutoconfirm,
    phone_autoconfirm: false,
    sms_provider: '',
    saml_enabled: false,
    saml_private_key_next_configured: false,
    passkeys_enabled: false,
  })
}

export function health(c: AuthContext): Response {
  return c.json({ version: 'v2.196.0-resolution', name: 'GoTrue', description: 'GoTrue is a user registration and authentication API' })
}

export function jwks(c: AuthContext, deps: AuthDeps): Response {
  c.header('Cache-Control', 'public, max-age=600')
  return c.json(deps.services.jwt.publicJwks())
}

/** OIDC discovery, with every URL derived from the issuer (`JWT_ISSUER`, default `API_EXTERNAL_URL`). */
export function openidConfiguration(c: AuthContext, deps: AuthDeps): Response {
  const issuer = deps.config.jwtIssuer.replace(/\/+$/, '')
  const algs = [...new Set(deps.services.jwt.publicJwks().keys.map((k) => String(k.alg)))]
  c.header('Cache-Control', 'public, max-age=600')
  return c.json({
    issuer,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    userinfo_endpoint: `${issuer}/user`,
    response_types_supported: ['code', 'token'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: algs.length ? algs : ['HS256'],
    grant_types_supported: ['password', 'refresh_token', 'pkce'],
    token_endpoint_auth_methods_supported: ['none'],
  })
}
