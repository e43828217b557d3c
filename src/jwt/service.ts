/**
 * Signing and verifying JWTs: HS256 with `JWT_SECRET`, or ES256/RS256 keys from `JWT_KEYS`
 * (published at the JWKS endpoint). Every place that reads a token verifies it here.
 * @module
 */
import { createHmac } from 'node:crypto'
import * as jose from 'jose'
import type { Config } from '../config/config.ts'
import { appError, HttpError } from '../errors.ts'

export type Claims = jose.JWTPayload & {
  role?: string
  email?: string
  phone?: string
  session_id?: string
  is_anonymous?: boolean
  [key: string]: unknown
}

export interface JwtService {
  /** Signs claims with the current signing key (asymmetric when `JWT_KEYS` has a private key, else HS256). */
  sign(claims: Claims): Promise<string>
  /** Verifies signature, algorithm and expiry; throws `HttpError` 401 `bad_jwt` otherwise. */
  verify(token: string, options?: { audience?: string | string[] }): Promise<Claims>
  /** Public keys for `/.well-known/jwks.json` (empty for HS256 only). */
  publicJwks(): { keys: jose.JWK[] }
}

type AsymmetricAlg = 'ES256' | 'RS256'

interface AsymmetricKey {
  kid: string
  alg: AsymmetricAlg
  publicJwk: jose.JWK
  verifyKey: jose.CryptoKey
  signKey: jose.CryptoKey | undefined
}

function badJwt(message: string): HttpError {
  return appError('bad_jwt', message)
}

function algOf(jwk: Record<string, unknown>): AsymmetricAlg {
  if (jwk.alg === 'ES256' || (jwk.kty === 'EC' && jwk.crv === 'P-256')) return 'ES256'
  if (jwk.alg === 'RS256' || jwk.kty === 'RSA') return 'RS256'
  throw new Error(`JWT_KEYS: unsupported key (kty ${String(jwk.kty)}, alg ${String(jwk.alg)}); use ES256 or RS256`)
}

async function importKeys(config: Config): Promise<AsymmetricKey[]> {
  const out: AsymmetricKey[] = []
  for (const [index, jwk] of (config.jwtKeys?.keys ?? []).entries()) {
    if (jwk.kty === 'oct') continue // a symmetric JWK is the HS256 secret, handled by jwtSecret
    const alg = algOf(jwk)
    const kid = typeof jwk.kid === 'string' ? jwk.kid : `key-${index}`
    const { d, p, q, dp, dq, qi, key_ops: ops, ...publicPart } = jwk as Record<string, unknown>
    const publicJwk = { ...publicPart, kid, alg, use: 'sig' } as jose.JWK
    const verifyKey = (await jose.importJWK(publicJwk, alg)) as jose.CryptoKey
    // GoTrue's JWT_KEYS mark the signing key with key_ops ["sign","verify"]; WebCrypto refuses
    // "verify" on a private key, so key_ops only decide whether the key signs.
    const signs = d !== undefined && (!Array.isArray(ops) || ops.includes('sign'))
    const signKey = signs ? ((await jose.importJWK({ ...publicPart, d, p, q, dp, dq, qi, alg } as jose.JWK, alg)) as jose.CryptoKey) : undefined
    out.push({ kid, alg, publicJwk, verifyKey, signKey })
  }
  return out
}

const HS256_HEADER = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url')

/**
 * HS256 signing with node:crypto: the same bytes jose produces, without a WebCrypto job per
 * token (a refresh signs one token; this is a measurable share of its CPU). Verification stays
 * with jose.
 */
function signHs256(claims: Claims, secret: string): string {
  const input = `${HS256_HEADER}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`
}

export async function createJwtService(config: Config): Promise<JwtService> {
  // Imported once: jose would otherwise import a raw Uint8Array secret on every sign and verify.
  const secret = config.jwtSecret
    ? await crypto.subtle.importKey('raw', new TextEncoder().encode(config.jwtSecret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify'])
    : undefined
  const keys = await importKeys(config)
  const signer = keys.find((k) => k.signKey)
  if (!secret && keys.length === 0) throw new Error('JWT_SECRET: no JWT secret or JWT_KEYS configured')

  return {
    async sign(claims) {
      if (signer?.signKey) {
        return new jose.SignJWT(claims).setProtectedHeader({ alg: signer.alg, kid: signer.kid, typ: 'JWT' }).sign(signer.signKey)
      }
      if (!secret || !config.jwtSecret) throw new Error('JWT_KEYS holds no private key and JWT_SECRET is unset: cannot sign tokens')
      return signHs256(claims, config.jwtSecret)
    },

    async verify(token, options = {}) {
      let header: jose.ProtectedHeaderParameters
      try {
        header = jose.decodeProtectedHeader(token)
      } catch {
        throw badJwt('invalid JWT: unable to parse or verify signature, token is malformed')
      }
      try {
        // The algorithm is chosen by which key we hold, never trusted from the header alone:
        // HS256 only with the secret, ES/RS only with a matching asymmetric key.
        if (header.alg === 'HS256') {
          if (!secret) throw badJwt('invalid JWT: HS256 tokens are not accepted')
          const { payload } = await jose.jwtVerify(token, secret, { algorithms: ['HS256'], audience: options.audience })
          return payload as Claims
        }
        const key = keys.find((k) => k.alg === header.alg && (header.kid === undefined || k.kid === header.kid))
        if (!key) throw badJwt(`invalid JWT: unrecognized signing key or algorithm ${String(header.alg)}`)
        const { payload } = await jose.jwtVerify(token, key.verifyKey, { algorithms: [key.alg], audience: options.audience })
        return payload as Claims
      } catch (error) {
        if (error instanceof HttpError) throw error
        if (error instanceof jose.errors.JWTExpired) throw badJwt('invalid JWT: unable to parse or verify signature, token has invalid claims: token is expired')
        if (error instanceof jose.errors.JWTClaimValidationFailed) throw badJwt(`invalid JWT: token has invalid claims: ${error.message}`)
        throw badJwt('invalid JWT: unable to parse or verify signature, signature is invalid')
      }
    },

    publicJwks() {
      return { keys: keys.map((k) => ({ ...k.publicJwk, key_ops: ['verify'] })) }
    },
  }
}

/** An API key as Supabase issues them: a long-lived JWT with only `iss`, `role`, `iat`, `exp`. */
export async function issueApiKey(jwt: JwtService, role: 'anon' | 'service_role', now = Math.floor(Date.now() / 1000)): Promise<string> {
  return jwt.sign({ iss: 'supabase', role, iat: now, exp: now + 10 * 365 * 24 * 3600 })
}
