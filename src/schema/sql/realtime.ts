/**
 * The `realtime` schema as Supabase Realtime's migrations leave it, for what resolution serves:
 * `realtime.messages` (RLS on: its policies authorize private channels, `realtime.topic()` names
 * the channel being checked), `realtime.send(…)` and `realtime.broadcast_changes(…)` (broadcasts
 * from SQL and triggers). An insert of a message with a payload NOTIFYs `resolution_realtime_messages`
 * with the row (or, past NOTIFY's size limit, its id): every server delivers it to its clients.
 * @module
 */
import { doBlock, MAY_CREATE_IN, skipUnlessUsable, type TableSpec } from '../ddl.ts'

const API_ROLES = 'anon, authenticated, service_role'
export const MESSAGES_CHANNEL = 'resolution_realtime_messages'
/** Row changes of tables in the supabase_realtime publication (Postgres changes). */
export const CHANGES_CHANNEL = 'resolution_realtime_changes'
export const CAPTURE_TRIGGER = 'resolution_realtime_capture'

/**
 * The change log: every captured change, with its position (`id`) and its transaction (`xid`),
 * so a server that was not listening reads what it missed (realtime/change-log.ts). Runtime
 * state in resolution's own schema: dumps and restores leave `_resolution` out.
 */
export const CHANGE_LOG = `
DO $resolution$
BEGIN
  IF NOT pg_catalog.has_schema_privilege(current_user, '_resolution', 'CREATE') THEN RETURN; END IF;
  IF to_regclass('_resolution.realtime_changes') IS NULL THEN
    CREATE TABLE _resolution.realtime_changes (
      id bigserial PRIMARY KEY,
      xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
      inserted_at timestamptz NOT NULL DEFAULT now(),
      change jsonb NOT NULL
    );
    CREATE INDEX realtime_changes_xid_idx ON _resolution.realtime_changes (xid);
    CREATE INDEX realtime_changes_inserted_at_idx ON _resolution.realtime_changes (inserted_at);
    REVOKE ALL ON _resolution.realtime_changes FROM PUBLIC;
  END IF;
END
$resolution$;`

/**
 * A published table's row change: logged in the change log and NOTIFYed at commit (in commit
 * order) with its position and transaction, and the change itself when it fits NOTIFY's 8000
 * bytes (else the servers read it from the log). SECURITY DEFINER: the writer (say,
 * authenticated through REST) may not write the log. Replaced on every bootstrap: it is
 * resolution's own function, and an older one (before the log) would lose changes.
 */
export const CAPTURE_FUNCTION = `
DO $resolution$
BEGIN
  IF to_regclass('_resolution.realtime_changes') IS NULL THEN RETURN; END IF;
  CREATE OR REPLACE FUNCTION _resolution.realtime_capture() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
  DECLARE
    change jsonb;
    pos bigint;
    tx xid8;
    message text;
  BEGIN
    change := jsonb_build_object(
      'schema', TG_TABLE_SCHEMA, 'table', TG_TABLE_NAME, 'type', TG_OP,
      'commit_timestamp', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
      'record', CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END,
      'old_record', CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END);
    INSERT INTO _resolution.realtime_changes (change) VALUES (change) RETURNING id, xid INTO pos, tx;
    message := '{"q":' || pos || ',"x":"' || tx || '","c":' || change::text || '}';
    IF octet_length(message) > 7900 THEN
      message := '{"q":' || pos || ',"x":"' || tx || '"}';
    END IF;
    PERFORM pg_notify('${CHANGES_CHANNEL}', message);
    RETURN NULL;
  END
  $fn$;
EXCEPTION WHEN insufficient_privilege THEN
  RAISE WARNING '_resolution.realtime_capture(): not owned by the connecting role; Postgres changes may be lost while a server is not listening';
END
$resolution$;`

