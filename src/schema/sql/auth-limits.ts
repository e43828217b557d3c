/**
 * Counters of the auth limits (per-client request limits, per-account password attempts, guesses
 * at one email code). They live in the database so every server process and Lambda instance over
 * one database counts together. Each row is a window that starts at its first hit and ends at
 * `expires_at`; rows past it are swept by the limiter. Like every bootstrap object it is only
 * created when absent: an existing one (maybe owned by another role) is kept.
 */
export const AUTH_RATE_LIMITS = `
DO $$
BEGIN
  IF to_regclass('_resolution.auth_rate_limits') IS NULL THEN
    CREATE TABLE _resolution.auth_rate_limits (
      bucket text NOT NULL,
      key text NOT NULL,
      hits integer NOT NULL,
      expires_at timestamptz NOT NULL,
      PRIMARY KEY (bucket, key)
    );
    CREATE INDEX auth_rate_limits_expires_idx ON _resolution.auth_rate_limits (expires_at);
    REVOKE ALL ON _resolution.auth_rate_limits FROM PUBLIC;
  END IF;
END
$$;`
