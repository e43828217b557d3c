/**
 * Stand-ins for two Supabase extensions plain PostgreSQL and PGlite lack, so that dumps granting
 * on them and functions calling them keep working:
 *
 * - pgjwt (`extensions.sign/verify/url_encode/url_decode/algorithm_sign/try_cast_double`): pure
 *   SQL over pgcrypto's hmac, as the extension itself is (michelp/pgjwt);
 * - `graphql_public.graphql(…)`: the placeholder Supabase installs while pg_graphql is off, which
 *   answers with a GraphQL error.
 *
 * Each function is created only when missing, and pgjwt only when pgcrypto lives in `extensions`
 * (where pgjwt's functions would be) and the pgjwt extension itself is absent.
 * @module
 */
import { doBlock, MAY_CREATE_IN } from '../ddl.ts'

const PGJWT: ReadonlyArray<readonly [string, string]> = [
  [
    'extensions.url_encode(bytea)',
    `CREATE FUNCTION extensions.url_encode(data bytea) RETURNS text LANGUAGE sql IMMUTABLE AS $fn$
    SELECT translate(encode(data, 'base64'), E'+/=\\n', '-_');
$fn$`,
  ],
  [
    'extensions.url_decode(text)',
    `CREATE FUNCTION extensions.url_decode(data text) RETURNS bytea LANGUAGE sql IMMUTABLE AS $fn$
WITH t AS (SELECT translate(data, '-_', '+/') AS trans),
     rem AS (SELECT length(t.trans) % 4 AS remainder FROM t)
    SELECT decode(t.trans || CASE WHEN rem.remainder > 0 THEN repeat('=', (4 - rem.remainder)) ELSE '' END, 'base64') FROM t, rem;
$fn$`,
  ],
  [
    'extensions.algorithm_sign(text, text, text)',
    `CREATE FUNCTION extensions.algorithm_sign(signables text, secret text, algorithm text) RETURNS text LANGUAGE sql IMMUTABLE AS $fn$
WITH alg AS (
  SELECT CASE WHEN algorithm = 'HS256' THEN 'sha256' WHEN algorithm = 'HS384' THEN 'sha384' WHEN algorithm = 'HS512' THEN 'sha512' ELSE '' END AS id)
SELECT extensions.url_encode(extensions.hmac(signables, secret, alg.id)) FROM alg;
$fn$`,
  ],
  [
    'extensions.sign(json, text, text)',
    `CREATE FUNCTION extensions.sign(payload json, secret text, algorithm text DEFAULT 'HS256') RETURNS text LANGUAGE sql IMMUTABLE AS $fn$
WITH
  header AS (SELECT extensions.url_encode(convert_to('{"alg":"' || algorithm || '","typ":"JWT"}', 'utf8')) AS data),
  payload AS (SELECT extensions.url_encode(convert_to(payload::text, 'utf8')) AS data),
  signables AS (SELECT header.data || '.' || payload.data AS data FROM header, payload)
SELECT signables.data || '.' || extensions.algorithm_sign(signables.data, secret, algorithm) FROM signables;
$fn$`,
  ],
  [
    'extensions.try_cast_double(text)',
    `CREATE FUNCTION extensions.try_cast_double(inp text) RETURNS double precision LANGUAGE plpgsql IMMUTABLE AS $fn$
  BEGIN
    BEGIN
      RETURN inp::double precision;
    EXCEPTION
      WHEN OTHERS THEN RETURN NULL;
    END;
  END;
$fn$`,
  ],
  [
    'extensions.verify(text, text, text)',
    `CREATE FUNCTION extensions.verify(token text, secret text, algorithm text DEFAULT 'HS256')
RETURNS TABLE(header json, payload json, valid boolean) LANGUAGE sql IMMUTABLE AS $fn$
  SELECT
    jwt.header AS header,
    jwt.payload AS payload,
    jwt.signature_ok AND tstzrange(
      to_timestamp(extensions.try_cast_double(jwt.payload->>'nbf')),
      to_timestamp(extensions.try_cast_double(jwt.payload->>'exp'))
    ) @> CURRENT_TIMESTAMP AS valid
  FROM (
    SELECT
      convert_from(extensions.url_decode(r[1]), 'utf8')::json AS header,
      convert_from(extensions.url_decode(r[2]), 'utf8')::json AS payload,
      r[3] = extensions.algorithm_sign(r[1] || '.' || r[2], secret, algorithm) AS signature_ok
    FROM regexp_split_to_array(token, '\\.') r
  ) jwt
$fn$`,
  ],
]

const GRAPHQL_PLACEHOLDER = `CREATE FUNCTION graphql_public.graphql("operationName" text DEFAULT NULL, query text DEFAULT NULL, variables jsonb DEFAULT NULL, extensions jsonb DEFAULT NULL)
RETURNS jsonb LANGUAGE sql AS $fn$
  SELECT jsonb_build_object('errors', jsonb_build_array(jsonb_build_object('message', 'pg_graphql extension is not enabled.')))
$fn$`

export function shimStatements(): string[] {
  const pgjwt = doBlock(`IF EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'pgjwt')
  OR NOT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'pgcrypto' AND extnamespace = 'extensions'::regnamespace)
  OR NOT ${MAY_CREATE_IN('extensions')} THEN
  RETURN;
END IF;
${PGJWT.map(([signature, definition]) => `IF to_regprocedure('${signature}') IS NULL THEN\n  ${definition};\nEND IF;`).join('\n')}`)
  const graphql = doBlock(`IF ${MAY_CREATE_IN('graphql_public')} AND to_regprocedure('graphql_public.graphql(text, text, jsonb, jsonb)') IS NULL THEN
  ${GRAPHQL_PLACEHOLDER};
  GRANT EXECUTE ON FUNCTION graphql_public.graphql(text, text, jsonb, jsonb) TO anon, authenticated, service_role;
END IF;`)
  return [pgjwt, graphql]
}
