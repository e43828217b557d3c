/**
 * The auth limits. Per-client request limits, per-account password attempts and guesses at an
 * emailed code are counted in the database (`_resolution.auth_rate_limits`), so every server
 * process and Lambda instance over one database counts together: a window per key that opens at
 * its first hit, counted by one upsert. The global email budget stays an in-process token bucket,
 * as GoTrue's: it is checked inside the mail-sending transaction, where a shared counter row
 * would serialise every mail sent.
 * @module
 */
import type { Context } from 'hono'
import type { AuthConfig } from '../config/config.ts'
import { hasSqlState } from '../db/sqlstate.ts'
import { queryNamed } from '../db/named.ts'
import type { Queryable } from '../db/types.ts'
import { appError } from '../errors.ts'
import { limitKey } from '../http/client-address.ts'
import { AuthError, tooManyRequests } from './errors.ts'

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

export interface Hit {
  /** Events counted in the current window, this one included. */
  hits: number
  /** Seconds until the window closes. */
  retryAfter: number
}

/**
 * A database bootstrapped by an older version lacks the table (Lambda never runs DDL): refuse with
 * a clear 503 rather than serve without limits.
 */
async function counted<T>(query: Promise<T>): Promise<T> {
  try {
    return await query
  } catch (error) {
    if (!hasSqlState(error, 'undefined_table')) throw error
    throw appError('database_unavailable', 'The auth limits table _resolution.auth_rate_limits is missing: run `resolution db init` to bring the database to this version', { cause: error })
  }
}

/**
 * Counts n hits for ($1 bucket, $2 key) at $3 (ms) in a window of $4 seconds: one autocommitted
 * statement, so concurrent hits (any process) each get their own count. Its commit does not wait
 * for the WAL flush (`synchronous_commit` off for this transaction only): the count is visible to
 * every session at once; a database crash may forget the hits of its last fraction of a second,
 * which a limit can afford (GoTrue forgets all of them on every restart). The flush wait was most
 * of a hit's latency, and every /token request waits for its hit before it starts.
 */
export const COUNT_HITS = {
  name: 'resolution_auth_rate_limit_hit',
  sql: `WITH unflushed AS (SELECT set_config('synchronous_commit', 'off', true))
       INSERT INTO _resolution.auth_rate_limits AS r (bucket, key, hits, expires_at)
       SELECT $1, $2, $5::int, to_timestamp($3::float8 / 1000) + make_interval(secs => $4::float8) FROM unflushed
       ON CONFLICT (bucket, key) DO UPDATE SET
         hits = CASE WHEN r.expires_at > to_timestamp($3::float8 / 1000) THEN r.hits + $5::int ELSE $5::int END,
         expires_at = CASE WHEN r.expires_at > to_timestamp($3::float8 / 1000) THEN r.expires_at ELSE EXCLUDED.expires_at END
       RETURNING hits, greatest(1, ceil(extract(epoch FROM expires_at) - $3::float8 / 1000))::int AS retry_after`,
}

/** How often a process sweeps expired counter rows. */
const SWEEP_INTERVAL_MS = 60_000

/** Hits for one (bucket, key) waiting for the upsert in flight to answer, counted by the next one. */
interface Queued {
  windowSeconds: number
  waiters: Array<{ resolve: (hit: Hit) => void; reject: (error: unknown) => void }>
}

/**
 * Window counters in `_resolution.auth_rate_limits`, on the clock `now` (ms; tests move it).
 * Concurrent hits on one key are coalesced: while an upsert for the key is in flight, the next
 * hits queue and are then counted together by one upsert (`hits + n`), each getting its own
 * count back. Every hit from any client shares one row per key (all clients behind one address),
 * so one upsert per request queued up on that row's lock and its commit.
 */
export class Counters {
  private lastSweep = 0
  /** Keys with an upsert in flight, and the hits queued behind it (undefined: none yet). */
  private readonly inFlight = new Map<string, Queued | undefined>()

  constructor(
    private readonly database: () => Promise<Queryable>,
    readonly now: () => number = Date.now,
  ) {}

  /** Counts one event for (bucket, key) in a window of `windowSeconds` opened by its first event. */
  hit(bucket: string, key: string, windowSeconds: number): Promise<Hit> {
    const id = `${bucket}\u0000${key}`
    return new Promise<Hit>((resolve, reject) => {
      if (this.inFlight.has(id)) {
        const queued = this.inFlight.get(id) ?? { windowSeconds, waiters: [] }
        queued.waiters.push({ resolve, reject })
        this.inFlight.set(id, queued)
        return
      }
      this.inFlight.set(id, undefined)
      this.count(id, bucket, key, { windowSeconds, waiters: [{ resolve, reject }] })
    })
  }

