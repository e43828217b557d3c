/**
 * Access tokens with Supabase's claims, and the Session object `/token` and `/verify` return.
 * @module
 */
import type { Claims } from '../jwt/service.ts'
import type { Services } from '../services.ts'
import type { AmrEntry } from './models/session.ts'
import type { UserRow } from './models/user.ts'
import { nowSeconds } from './time.ts'
import type { UserJson } from './user-json.ts'

/** The default audience and role of new users (GoTrue's `JWT_AUD` / `JWT_DEFAULT_GROUP_NAME`). */
export const DEFAULT_AUD = 'authenticated'
export const DEFAULT_ROLE = 'authenticated'

export interface SessionJson {
  access_token: string
  token_type: 'bearer'
  expires_in: number
  expires_at: number
  refresh_token: string
  user: UserJson
  weak_password?: { message: string; reasons: string[] }
}

/** Claims in GoTrue's order: iss, sub, aud, exp, iat, email, phone, metadata, role, aal, amr, session_id, is_anonymous. */
export function accessTokenClaims(
  services: Services,
  user: UserRow,
  session: { id: string; aal?: string | null; amr: AmrEntry[] },
  options: { audience?: string; now?: number } = {},
): Claims {
  const iat = options.now ?? nowSeconds()
  return {
    iss: services.config.auth.jwtIssuer,
    sub: user.id,
    aud: options.audience || user.aud || DEFAULT_AUD,
    exp: iat + services.config.jwtExp,
    iat,
    email: user.email ?? '',
    phone: user.phone ?? '',
    app_metadata: user.raw_app_meta_data ?? {},
    user_metadata: user.raw_user_meta_data ?? {},
    role: user.role || DEFAULT_ROLE,
    aal: session.aal || 'aal1',
    amr: session.amr,
    session_id: session.id,
    is_anonymous: user.is_anonymous === true,
  }
}

export async function sessionJson(
  services: Services,
  input: { user: UserRow; userJson: UserJson; sessionId: string; aal?: string | null; amr: AmrEntry[]; refreshToken: string; audience?: string },
): Promise<SessionJson> {
  const claims = accessTokenClaims(services, input.user, { id: input.sessionId, aal: input.aal, amr: input.amr }, { audience: input.audience })
  const accessToken = await services.jwt.sign(claims)
  return {
    access_token: accessToken,
    token_type: 'bearer',
    expires_in: (claims.exp as number) - (claims.iat as number),
    expires_at: claims.exp as number,
    refresh_token: input.refreshToken,
    user: input.userJson,
  }
}
