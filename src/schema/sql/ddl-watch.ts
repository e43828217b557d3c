/**
 * Supabase's schema watch: event triggers that send `NOTIFY pgrst, 'reload schema'` after DDL, so
 * a table made with `psql`, a migration tool or a dashboard is served at once. Same names as
 * Supabase's image (`extensions.pgrst_ddl_watch()` / `pgrst_drop_watch()`, event triggers
 * `pgrst_ddl_watch` / `pgrst_drop_watch`), so a restored Supabase dump finds them present and
 * `db restore` skips its copies (rule `event-trigger`) instead of duplicating them.
 *
 * Event triggers need a superuser (PostgreSQL 15; PGlite's `postgres` is one). Without the
 * privilege the step records a warning (log, `db status`) and changes nothing; DDL then needs a
 * manual NOTIFY. Existing functions and triggers (Supabase's own) are left as they are.
 * @module
 */
import { doBlock, warn } from '../ddl.ts'

/** Supabase's command list, plus policies (so a policy change reloads too, as the API reads them). */
const DDL_WATCH = `CREATE FUNCTION extensions.pgrst_ddl_watch() RETURNS event_trigger LANGUAGE plpgsql AS $fn$
DECLARE
  cmd record;
BEGIN
  FOR cmd IN SELECT * FROM pg_event_trigger_ddl_commands()
  LOOP
    IF cmd.command_tag IN (
      'CREATE SCHEMA', 'ALTER SCHEMA'
    , 'CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO', 'ALTER TABLE'
    , 'CREATE FOREIGN TABLE', 'ALTER FOREIGN TABLE'
    , 'CREATE VIEW', 'ALTER VIEW'
    , 'CREATE MATERIALIZED VIEW', 'ALTER MATERIALIZED VIEW'
    , 'CREATE FUNCTION', 'ALTER FUNCTION'
    , 'CREATE TRIGGER'
    , 'CREATE TYPE', 'ALTER TYPE'
    , 'CREATE RULE'
    , 'CREATE POLICY', 'ALTER POLICY'
    , 'COMMENT'
    )
    -- not for CREATE TEMP table or other objects in pg_temp
    AND cmd.schema_name IS DISTINCT FROM 'pg_temp'
    THEN
      NOTIFY pgrst, 'reload schema';
    END IF;
  END LOOP;
END; $fn$`

const DROP_WATCH = `CREATE FUNCTION extensions.pgrst_drop_watch() RETURNS event_trigger LANGUAGE plpgsql AS $fn$
DECLARE
  obj record;
BEGIN
  FOR obj IN SELECT * FROM pg_event_trigger_dropped_objects()
  LOOP
    IF obj.object_type IN (
      'schema'
    , 'table'
    , 'foreign table'
    , 'view'
    , 'materialized view'
    , 'function'
    , 'trigger'
    , 'type'
    , 'rule'
    , 'policy'
    )
    AND obj.is_temporary IS false -- no pg_temp objects
    THEN
      NOTIFY pgrst, 'reload schema';
    END IF;
  END LOOP;
END; $fn$`

/** The warning text, also matched by `db status`. */
export const DDL_WATCH_WARNING = 'schema watch not installed: the connecting role may not create event triggers (needs a superuser), so DDL made outside resolution needs NOTIFY pgrst, \'reload schema\''

export const DDL_WATCH_TRIGGERS = ['pgrst_ddl_watch', 'pgrst_drop_watch'] as const

export function ddlWatchStatements(): string[] {
  return [
    doBlock(`IF EXISTS (SELECT FROM pg_catalog.pg_event_trigger WHERE evtname = 'pgrst_ddl_watch')
   AND EXISTS (SELECT FROM pg_catalog.pg_event_trigger WHERE evtname = 'pgrst_drop_watch') THEN
  RETURN;
END IF;
IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = current_user AND rolsuper) THEN
  ${warn(`'${DDL_WATCH_WARNING.replace(/'/g, "''")}'`)}
  RETURN;
END IF;
IF to_regprocedure('extensions.pgrst_ddl_watch()') IS NULL THEN
  ${DDL_WATCH};
END IF;
IF to_regprocedure('extensions.pgrst_drop_watch()') IS NULL THEN
  ${DROP_WATCH};
END IF;
IF NOT EXISTS (SELECT FROM pg_catalog.pg_event_trigger WHERE evtname = 'pgrst_ddl_watch') THEN
  CREATE EVENT TRIGGER pgrst_ddl_watch ON ddl_command_end EXECUTE FUNCTION extensions.pgrst_ddl_watch();
END IF;
IF NOT EXISTS (SELECT FROM pg_catalog.pg_event_trigger WHERE evtname = 'pgrst_drop_watch') THEN
  CREATE EVENT TRIGGER pgrst_drop_watch ON sql_drop EXECUTE FUNCTION extensions.pgrst_drop_watch();
END IF;`),
  ]
}

/** Whether both event triggers exist and are enabled (for the start-up log and `db status`). */
export const DDL_WATCH_INSTALLED = `SELECT count(*)::int = 2 AS installed FROM pg_catalog.pg_event_trigger
  WHERE evtname IN ('pgrst_ddl_watch', 'pgrst_drop_watch') AND evtenabled <> 'D'`