  /** One upsert for the batch's hits; then the batch queued meanwhile, if any. */
  private count(id: string, bucket: string, key: string, batch: Queued): void {
    this.upsert(bucket, key, batch.windowSeconds, batch.waiters.length).then(
      ({ hits, retryAfter }) => {
        // The batch's hits are the last n counted: the first of them saw hits - n + 1.
        const first = hits - batch.waiters.length + 1
        batch.waiters.forEach((waiter, i) => waiter.resolve({ hits: first + i, retryAfter }))
      },
      (error: unknown) => batch.waiters.forEach((waiter) => waiter.reject(error)),
    ).finally(() => {
      const next = this.inFlight.get(id)
      if (next) {
        this.inFlight.set(id, undefined)
        this.count(id, bucket, key, next)
      } else this.inFlight.delete(id)
    })
  }

  private async upsert(bucket: string, key: string, windowSeconds: number, n: number): Promise<Hit> {
    const database = await this.database()
    const now = this.now()
    await this.sweep(database, now)
    const { rows } = await counted(queryNamed<{ hits: number; retry_after: number }>(database, COUNT_HITS.name, COUNT_HITS.sql, [bucket, key, now, windowSeconds, n]))
    const row = rows[0]!
    return { hits: Number(row.hits), retryAfter: Number(row.retry_after) }
  }

  /** Forgets (bucket, key): a success ends a run of failures. */
  async reset(bucket: string, key: string): Promise<void> {
    const database = await this.database()
    await database.query('DELETE FROM _resolution.auth_rate_limits WHERE bucket = $1 AND key = $2', [bucket, key])
  }

  /** Many distinct keys leave many rows: delete closed windows, at most once a minute per process. */
  private async sweep(database: Queryable, now: number): Promise<void> {
    if (now - this.lastSweep < SWEEP_INTERVAL_MS) return
    this.lastSweep = now
    await counted(database.query('DELETE FROM _resolution.auth_rate_limits WHERE expires_at < to_timestamp($1::float8 / 1000)', [now]))
  }
}

/** A limit of `limit` events per `windowSeconds` for each key of one bucket; 0 = off. */
export class WindowLimit {
  constructor(
    readonly bucket: string,
    readonly limit: number,
    readonly windowSeconds: number,
    private readonly counters: Counters,
  ) {}

  /** Counts one event for `key`; throws 429 (with Retry-After) once the window's limit is passed. */
  async take(key: string, message = 'Request rate limit reached'): Promise<void> {
    if (this.limit <= 0) return
    const hit = await this.counters.hit(this.bucket, key, this.windowSeconds)
    if (hit.hits > this.limit) {
      throw new AuthError(429, 'over_request_rate_limit', message.replace('{seconds}', String(hit.retryAfter)), {}, { 'retry-after': String(hit.retryAfter) })
    }
  }

  async reset(key: string): Promise<void> {
    if (this.limit <= 0) return
    await this.counters.reset(this.bucket, key)
  }
}

export interface AuthLimiters {
  counters: Counters
  /** Every `/token` grant, per client. */
  token: WindowLimit
  /** `/otp`, `/magiclink`, `/recover`, `/resend`, non-anonymous `/signup`, `PUT /user`, per client. */
  otp: WindowLimit
  /** `/verify`, per client. */
  verify: WindowLimit
  /** Anonymous sign-ups, per client. */
  anonymous: WindowLimit
  /** Password attempts per account (email or phone), whoever makes them. */
  password: WindowLimit
  /** Wrong TOTP codes per MFA factor, whoever sends them. */
  mfa: WindowLimit
  /** Emails sent by this process, all users together. */
  emailSent: TokenBucket
}

export function createLimiters(config: AuthConfig, database: () => Promise<Queryable>, now: () => number = Date.now): AuthLimiters {
  const counters = new Counters(database, now)
  return {
    counters,
    token: new WindowLimit('token', config.rateLimitTokenRefresh, 300, counters),
    otp: new WindowLimit('otp', config.rateLimitOtp, 300, counters),
    verify: new WindowLimit('verify', config.rateLimitVerify, 300, counters),
    anonymous: new WindowLimit('anonymous', config.rateLimitAnonymousUsers, 3600, counters),
    password: new WindowLimit('password', config.passwordMaxAttempts, config.passwordAttemptWindow, counters),
    mfa: new WindowLimit('mfa', config.mfaMaxAttempts, 300, counters),
    emailSent: new TokenBucket(config.rateLimitEmailSent, 3600, now),
  }
}

/** Counts the request against its client (see client-address.ts); 429 `over_request_rate_limit` beyond the limit. */
export async function limitClient(c: Context, limit: WindowLimit): Promise<void> {
  await limit.take(limitKey(c.get('clientAddress') as string | undefined))
}

export function limitEmailSent(bucket: TokenBucket): void {
  if (!bucket.take('global')) throw tooManyRequests('over_email_send_rate_limit', 'Email rate limit exceeded')
}
