/**
 * `vault.secrets` shaped like Supabase Vault 0.3.x. Encryption happens in the application (the
 * vault module), so this is only the table and Vault's grants. A database that already has a
 * `vault.secrets` (the supabase_vault extension, or a restore) is left alone entirely.
 * @module
 */
import { doBlock, schemaAccessWarning, skipUnlessUsable } from '../ddl.ts'

/**
 * The nonce default must find pgcrypto's gen_random_bytes wherever it is installed (normally
 * `extensions`), so the DDL is built at run time from pg_extension.
 */
export const VAULT_SECRETS = doBlock(`${skipUnlessUsable('vault')}
IF to_regclass('vault.secrets') IS NULL THEN
  DECLARE
    crypto_schema text := (SELECT n.nspname FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pgcrypto');
    nonce_default text := CASE WHEN crypto_schema IS NULL
      -- Without pgcrypto: 16 bytes from two random uuids (122 random bits each).
      THEN $d$substr(decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex'), 1, 16)$d$
      ELSE format('%I.gen_random_bytes(16)', crypto_schema) END;
  BEGIN
    EXECUTE format($ddl$
      CREATE TABLE vault.secrets (
        id uuid DEFAULT gen_random_uuid() NOT NULL,
        name text,
        description text DEFAULT ''::text NOT NULL,
        secret text NOT NULL,
        key_id uuid,
        nonce bytea DEFAULT %s,
        created_at timestamp with time zone DEFAULT CURRENT_TIMESTAMP NOT NULL,
        updated_at timestamp with time zone DEFAULT CURRENT_TIMESTAMP NOT NULL,
        CONSTRAINT secrets_pkey PRIMARY KEY (id)
      )$ddl$, nonce_default);
    CREATE UNIQUE INDEX secrets_name_idx ON vault.secrets USING btree (name) WHERE (name IS NOT NULL);
    COMMENT ON TABLE vault.secrets IS 'Table with encrypted \`secret\` column for storing sensitive information on disk.';
    -- Vault's after-create grants: no INSERT/UPDATE for anyone; writes go through the vault API.
    GRANT USAGE ON SCHEMA vault TO service_role;
    GRANT SELECT, DELETE ON TABLE vault.secrets TO service_role;
  END;
END IF;`)

export const VAULT_ACCESS_WARNING = schemaAccessWarning('vault')
