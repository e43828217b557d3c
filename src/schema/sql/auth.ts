/**
 * The `auth` schema as Supabase Auth (GoTrue) has it after its 2025 migrations: the tables its
 * data dumps COPY into (every column of those COPY lists), their enum types, keys and indexes
 * under GoTrue's own names, and the `auth.uid()/role()/email()/jwt()` helpers.
 *
 * Token and pending-change columns default to `''` (GoTrue scans them into Go strings; NULL
 * there breaks it). Columns GoTrue added after 2023 are nullable or defaulted, so they can be
 * added to an older `auth` schema in place.
 * @module
 */
import { doBlock, ensureEnum, ensurePrivilege, ensureTable, grantOnOwned, MAY_CREATE_IN, schemaAccessWarning, skipUnlessUsable, warn, type TableSpec } from '../ddl.ts'

const ts = 'timestamp with time zone'
const token = "character varying(255) DEFAULT ''::character varying"

export const AUTH_ENUMS: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['aal_level', ['aal1', 'aal2', 'aal3']],
  ['code_challenge_method', ['s256', 'plain']],
  ['factor_status', ['unverified', 'verified']],
  ['factor_type', ['totp', 'webauthn', 'phone']],
  ['oauth_registration_type', ['dynamic', 'manual']],
  ['oauth_client_type', ['public', 'confidential']],
  [
    'one_time_token_type',
    ['confirmation_token', 'reauthentication_token', 'recovery_token', 'email_change_token_new', 'email_change_token_current', 'phone_change_token'],
  ],
]

const tokenIndex = (name: string, column: string) =>
  [name, `CREATE UNIQUE INDEX ${name} ON auth.users USING btree (${column}) WHERE ((${column})::text !~ '^[0-9 ]*$'::text)`] as const

