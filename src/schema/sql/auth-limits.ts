/**
 * Counters of the auth limits (per-client request limits, per-account password attempts, guesses
 * at one email code). They live in the database so every server process and Lambda instance over
 * one database counts together. Each row is a window that starts at its first hit and ends at
 * `expires_at`; rows past it are swept by the limiter. Created only when absent, like every
 * bootstrap object.
 */
export const AUTH_RATE_LIMITS = `
CREATE TABLE IF NOT EXISTS _resolution.auth_rate_limits (
  bucket text NOT NULL,
  key text NOT NULL,
  hits integer NOT NULL,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (bucket, key)
);
CREATE INDEX IF NOT EXISTS auth_rate_limits_expires_idx ON _resolution.auth_rate_limits (expires_at);
REVOKE ALL ON _resolution.auth_rate_limits FROM PUBLIC;`
