/**
 * A holding place for the `pgsodium.key` rows of a restored Supabase data dump (dumps made before
 * supabase/cli PR #3585 carry them). pgsodium itself is not available here, but Vault 0.2.x
 * secrets can only be decrypted with these rows (secret.key_id → key.key_id), so `db restore` may
 * create this table, load the rows into it unchanged, and `resolution vault import` reads it.
 * Same columns as pgsodium 3.1 (so a dump's INSERT/COPY column lists fit), with loose types: the
 * enums become text and no constraint can reject a dumped row.
 * @module
 */
import type { Queryable } from '../../db/types.ts'

export const PGSODIUM_KEY_HOLDING_DDL = `
CREATE SCHEMA IF NOT EXISTS pgsodium;
CREATE SEQUENCE IF NOT EXISTS pgsodium.key_key_id_seq;
CREATE TABLE IF NOT EXISTS pgsodium.key (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  status text DEFAULT 'valid',
  created timestamp with time zone NOT NULL DEFAULT CURRENT_TIMESTAMP,
  expires timestamp with time zone,
  key_type text,
  key_id bigint DEFAULT nextval('pgsodium.key_key_id_seq'),
  key_context bytea DEFAULT '\\x7067736f6469756d'::bytea,
  name text,
  associated_data text DEFAULT 'associated',
  raw_key bytea,
  raw_key_nonce bytea,
  parent_key uuid,
  comment text,
  user_data text
);
COMMENT ON TABLE pgsodium.key IS 'pgsodium key metadata restored from a Supabase dump, kept for resolution vault import (no key material: keys derive from the source root key)';
`

/** Creates `pgsodium.key` (and its sequence) when absent; leaves an existing one alone. */
export async function ensurePgsodiumKeyTable(q: Queryable): Promise<void> {
  await q.exec(PGSODIUM_KEY_HOLDING_DDL)
}
