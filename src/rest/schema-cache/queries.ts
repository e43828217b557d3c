/**
 * The catalog queries behind the schema cache. They run at start-up and on reload only, never
 * per request. Schemas are `$1` (a text array).
 * @module
 */

/** Tables, views, materialized views, foreign and partitioned tables of the exposed schemas. */
export const RELATIONS_SQL = `
SELECT n.nspname AS schema, c.relname AS name, c.relkind::text AS kind,
       obj_description(c.oid, 'pg_class') AS description,
       pg_relation_is_updatable(c.oid::regclass, true) AS updatable_mask
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r', 'v', 'm', 'f', 'p') AND NOT c.relispartition
 ORDER BY n.nspname, c.relname`

export const COLUMNS_SQL = `
SELECT n.nspname AS schema, c.relname AS table, a.attname AS name,
       format_type(a.atttypid, a.atttypmod) AS type,
       coalesce(bt.typname, t.typname)::text AS type_name,
       NOT (a.attnotnull OR (t.typtype = 'd' AND t.typnotnull)) AS nullable,
       pg_get_expr(d.adbin, d.adrelid) AS "default",
       a.attgenerated <> '' AS generated,
       a.attidentity <> '' AS identity,
       col_description(c.oid, a.attnum) AS description,
       CASE WHEN coalesce(bt.typtype, t.typtype) = 'e' THEN
         (SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = coalesce(bt.oid, t.oid))
       END AS enum_values,
       CASE WHEN a.atttypmod > 4 AND coalesce(bt.typname, t.typname) IN ('varchar', 'bpchar') THEN a.atttypmod - 4 END AS max_length
  FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_type t ON t.oid = a.atttypid
  LEFT JOIN pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE n.nspname = ANY($1::text[]) AND c.relkind IN ('r', 'v', 'm', 'f', 'p') AND NOT c.relispartition
   AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY n.nspname, c.relname, a.attnum`

/**
 * Primary keys, unique constraints and foreign keys of every user schema: relationships of
 * exposed views may rest on tables in private schemas.
 */
export const CONSTRAINTS_SQL = `
SELECT con.conname::text AS name, con.contype::text AS type,
       ns.nspname::text AS schema, cl.relname::text AS table,
       array(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum ORDER BY k.ord) AS columns,
       fns.nspname::text AS ref_schema, fcl.relname::text AS ref_table,
       array(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum ORDER BY k.ord) AS ref_columns
  FROM pg_constraint con
  JOIN pg_class cl ON cl.oid = con.conrelid
  JOIN pg_namespace ns ON ns.oid = cl.relnamespace
  LEFT JOIN pg_class fcl ON fcl.oid = con.confrelid
  LEFT JOIN pg_namespace fns ON fns.oid = fcl.relnamespace
 WHERE con.contype IN ('p', 'u', 'f') AND con.conparentid = 0 AND NOT cl.relispartition
   AND ns.nspname NOT IN ('pg_catalog', 'information_schema') AND ns.nspname NOT LIKE 'pg\\_%'
 ORDER BY ns.nspname, cl.relname, con.conname`

/** The `_RETURN` rules of views (exposed or not: views over views over tables). */
export const VIEW_RULES_SQL = `
SELECT n.nspname::text AS schema, c.relname::text AS name, r.ev_action::text AS action
  FROM pg_rewrite r
  JOIN pg_class c ON c.oid = r.ev_class
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('v', 'm') AND r.rulename = '_RETURN'
   AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'`

/** Names of relation columns by (oid, attnum), to resolve the oids found in view rules. */
export const ATTRIBUTES_BY_OID_SQL = `
SELECT c.oid::int8::text AS oid, n.nspname::text AS schema, c.relname::text AS name, a.attnum::int AS attnum, a.attname::text AS column
  FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.oid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped`

export const ROUTINES_SQL = `
SELECT n.nspname::text AS schema, p.proname::text AS name,
       coalesce((
         SELECT json_agg(json_build_object(
                  'name', coalesce(p.proargnames[i], ''),
                  'type', format_type(coalesce(p.proallargtypes[i], p.proargtypes[i - 1]), NULL),
                  'typeName', (SELECT coalesce(bt.typname, t.typname)::text FROM pg_type t LEFT JOIN pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype WHERE t.oid = coalesce(p.proallargtypes[i], p.proargtypes[i - 1])),
                  'mode', coalesce(p.proargmodes[i]::text, 'i'),
                  'relation', (SELECT json_build_array(rn.nspname, rc.relname) FROM pg_type t JOIN pg_class rc ON rc.oid = t.typrelid JOIN pg_namespace rn ON rn.oid = rc.relnamespace WHERE t.oid = coalesce(p.proallargtypes[i], p.proargtypes[i - 1]))) ORDER BY i)
           FROM generate_series(1, coalesce(array_length(p.proallargtypes, 1), p.pronargs::int)) AS i
       ), '[]'::json) AS args,
       p.pronargs::int AS nargs, p.pronargdefaults::int AS ndefaults,
       format_type(p.prorettype, NULL) AS return_type,
       coalesce(rbt.typname, rt.typname)::text AS return_type_name,
       rt.typtype::text AS return_typtype,
       rn.nspname::text AS return_schema, rc.relname::text AS return_relation,
       p.proretset AS returns_set, p.provolatile::text AS volatility, p.prorows::float8 AS rows,
       obj_description(p.oid, 'pg_proc') AS description
  FROM pg_proc p
  JOIN pg_namespace n ON n.oid = p.pronamespace
  JOIN pg_type rt ON rt.oid = p.prorettype
  LEFT JOIN pg_type rbt ON rt.typtype = 'd' AND rbt.oid = rt.typbasetype
  LEFT JOIN pg_class rc ON rc.oid = rt.typrelid
  LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace
 WHERE n.nspname = ANY($1::text[]) AND p.prokind = 'f'
 ORDER BY n.nspname, p.proname`

/**
 * PostgREST's in-database configuration: `pgrst.*` settings of the authenticator role (or the
 * connecting role) and of the database, e.g. `ALTER ROLE authenticator SET pgrst.db_max_rows = '50'`.
 * A role's setting wins over a database-wide one, and one for this database over one for all.
 */
export const DB_SETTINGS_SQL = `
SELECT DISTINCT ON (key) key, value
  FROM (SELECT s.setrole, s.setdatabase, substr(kv, 7, strpos(kv, '=') - 7) AS key, substr(kv, strpos(kv, '=') + 1) AS value
          FROM pg_db_role_setting s, unnest(s.setconfig) AS kv
         WHERE kv LIKE 'pgrst.%=%'
           AND s.setdatabase IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))
           AND s.setrole IN (0, (SELECT oid FROM pg_roles WHERE rolname = 'authenticator'), (SELECT oid FROM pg_roles WHERE rolname = current_user))) AS settings
 ORDER BY key, (setrole <> 0) DESC, setdatabase DESC`

/** PostGIS's `st_asgeojson(record, …)`: its schema, when the extension is installed. */
export const GEOJSON_FUNCTION_SQL = `
SELECT n.nspname::text AS schema
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE p.proname = 'st_asgeojson' AND p.pronargs >= 1 AND p.proargtypes[0] = 'record'::regtype
 ORDER BY n.nspname LIMIT 1`