export const AUTH_TABLES: readonly TableSpec[] = [
  {
    schema: 'auth',
    name: 'instances',
    comment: 'Auth: Manages users across multiple sites.',
    columns: [
      ['id', 'uuid NOT NULL'],
      ['uuid', 'uuid'],
      ['raw_base_config', 'text'],
      ['created_at', ts],
      ['updated_at', ts],
    ],
    constraints: ['CONSTRAINT instances_pkey PRIMARY KEY (id)'],
    rowLevelSecurity: true,
  },
  {
    schema: 'auth',
    name: 'schema_migrations',
    comment: 'Auth: Manages updates to the auth system.',
    columns: [['version', 'character varying(255) NOT NULL']],
    constraints: ['CONSTRAINT schema_migrations_pkey PRIMARY KEY (version)'],
    rowLevelSecurity: true,
  },
  {
    schema: 'auth',
    name: 'audit_log_entries',
    comment: 'Auth: Audit trail for user actions.',
    columns: [
      ['instance_id', 'uuid'],
      ['id', 'uuid NOT NULL'],
      ['payload', 'json'],
      ['created_at', ts],
      ['ip_address', "character varying(64) DEFAULT ''::character varying NOT NULL"],
    ],
    constraints: ['CONSTRAINT audit_log_entries_pkey PRIMARY KEY (id)'],
    indexes: [['audit_logs_instance_id_idx', 'CREATE INDEX audit_logs_instance_id_idx ON auth.audit_log_entries USING btree (instance_id)']],
    rowLevelSecurity: true,
  },
  {
    schema: 'auth',
    name: 'users',
    comment: 'Auth: Stores user login data within a secure schema.',
    columns: [
      ['instance_id', 'uuid'],
      ['id', 'uuid NOT NULL'],
      ['aud', 'character varying(255)'],
      ['role', 'character varying(255)'],
      ['email', 'character varying(255)'],
      ['encrypted_password', 'character varying(255)'],
      ['email_confirmed_at', ts],
      ['invited_at', ts],
      ['confirmation_token', token],
      ['confirmation_sent_at', ts],
      ['recovery_token', token],
      ['recovery_sent_at', ts],
      ['email_change_token_new', token],
      ['email_change', token],
      ['email_change_sent_at', ts],
      ['last_sign_in_at', ts],
      ['raw_app_meta_data', 'jsonb'],
      ['raw_user_meta_data', 'jsonb'],
      ['is_super_admin', 'boolean'],
      ['created_at', ts],
      ['updated_at', ts],
      ['phone', 'text DEFAULT NULL::character varying'],
      ['phone_confirmed_at', ts],
      ['phone_change', "text DEFAULT ''::character varying"],
      ['phone_change_token', token],
      ['phone_change_sent_at', ts],
      ['confirmed_at', `${ts} GENERATED ALWAYS AS (LEAST(email_confirmed_at, phone_confirmed_at)) STORED`],
      ['email_change_token_current', token],
      ['email_change_confirm_status', 'smallint DEFAULT 0'],
      ['banned_until', ts],
      ['reauthentication_token', token],
      ['reauthentication_sent_at', ts],
      ['is_sso_user', 'boolean DEFAULT false NOT NULL'],
      ['deleted_at', ts],
      ['is_anonymous', 'boolean DEFAULT false NOT NULL'],
    ],
    constraints: [
      'CONSTRAINT users_pkey PRIMARY KEY (id)',
      'CONSTRAINT users_phone_key UNIQUE (phone)',
      'CONSTRAINT users_email_change_confirm_status_check CHECK (((email_change_confirm_status >= 0) AND (email_change_confirm_status <= 2)))',
    ],
    indexes: [
      tokenIndex('confirmation_token_idx', 'confirmation_token'),
      tokenIndex('recovery_token_idx', 'recovery_token'),
      tokenIndex('email_change_token_current_idx', 'email_change_token_current'),
      tokenIndex('email_change_token_new_idx', 'email_change_token_new'),
      tokenIndex('reauthentication_token_idx', 'reauthentication_token'),
      ['users_email_partial_key', 'CREATE UNIQUE INDEX users_email_partial_key ON auth.users USING btree (email) WHERE (is_sso_user = false)'],
      ['users_instance_id_email_idx', 'CREATE INDEX users_instance_id_email_idx ON auth.users USING btree (instance_id, lower((email)::text))'],
      ['users_instance_id_idx', 'CREATE INDEX users_instance_id_idx ON auth.users USING btree (instance_id)'],
      ['users_is_anonymous_idx', 'CREATE INDEX users_is_anonymous_idx ON auth.users USING btree (is_anonymous)'],
    ],
    rowLevelSecurity: true,
  },
  {
    schema: 'auth',
    name: 'identities',
    comment: 'Auth: Stores identities associated to a user.',
    columns: [
      ['provider_id', 'text NOT NULL'],
      ['user_id', 'uuid NOT NULL'],
      ['identity_data', 'jsonb NOT NULL'],
      ['provider', 'text NOT NULL'],
      ['last_sign_in_at', ts],
      ['created_at', ts],
      ['updated_at', ts],
      ['email', "text GENERATED ALWAYS AS (lower((identity_data ->> 'email'::text))) STORED"],
      ['id', 'uuid DEFAULT gen_random_uuid() NOT NULL'],
    ],
    constraints: [
      'CONSTRAINT identities_pkey PRIMARY KEY (id)',
      'CONSTRAINT identities_provider_id_provider_unique UNIQUE (provider_id, provider)',
      'CONSTRAINT identities_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users(id) ON DELETE CASCADE',
    ],
    indexes: [
      ['identities_email_idx', 'CREATE INDEX identities_email_idx ON auth.identities USING btree (email text_pattern_ops)'],
      ['identities_user_id_idx', 'CREATE INDEX identities_user_id_idx ON auth.identities USING btree (user_id)'],
    ],
    rowLevelSecurity: true,
  },
  {
    schema: 'auth',
    name: 'sessions',
    comment: 'Auth: Stores session data associated to a user.',
    columns: [
      ['id', 'uuid NOT NULL'],
      ['user_id', 'uuid NOT NULL'],
      ['created_at', ts],
      ['updated_at', ts],
      ['factor_id', 'uuid'],
      ['aal', 'auth.aal_level'],
      ['not_after', ts],
      ['refreshed_at', 'timestamp without time zone'],
      ['user_agent', 'text'],
      ['ip', 'inet'],
      ['tag', 'text'],
      ['oauth_client_id', 'uuid'],
      ['refresh_token_hmac_key', 'text'],
      ['refresh_token_counter', 'bigint'],
      ['scopes', 'text CONSTRAINT sessions_scopes_length CHECK ((char_length(scopes) <= 4096))'],
    ],
    constraints: [
      'CONSTRAINT sessions_pkey PRIMARY KEY (id)',
      'CONSTRAINT sessions_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users(id) ON DELETE CASCADE',
    ],
    indexes: [
      ['sessions_user_id_idx', 'CREATE INDEX sessions_user_id_idx ON auth.sessions USING btree (user_id)'],
      ['user_id_created_at_idx', 'CREATE INDEX user_id_created_at_idx ON auth.sessions USING btree (user_id, created_at)'],
      ['sessions_not_after_idx', 'CREATE INDEX sessions_not_after_idx ON auth.sessions USING btree (not_after DESC)'],
    ],
    rowLevelSecurity: true,
  },
  {
    schema: 'auth',
    name: 'refresh_tokens',
    comment: 'Auth: Store of tokens used to refresh JWT tokens once they expire.',
    columns: [
      ['instance_id', 'uuid'],
      ['id', 'bigserial NOT NULL'],
      ['token', 'character varying(255)'],
      ['user_id', 'character varying(255)'],
      ['revoked', 'boolean'],
      ['created_at', ts],
      ['updated_at', ts],
      ['parent', 'character varying(255)'],
      ['session_id', 'uuid REFERENCES auth.sessions(id) ON DELETE CASCADE'],
    ],
    constraints: ['CONSTRAINT refresh_tokens_pkey PRIMARY KEY (id)', 'CONSTRAINT refresh_tokens_token_unique UNIQUE (token)'],
    indexes: [
      ['refresh_tokens_instance_id_idx', 'CREATE INDEX refresh_tokens_instance_id_idx ON auth.refresh_tokens USING btree (instance_id)'],
      ['refresh_tokens_instance_id_user_id_idx', 'CREATE INDEX refresh_tokens_instance_id_user_id_idx ON auth.refresh_tokens USING btree (instance_id, user_id)'],
      ['refresh_tokens_parent_idx', 'CREATE INDEX refresh_tokens_parent_idx ON auth.refresh_tokens USING btree (parent)'],
      ['refresh_tokens_session_id_revoked_idx', 'CREATE INDEX refresh_tokens_session_id_revoked_idx ON auth.refresh_tokens USING btree (session_id, revoked)'],
      ['refresh_tokens_updated_at_idx', 'CREATE INDEX refresh_tokens_updated_at_idx ON auth.refresh_tokens USING btree (updated_at DESC)'],
    ],
    rowLevelSecurity: true,
  },
  {
    schema: 'auth',
    name: 'mfa_factors',
    comment: 'auth: stores metadata about factors',
    columns: [
      ['id', 'uuid NOT NULL'],
      ['user_id', 'uuid NOT NULL'],
      ['friendly_name', 'text'],
      ['factor_type', 'auth.factor_type NOT NULL'],
      ['status', 'auth.factor_status NOT NULL'],
      ['created_at', `${ts} NOT NULL`],
      ['updated_at', `${ts} NOT NULL`],
      ['secret', 'text'],
      ['phone', 'text'],
      ['last_challenged_at', ts],
      ['web_authn_credential', 'jsonb'],
      ['web_authn_aaguid', 'uuid'],
      ['last_webauthn_challenge_data', 'jsonb'],
    ],
    constraints: [
      'CONSTRAINT mfa_factors_pkey PRIMARY KEY (id)',
      'CONSTRAINT mfa_factors_last_challenged_at_key UNIQUE (last_challenged_at)',
      'CONSTRAINT mfa_factors_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users(id) ON DELETE CASCADE',
    ],
    indexes: [
      ['factor_id_created_at_idx', 'CREATE INDEX factor_id_created_at_idx ON auth.mfa_factors USING btree (user_id, created_at)'],
      [
        'mfa_factors_user_friendly_name_unique',
        "CREATE UNIQUE INDEX mfa_factors_user_friendly_name_unique ON auth.mfa_factors USING btree (friendly_name, user_id) WHERE (TRIM(BOTH FROM friendly_name) <> ''::text)",
      ],
      ['mfa_factors_user_id_idx', 'CREATE INDEX mfa_factors_user_id_idx ON auth.mfa_factors USING btree (user_id)'],
      ['unique_phone_factor_per_user', 'CREATE UNIQUE INDEX unique_phone_factor_per_user ON auth.mfa_factors USING btree (user_id, phone)'],
    ],
    rowLevelSecurity: true,
  },
  {
    schema: 'auth',
    name: 'mfa_challenges',
    comment: 'auth: stores metadata about challenge requests made',
    columns: [
      ['id', 'uuid NOT NULL'],
      ['factor_id', 'uuid NOT NULL'],
      ['created_at', `${ts} NOT NULL`],
      ['verified_at', ts],
      ['ip_address', 'inet NOT NULL'],
      ['otp_code', 'text'],
      ['web_authn_session_data', 'jsonb'],
    ],
    constraints: [
      'CONSTRAINT mfa_challenges_pkey PRIMARY KEY (id)',
      'CONSTRAINT mfa_challenges_auth_factor_id_fkey FOREIGN KEY (factor_id) REFERENCES auth.mfa_factors(id) ON DELETE CASCADE',
    ],
    indexes: [['mfa_challenge_created_at_idx', 'CREATE INDEX mfa_challenge_created_at_idx ON auth.mfa_challenges USING btree (created_at DESC)']],
    rowLevelSecurity: true,
  },
  {
    schema: 'auth',
    name: 'mfa_amr_claims',
    comment: 'auth: stores authenticator method reference claims for multi factor authentication',
    columns: [
      ['session_id', 'uuid NOT NULL'],
      ['created_at', `${ts} NOT NULL`],
      ['updated_at', `${ts} NOT NULL`],
      ['authentication_method', 'text NOT NULL'],
      ['id', 'uuid NOT NULL'],
    ],
    constraints: [
      'CONSTRAINT amr_id_pk PRIMARY KEY (id)',
      // GoTrue's ON CONFLICT target keeps this historical "_pkey" name although it is a UNIQUE constraint.
      'CONSTRAINT mfa_amr_claims_session_id_authentication_method_pkey UNIQUE (session_id, authentication_method)',
      'CONSTRAINT mfa_amr_claims_session_id_fkey FOREIGN KEY (session_id) REFERENCES auth.sessions(id) ON DELETE CASCADE',
    ],
    rowLevelSecurity: true,
  },
  {
    schema: 'auth',
    name: 'flow_state',
    comment: 'stores metadata for pkce logins',
    columns: [
      ['id', 'uuid NOT NULL'],
      ['user_id', 'uuid'],
      ['auth_code', 'text NOT NULL'],
      ['code_challenge_method', 'auth.code_challenge_method NOT NULL'],
      ['code_challenge', 'text NOT NULL'],
      ['provider_type', 'text NOT NULL'],
      ['provider_access_token', 'text'],
      ['provider_refresh_token', 'text'],
      ['created_at', ts],
      ['updated_at', ts],
      ['authentication_method', 'text NOT NULL'],
      ['auth_code_issued_at', ts],
    ],
    constraints: ['CONSTRAINT flow_state_pkey PRIMARY KEY (id)'],
    indexes: [
      ['idx_auth_code', 'CREATE INDEX idx_auth_code ON auth.flow_state USING btree (auth_code)'],
      ['idx_user_id_auth_method', 'CREATE INDEX idx_user_id_auth_method ON auth.flow_state USING btree (user_id, authentication_method)'],
      ['flow_state_created_at_idx', 'CREATE INDEX flow_state_created_at_idx ON auth.flow_state USING btree (created_at DESC)'],
    ],
    rowLevelSecurity: true,
  },
  {
    schema: 'auth',
    name: 'one_time_tokens',
    columns: [
      ['id', 'uuid NOT NULL'],
      ['user_id', 'uuid NOT NULL'],
      ['token_type', 'auth.one_time_token_type NOT NULL'],
      ['token_hash', 'text NOT NULL'],
      ['relates_to', 'text NOT NULL'],
      ['created_at', 'timestamp without time zone DEFAULT now() NOT NULL'],
      ['updated_at', 'timestamp without time zone DEFAULT now() NOT NULL'],
    ],
    constraints: [
      'CONSTRAINT one_time_tokens_pkey PRIMARY KEY (id)',
      'CONSTRAINT one_time_tokens_token_hash_check CHECK ((char_length(token_hash) > 0))',
      'CONSTRAINT one_time_tokens_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users(id) ON DELETE CASCADE',
    ],
    indexes: [
      ['one_time_tokens_user_id_token_type_key', 'CREATE UNIQUE INDEX one_time_tokens_user_id_token_type_key ON auth.one_time_tokens USING btree (user_id, token_type)'],
      ['one_time_tokens_token_hash_hash_idx', 'CREATE INDEX one_time_tokens_token_hash_hash_idx ON auth.one_time_tokens USING hash (token_hash)'],
      ['one_time_tokens_relates_to_hash_idx', 'CREATE INDEX one_time_tokens_relates_to_hash_idx ON auth.one_time_tokens USING hash (relates_to)'],
    ],
    rowLevelSecurity: true,
  },
  {
    schema: 'auth',
    name: 'sso_providers',
    comment: 'Auth: Manages SSO identity provider information; see saml_providers for SAML.',
    columns: [
      ['id', 'uuid NOT NULL'],
      ['resource_id', 'text'],
      ['created_at', ts],
      ['updated_at', ts],
      ['disabled', 'boolean'],
    ],
    constraints: [
      'CONSTRAINT sso_providers_pkey PRIMARY KEY (id)',
      'CONSTRAINT "resource_id not empty" CHECK (((resource_id = NULL::text) OR (char_length(resource_id) > 0)))',
    ],
    indexes: [
      ['sso_providers_resource_id_idx', 'CREATE UNIQUE INDEX sso_providers_resource_id_idx ON auth.sso_providers USING btree (lower(resource_id))'],
      ['sso_providers_resource_id_pattern_idx', 'CREATE INDEX sso_providers_resource_id_pattern_idx ON auth.sso_providers USING btree (resource_id text_pattern_ops)'],
    ],
    rowLevelSecurity: true,
  },
  {
    schema: 'auth',
    name: 'sso_domains',
    comment: 'Auth: Manages SSO email address domain mapping to an SSO Identity Provider.',
    columns: [
      ['id', 'uuid NOT NULL'],
      ['sso_provider_id', 'uuid NOT NULL'],
      ['domain', 'text NOT NULL'],
      ['created_at', ts],
      ['updated_at', ts],
    ],
    constraints: [
      'CONSTRAINT sso_domains_pkey PRIMARY KEY (id)',
      'CONSTRAINT "domain not empty" CHECK ((char_length(domain) > 0))',
      'CONSTRAINT sso_domains_sso_provider_id_fkey FOREIGN KEY (sso_provider_id) REFERENCES auth.sso_providers(id) ON DELETE CASCADE',
    ],
    indexes: [
      ['sso_domains_domain_idx', 'CREATE UNIQUE INDEX sso_domains_domain_idx ON auth.sso_domains USING btree (lower(domain))'],
      ['sso_domains_sso_provider_id_idx', 'CREATE INDEX sso_domains_sso_provider_id_idx ON auth.sso_domains USING btree (sso_provider_id)'],
    ],
    rowLevelSecurity: true,
  },
  {
    schema: 'auth',
    name: 'saml_providers',
    comment: 'Auth: Manages SAML Identity Provider connections.',
    columns: [
      ['id', 'uuid NOT NULL'],
      ['sso_provider_id', 'uuid NOT NULL'],
      ['entity_id', 'text NOT NULL'],
      ['metadata_xml', 'text NOT NULL'],
      ['metadata_url', 'text'],
      ['attribute_mapping', 'jsonb'],
      ['created_at', ts],
      ['updated_at', ts],
      ['name_id_format', 'text'],
    ],
    constraints: [
      'CONSTRAINT saml_providers_pkey PRIMARY KEY (id)',
      'CONSTRAINT saml_providers_entity_id_key UNIQUE (entity_id)',
      'CONSTRAINT "entity_id not empty" CHECK ((char_length(entity_id) > 0))',
      'CONSTRAINT "metadata_url not empty" CHECK (((metadata_url = NULL::text) OR (char_length(metadata_url) > 0)))',
      'CONSTRAINT "metadata_xml not empty" CHECK ((char_length(metadata_xml) > 0))',
      'CONSTRAINT saml_providers_sso_provider_id_fkey FOREIGN KEY (sso_provider_id) REFERENCES auth.sso_providers(id) ON DELETE CASCADE',
    ],
    indexes: [['saml_providers_sso_provider_id_idx', 'CREATE INDEX saml_providers_sso_provider_id_idx ON auth.saml_providers USING btree (sso_provider_id)']],
    rowLevelSecurity: true,
  },
  {
    schema: 'auth',
    name: 'saml_relay_states',
    comment: 'Auth: Contains SAML Relay State information for each Service Provider initiated login.',
    columns: [
      ['id', 'uuid NOT NULL'],
      ['sso_provider_id', 'uuid NOT NULL'],
      ['request_id', 'text NOT NULL'],
      ['for_email', 'text'],
      ['redirect_to', 'text'],
      ['created_at', ts],
      ['updated_at', ts],
      ['flow_state_id', 'uuid REFERENCES auth.flow_state(id) ON DELETE CASCADE'],
    ],
    constraints: [
      'CONSTRAINT saml_relay_states_pkey PRIMARY KEY (id)',
      'CONSTRAINT "request_id not empty" CHECK ((char_length(request_id) > 0))',
      'CONSTRAINT saml_relay_states_sso_provider_id_fkey FOREIGN KEY (sso_provider_id) REFERENCES auth.sso_providers(id) ON DELETE CASCADE',
    ],
    indexes: [
      ['saml_relay_states_for_email_idx', 'CREATE INDEX saml_relay_states_for_email_idx ON auth.saml_relay_states USING btree (for_email)'],
      ['saml_relay_states_sso_provider_id_idx', 'CREATE INDEX saml_relay_states_sso_provider_id_idx ON auth.saml_relay_states USING btree (sso_provider_id)'],
      ['saml_relay_states_created_at_idx', 'CREATE INDEX saml_relay_states_created_at_idx ON auth.saml_relay_states USING btree (created_at DESC)'],
    ],
    rowLevelSecurity: true,
  },
  // The OAuth 2.1 server's clients (GoTrue 2025-07…2026-01 migrations): `id` is the public client_id,
  // lists are comma-joined text, secrets are stored as SHA-256 hashes.
  {
    schema: 'auth',
    name: 'oauth_clients',
    columns: [
      ['id', 'uuid NOT NULL'],
      ['client_secret_hash', 'text'],
      ['registration_type', 'auth.oauth_registration_type NOT NULL'],
      ['redirect_uris', 'text NOT NULL'],
      ['grant_types', 'text NOT NULL'],
      ['client_name', 'text'],
      ['client_uri', 'text'],
      ['logo_uri', 'text'],
      ['created_at', `${ts} DEFAULT now() NOT NULL`],
      ['updated_at', `${ts} DEFAULT now() NOT NULL`],
      ['deleted_at', ts],
      ['client_type', "auth.oauth_client_type DEFAULT 'confidential'::auth.oauth_client_type NOT NULL"],
      ['token_endpoint_auth_method', "text DEFAULT 'client_secret_basic'::text NOT NULL"],
    ],
    constraints: [
      'CONSTRAINT oauth_clients_pkey PRIMARY KEY (id)',
      'CONSTRAINT oauth_clients_client_name_length CHECK ((char_length(client_name) <= 1024))',
      'CONSTRAINT oauth_clients_client_uri_length CHECK ((char_length(client_uri) <= 2048))',
      'CONSTRAINT oauth_clients_logo_uri_length CHECK ((char_length(logo_uri) <= 2048))',
      "CONSTRAINT oauth_clients_token_endpoint_auth_method_check CHECK ((token_endpoint_auth_method = ANY (ARRAY['client_secret_basic'::text, 'client_secret_post'::text, 'none'::text])))",
    ],
    indexes: [['oauth_clients_deleted_at_idx', 'CREATE INDEX oauth_clients_deleted_at_idx ON auth.oauth_clients USING btree (deleted_at)']],
    rowLevelSecurity: true,
  },
  // Passkeys (GoTrue's 2026-03 migration): the credentials and the pending ceremonies' challenges.
  {
    schema: 'auth',
    name: 'webauthn_credentials',
    columns: [
      ['id', 'uuid DEFAULT gen_random_uuid() NOT NULL'],
      ['user_id', 'uuid NOT NULL'],
      ['credential_id', 'bytea NOT NULL'],
      ['public_key', 'bytea NOT NULL'],
      ['attestation_type', "text DEFAULT ''::text NOT NULL"],
      ['aaguid', 'uuid'],
      ['sign_count', 'bigint DEFAULT 0 NOT NULL'],
      ['transports', "jsonb DEFAULT '[]'::jsonb NOT NULL"],
      ['backup_eligible', 'boolean DEFAULT false NOT NULL'],
      ['backed_up', 'boolean DEFAULT false NOT NULL'],
      ['friendly_name', "text DEFAULT ''::text NOT NULL"],
      ['created_at', `${ts} DEFAULT now() NOT NULL`],
      ['updated_at', `${ts} DEFAULT now() NOT NULL`],
      ['last_used_at', ts],
    ],
    constraints: [
      'CONSTRAINT webauthn_credentials_pkey PRIMARY KEY (id)',
      'CONSTRAINT webauthn_credentials_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users(id) ON DELETE CASCADE',
    ],
    indexes: [
      ['webauthn_credentials_credential_id_key', 'CREATE UNIQUE INDEX webauthn_credentials_credential_id_key ON auth.webauthn_credentials USING btree (credential_id)'],
      ['webauthn_credentials_user_id_idx', 'CREATE INDEX webauthn_credentials_user_id_idx ON auth.webauthn_credentials USING btree (user_id)'],
    ],
    rowLevelSecurity: true,
  },
  {
    schema: 'auth',
    name: 'webauthn_challenges',
    columns: [
      ['id', 'uuid DEFAULT gen_random_uuid() NOT NULL'],
      ['user_id', 'uuid'],
      ['challenge_type', 'text NOT NULL'],
      ['session_data', 'jsonb NOT NULL'],
      ['created_at', `${ts} DEFAULT now() NOT NULL`],
      ['expires_at', `${ts} NOT NULL`],
    ],
    constraints: [
      'CONSTRAINT webauthn_challenges_pkey PRIMARY KEY (id)',
      'CONSTRAINT webauthn_challenges_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users(id) ON DELETE CASCADE',
      "CONSTRAINT webauthn_challenges_challenge_type_check CHECK ((challenge_type = ANY (ARRAY['signup'::text, 'registration'::text, 'authentication'::text])))",
    ],
    indexes: [
      ['webauthn_challenges_user_id_idx', 'CREATE INDEX webauthn_challenges_user_id_idx ON auth.webauthn_challenges USING btree (user_id)'],
      ['webauthn_challenges_expires_at_idx', 'CREATE INDEX webauthn_challenges_expires_at_idx ON auth.webauthn_challenges USING btree (expires_at)'],
    ],
    rowLevelSecurity: true,
  },
]

