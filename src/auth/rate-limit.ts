/**
 * In-process token buckets, as GoTrue's limiter: `limit` events per `windowSeconds`, refilled
 * continuously, bursting up to `limit`. A limit of 0 turns the bucket off. Per-process state is
 * acceptable here: each task enforces its own share (the DESIGN's "cached per process").
 * @module
 */
import type { Context } from 'hono'
import type { AuthConfig } from '../config/config.ts'
import { tooManyRequests } from './errors.ts'
import { rateLimitKey } from './request.ts'

export class TokenBucket {
  private readonly buckets = new Map<string, { tokens: number; at: number }>()
  private readonly ratePerMs: number
  private lastEviction = 0

  constructor(
    readonly limit: number,
    readonly windowSeconds: number,
    private readonly now: () => number = Date.now,
  ) {
    this.ratePerMs = limit / (windowSeconds * 1000)
  }

  /** Takes one token for `key`; false when the bucket is empty. */
  take(key: string): boolean {
    if (this.limit <= 0) return true
    const now = this.now()
    const bucket = this.buckets.get(key) ?? { tokens: this.limit, at: now }
    bucket.tokens = Math.min(this.limit, bucket.tokens + (now - bucket.at) * this.ratePerMs)
    bucket.at = now
    // Many distinct keys (IPs): sweep refilled buckets, at most once a second so a flood of new
    // keys cannot turn every request into a full scan.
    if (this.buckets.size > 10_000 && now - this.lastEviction > 1000) {
      this.lastEviction = now
      this.evictFull(now)
    }
    if (bucket.tokens < 1) {
      this.buckets.set(key, bucket)
      return false
    }
    bucket.tokens -= 1
    this.buckets.set(key, bucket)
    return true
  }

  /** Forgets buckets that have refilled completely (they behave like new ones). */
  private evictFull(now: number): void {
    for (const [key, b] of this.buckets) {
      if (b.tokens + (now - b.at) * this.ratePerMs >= this.limit) this.buckets.delete(key)
    }
  }
}

export interface AuthLimiters {
  /** Every `/token` grant, per IP. */
  token: TokenBucket
  /** `/otp`, `/recover`, `/resend`, non-anonymous `/signup`, `PUT /user`, per IP. */
  otp: TokenBucket
  verify: TokenBucket
  anonymous: TokenBucket
  /** Emails sent by this process, all users together. */
  emailSent: TokenBucket
}

export function createLimiters(config: AuthConfig): AuthLimiters {
  return {
    token: new TokenBucket(config.rateLimitTokenRefresh, 300),
    otp: new TokenBucket(config.rateLimitOtp, 300),
    verify: new TokenBucket(config.rateLimitVerify, 300),
    anonymous: new TokenBucket(config.rateLimitAnonymousUsers, 3600),
    emailSent: new TokenBucket(config.rateLimitEmailSent, 3600),
  }
}

/** Per-IP check; skipped when no rate-limit header is configured or the request lacks it (GoTrue). */
export function limitByIp(c: Context, config: AuthConfig, bucket: TokenBucket): void {
  const key = rateLimitKey(c, config)
  if (key !== undefined && !bucket.take(key)) throw tooManyRequests('over_request_rate_limit', 'Request rate limit reached')
}

export function limitEmailSent(bucket: TokenBucket): void {
  if (!bucket.take('global')) throw tooManyRequests('over_email_send_rate_limit', 'Email rate limit exceeded')
}
