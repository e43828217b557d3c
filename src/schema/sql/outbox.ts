/**
 * The development outbox of auth emails (used when SMTP_URL is unset). Made by the bootstrap,
 * not on first use, so runtimes that never run DDL (Lambda) find it too. Like every bootstrap
 * object it is only created when absent: an existing one (maybe owned by another role) is kept.
 */
export const AUTH_OUTBOX = `
DO $$
BEGIN
  IF to_regclass('_resolution.auth_outbox') IS NULL THEN
    CREATE TABLE _resolution.auth_outbox (
      id bigserial PRIMARY KEY,
      created_at timestamptz NOT NULL DEFAULT now(),
      kind text NOT NULL,
      recipient text NOT NULL,
      subject text NOT NULL,
      body text NOT NULL,
      otp text,
      link text
    );
    CREATE INDEX auth_outbox_recipient_idx ON _resolution.auth_outbox (recipient, id);
    REVOKE ALL ON _resolution.auth_outbox FROM PUBLIC;
  END IF;
END
$$;`