/**
 * GoTrue's 2023-11 migration (`20231117164230_add_id_pkey_identities`): the old text `id` becomes
 * `provider_id` and a uuid `id` becomes the key. Runs only on the pre-2023-11 shape (no
 * `provider_id` yet), so it never touches a current schema; without it, identities written by the
 * current auth API (no text id) could not be inserted.
 */
export const IDENTITIES_PROVIDER_ID_MIGRATION = doBlock(`${skipUnlessUsable('auth')}
IF to_regclass('auth.identities') IS NOT NULL
  AND NOT EXISTS (SELECT FROM pg_catalog.pg_attribute WHERE attrelid = to_regclass('auth.identities') AND attname = 'provider_id' AND NOT attisdropped)
  AND EXISTS (SELECT FROM pg_catalog.pg_attribute WHERE attrelid = to_regclass('auth.identities') AND attname = 'id' AND atttypid = 'text'::regtype AND NOT attisdropped)
  AND NOT EXISTS (SELECT FROM pg_catalog.pg_class WHERE oid = to_regclass('auth.identities') AND pg_catalog.pg_has_role(current_user, relowner, 'USAGE'))
THEN
  ${warn("'auth.identities has the pre-2023-11 shape (text id, no provider_id) and the connecting role does not own it'")}
ELSIF to_regclass('auth.identities') IS NOT NULL
  AND NOT EXISTS (SELECT FROM pg_catalog.pg_attribute WHERE attrelid = to_regclass('auth.identities') AND attname = 'provider_id' AND NOT attisdropped)
  AND EXISTS (SELECT FROM pg_catalog.pg_attribute WHERE attrelid = to_regclass('auth.identities') AND attname = 'id' AND atttypid = 'text'::regtype AND NOT attisdropped)
THEN
  ALTER TABLE auth.identities RENAME COLUMN id TO provider_id;
  ALTER TABLE auth.identities DROP CONSTRAINT IF EXISTS identities_pkey;
  ALTER TABLE auth.identities ADD COLUMN id uuid DEFAULT gen_random_uuid() NOT NULL PRIMARY KEY;
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_constraint WHERE conrelid = to_regclass('auth.identities') AND conname = 'identities_provider_id_provider_unique') THEN
    ALTER TABLE auth.identities ADD CONSTRAINT identities_provider_id_provider_unique UNIQUE (provider_id, provider);
  END IF;
END IF;`)