export const REALTIME_TABLES: readonly TableSpec[] = [
  {
    schema: 'realtime',
    name: 'messages',
    columns: [
      ['topic', 'text NOT NULL'],
      ['extension', 'text NOT NULL'],
      ['payload', 'jsonb'],
      ['event', 'text'],
      ['private', 'boolean DEFAULT false'],
      ['updated_at', 'timestamp without time zone DEFAULT now() NOT NULL'],
      ['inserted_at', 'timestamp without time zone DEFAULT now() NOT NULL'],
      ['id', 'uuid DEFAULT gen_random_uuid() NOT NULL'],
      ['binary_payload', 'bytea'],
    ],
    constraints: ['CONSTRAINT messages_pkey PRIMARY KEY (id)', 'CONSTRAINT messages_payload_exclusive CHECK (payload IS NULL OR binary_payload IS NULL)'],
    indexes: [['messages_inserted_at_topic_index', 'CREATE INDEX messages_inserted_at_topic_index ON realtime.messages USING btree (inserted_at DESC, topic)']],
    rowLevelSecurity: true,
    grantsOnCreate: [`GRANT SELECT, INSERT, UPDATE ON TABLE realtime.messages TO ${API_ROLES}`],
  },
]

const FUNCTIONS: ReadonlyArray<readonly [string, string]> = [
  [
    'realtime.topic()',
    `CREATE FUNCTION realtime.topic() RETURNS text LANGUAGE sql STABLE AS $fn$ SELECT nullif(current_setting('realtime.topic', true), '')::text $fn$`,
  ],
  [
    'realtime.send(jsonb,text,text,boolean)',
    `CREATE FUNCTION realtime.send(payload jsonb, event text, topic text, private boolean DEFAULT true) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  generated_id uuid;
  final_payload jsonb;
BEGIN
  BEGIN
    generated_id := gen_random_uuid();
    final_payload := CASE WHEN payload ? 'id' THEN payload ELSE jsonb_set(payload, '{id}', to_jsonb(generated_id)) END;
    PERFORM set_config('realtime.topic', topic, true);
    INSERT INTO realtime.messages (id, payload, event, topic, private, extension)
    VALUES (generated_id, final_payload, event, topic, private, 'broadcast');
  EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'ErrorSendingBroadcastMessage: %', SQLERRM;
  END;
END
$fn$`,
  ],
  [
    'realtime.send_binary(bytea,text,text,boolean)',
    `CREATE FUNCTION realtime.send_binary(payload bytea, event text, topic text, private boolean DEFAULT true) RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  generated_id uuid;
BEGIN
  BEGIN
    generated_id := gen_random_uuid();
    PERFORM set_config('realtime.topic', topic, true);
    INSERT INTO realtime.messages (id, binary_payload, event, topic, private, extension)
    VALUES (generated_id, payload, event, topic, private, 'broadcast');
  EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'ErrorSendingBroadcastMessage: %', SQLERRM;
  END;
END
$fn$`,
  ],
  [
    'realtime.broadcast_changes(text,text,text,text,text,record,record,text)',
    `CREATE FUNCTION realtime.broadcast_changes(topic_name text, event_name text, operation text, table_name text, table_schema text, new record, old record, level text DEFAULT 'ROW') RETURNS void LANGUAGE plpgsql AS $fn$
DECLARE
  row_data jsonb := '{}'::jsonb;
BEGIN
  IF level = 'STATEMENT' THEN
    RAISE EXCEPTION 'function can only be triggered for each row, not for each statement';
  END IF;
  IF operation = 'INSERT' OR operation = 'UPDATE' OR operation = 'DELETE' THEN
    row_data := jsonb_build_object('old_record', old, 'record', new, 'operation', operation, 'table', table_name, 'schema', table_schema);
    PERFORM realtime.send(row_data, event_name, topic_name);
  ELSE
    RAISE EXCEPTION 'Unexpected operation type: %', operation;
  END IF;
EXCEPTION WHEN OTHERS THEN
  RAISE EXCEPTION 'Failed to process the row: %', SQLERRM;
END
$fn$`,
  ],
  [
    '_resolution.realtime_message_notify()',
    // The whole row when it fits NOTIFY (8000 bytes), else its id for the servers to read.
    `CREATE FUNCTION _resolution.realtime_message_notify() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  message text := json_build_object('id', NEW.id, 'topic', NEW.topic, 'event', NEW.event, 'private', NEW.private, 'payload', NEW.payload)::text;
BEGIN
  IF octet_length(message) > 7900 THEN
    message := json_build_object('id', NEW.id)::text;
  END IF;
  PERFORM pg_notify('${MESSAGES_CHANNEL}', message);
  RETURN NULL;
END
$fn$`,
  ],
  [
    '_resolution.realtime_binary_notify()',
    // Bytes do not travel in NOTIFY's text: only the id, and the servers read the row back.
    `CREATE FUNCTION _resolution.realtime_binary_notify() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  PERFORM pg_notify('${MESSAGES_CHANNEL}', json_build_object('id', NEW.id)::text);
  RETURN NULL;
END
$fn$`,
  ],
]