/** The helper functions exactly as GoTrue defines them (both the claims JSON and the legacy per-claim settings). */
export const AUTH_FUNCTIONS: ReadonlyArray<{ signature: string; comment?: string; definition: string }> = [
  {
    signature: 'auth.uid()',
    comment: "Deprecated. Use auth.jwt() -> 'sub' instead.",
    definition: `CREATE OR REPLACE FUNCTION auth.uid() RETURNS uuid
    LANGUAGE sql STABLE
    AS $fn$
  select
  coalesce(
    nullif(current_setting('request.jwt.claim.sub', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
  )::uuid
$fn$`,
  },
  {
    signature: 'auth.role()',
    comment: "Deprecated. Use auth.jwt() -> 'role' instead.",
    definition: `CREATE OR REPLACE FUNCTION auth.role() RETURNS text
    LANGUAGE sql STABLE
    AS $fn$
  select
  coalesce(
    nullif(current_setting('request.jwt.claim.role', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
  )::text
$fn$`,
  },
  {
    signature: 'auth.email()',
    comment: "Deprecated. Use auth.jwt() -> 'email' instead.",
    definition: `CREATE OR REPLACE FUNCTION auth.email() RETURNS text
    LANGUAGE sql STABLE
    AS $fn$
  select
  coalesce(
    nullif(current_setting('request.jwt.claim.email', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email')
  )::text
$fn$`,
  },
  {
    signature: 'auth.jwt()',
    definition: `CREATE OR REPLACE FUNCTION auth.jwt() RETURNS jsonb
    LANGUAGE sql STABLE
    AS $fn$
  select
    coalesce(
        nullif(current_setting('request.jwt.claim', true), ''),
        nullif(current_setting('request.jwt.claims', true), '')
    )::jsonb
$fn$`,
  },
]