/** Databases made before binary broadcasts: the column realtime.send_binary writes (Realtime's own migration). */
const BINARY_PAYLOAD_COLUMN = `
IF to_regclass('realtime.messages') IS NOT NULL
   AND NOT EXISTS (SELECT FROM pg_catalog.pg_attribute WHERE attrelid = 'realtime.messages'::regclass AND attname = 'binary_payload' AND NOT attisdropped) THEN
  BEGIN
    ALTER TABLE realtime.messages ADD COLUMN binary_payload bytea;
    ALTER TABLE realtime.messages ADD CONSTRAINT messages_payload_exclusive CHECK (payload IS NULL OR binary_payload IS NULL) NOT VALID;
  EXCEPTION WHEN insufficient_privilege THEN
    RAISE WARNING 'realtime.messages: not owned by the connecting role; binary broadcasts from SQL (realtime.send_binary) are unavailable';
  END;
END IF;`

const GRANTS: Record<string, string> = {
  'realtime.topic()': `GRANT EXECUTE ON FUNCTION realtime.topic() TO ${API_ROLES}`,
  'realtime.send(jsonb,text,text,boolean)': `GRANT EXECUTE ON FUNCTION realtime.send(jsonb,text,text,boolean) TO ${API_ROLES}`,
  'realtime.send_binary(bytea,text,text,boolean)': `GRANT EXECUTE ON FUNCTION realtime.send_binary(bytea,text,text,boolean) TO ${API_ROLES}`,
}

export function realtimeStatements(): string[] {
  const functions = FUNCTIONS.map(([signature, definition]) => {
    const schema = signature.slice(0, signature.indexOf('.'))
    return doBlock(`${skipUnlessUsable(schema)}
IF to_regprocedure('${signature}') IS NULL AND ${MAY_CREATE_IN(schema)} THEN
  ${definition};
  ${GRANTS[signature] ? `${GRANTS[signature]};` : ''}
END IF;`)
  })
  const trigger = doBlock(`${skipUnlessUsable('realtime')}
IF to_regclass('realtime.messages') IS NOT NULL AND to_regprocedure('_resolution.realtime_message_notify()') IS NOT NULL
   AND NOT EXISTS (SELECT FROM pg_catalog.pg_trigger WHERE tgrelid = 'realtime.messages'::regclass AND tgname = 'resolution_notify') THEN
  BEGIN
    CREATE TRIGGER resolution_notify AFTER INSERT ON realtime.messages FOR EACH ROW
      WHEN (NEW.payload IS NOT NULL AND NEW.extension = 'broadcast') EXECUTE FUNCTION _resolution.realtime_message_notify();
  EXCEPTION WHEN insufficient_privilege THEN
    RAISE WARNING 'realtime.messages: not owned by the connecting role; broadcasts from SQL (realtime.send) will not reach clients';
  END;
END IF;
IF to_regclass('realtime.messages') IS NOT NULL AND to_regprocedure('_resolution.realtime_binary_notify()') IS NOT NULL
   AND EXISTS (SELECT FROM pg_catalog.pg_attribute WHERE attrelid = 'realtime.messages'::regclass AND attname = 'binary_payload' AND NOT attisdropped)
   AND NOT EXISTS (SELECT FROM pg_catalog.pg_trigger WHERE tgrelid = 'realtime.messages'::regclass AND tgname = 'resolution_notify_binary') THEN
  BEGIN
    CREATE TRIGGER resolution_notify_binary AFTER INSERT ON realtime.messages FOR EACH ROW
      WHEN (NEW.binary_payload IS NOT NULL AND NEW.extension = 'broadcast') EXECUTE FUNCTION _resolution.realtime_binary_notify();
  EXCEPTION WHEN insufficient_privilege THEN
    RAISE WARNING 'realtime.messages: not owned by the connecting role; binary broadcasts from SQL will not reach clients';
  END;
END IF;`)
  return [CHANGE_LOG, doBlock(`${skipUnlessUsable('realtime')}${BINARY_PAYLOAD_COLUMN}`), ...functions, CAPTURE_FUNCTION, trigger]
}