/**
 * Creates a helper when missing. An existing one is replaced only when it predates the
 * `request.jwt.claims` fallback (the 2021 versions read only `request.jwt.claim.*`) and the
 * connecting role can act as its owner; a current definition is left exactly as it is.
 */
function ensureAuthFunction(fn: (typeof AUTH_FUNCTIONS)[number]): string {
  const create = [fn.definition + ';', fn.comment ? `COMMENT ON FUNCTION ${fn.signature} IS '${fn.comment.replaceAll("'", "''")}';` : '']
  return doBlock(`${skipUnlessUsable('auth')}
IF to_regprocedure('${fn.signature}') IS NULL AND NOT ${MAY_CREATE_IN('auth')} THEN
  ${warn(`'function ${fn.signature} is missing and the connecting role may not create in schema auth'`)}
ELSIF to_regprocedure('${fn.signature}') IS NULL
  OR EXISTS (SELECT FROM pg_catalog.pg_proc WHERE oid = to_regprocedure('${fn.signature}')
             AND prosrc NOT LIKE '%request.jwt.claims%' AND pg_catalog.pg_has_role(current_user, proowner, 'USAGE'))
THEN
  ${create.join('\n  ')}
END IF;`)
}


export function authStatements(): string[] {
  return [
    schemaAccessWarning('auth'),
    ...AUTH_ENUMS.map(([name, labels]) => ensureEnum('auth', name, labels)),
    IDENTITIES_PROVIDER_ID_MIGRATION,
    ...AUTH_TABLES.map(ensureTable),
    ...AUTH_FUNCTIONS.map(ensureAuthFunction),
    // Policies written for Supabase call auth.uid() & co. as anon/authenticated.
    ensurePrivilege('SCHEMA', 'auth', 'USAGE', ['anon', 'authenticated', 'service_role']),
    ...AUTH_FUNCTIONS.map((f) => ensurePrivilege('FUNCTION', f.signature, 'EXECUTE', ['anon', 'authenticated', 'service_role'])),
    // GoTrue's own role (and the dashboard's) may use and change the schema, where we can arrange it.
    ensurePrivilege('SCHEMA', 'auth', 'USAGE', ['supabase_auth_admin', 'dashboard_user']),
    ensurePrivilege('SCHEMA', 'auth', 'CREATE', ['supabase_auth_admin', 'dashboard_user']),
    ...AUTH_TABLES.map((t) => grantOnOwned('TABLE', 'auth', t.name, 'ALL', ['supabase_auth_admin', 'dashboard_user'])),
    grantOnOwned('SEQUENCE', 'auth', 'refresh_tokens_id_seq', 'ALL', ['supabase_auth_admin', 'dashboard_user']),
  ]
}
