/**
 * A minimal `storage` schema: the tables a Supabase data dump COPYs into (with the columns of
 * early-2025 dumps) and the path helpers policies call (`storage.foldername(name)`…), so dumps
 * restore and storage policies compile. `/storage/v1` (src/storage/) works over these tables.
 * @module
 */
import { doBlock, MAY_CREATE_IN, skipUnlessUsable, type TableSpec } from '../ddl.ts'

const ts = 'timestamp with time zone'
const API_ROLES = 'anon, authenticated, service_role'

export const STORAGE_TABLES: readonly TableSpec[] = [
  {
    schema: 'storage',
    name: 'migrations',
    columns: [
      ['id', 'integer NOT NULL'],
      ['name', 'character varying(100) NOT NULL'],
      ['hash', 'character varying(40) NOT NULL'],
      ['executed_at', 'timestamp without time zone DEFAULT CURRENT_TIMESTAMP'],
    ],
    constraints: ['CONSTRAINT migrations_pkey PRIMARY KEY (id)', 'CONSTRAINT migrations_name_key UNIQUE (name)'],
    rowLevelSecurity: true,
  },
  {
    schema: 'storage',
    name: 'buckets',
    columns: [
      ['id', 'text NOT NULL'],
      ['name', 'text NOT NULL'],
      ['owner', 'uuid'],
      ['created_at', `${ts} DEFAULT now()`],
      ['updated_at', `${ts} DEFAULT now()`],
      ['public', 'boolean DEFAULT false'],
      ['avif_autodetection', 'boolean DEFAULT false'],
      ['file_size_limit', 'bigint'],
      ['allowed_mime_types', 'text[]'],
      ['owner_id', 'text'],
    ],
    constraints: ['CONSTRAINT buckets_pkey PRIMARY KEY (id)'],
    indexes: [['bname', 'CREATE UNIQUE INDEX bname ON storage.buckets USING btree (name)']],
    rowLevelSecurity: true,
    grantsOnCreate: [`GRANT ALL ON TABLE storage.buckets TO ${API_ROLES}`],
  },
  {
    schema: 'storage',
    name: 'objects',
    columns: [
      ['id', 'uuid DEFAULT gen_random_uuid() NOT NULL'],
      ['bucket_id', 'text'],
      ['name', 'text'],
      ['owner', 'uuid'],
      ['created_at', `${ts} DEFAULT now()`],
      ['updated_at', `${ts} DEFAULT now()`],
      ['last_accessed_at', `${ts} DEFAULT now()`],
      ['metadata', 'jsonb'],
      ['path_tokens', "text[] GENERATED ALWAYS AS (string_to_array(name, '/'::text)) STORED"],
      ['version', 'text'],
      ['owner_id', 'text'],
      ['user_metadata', 'jsonb'],
    ],
    constraints: ['CONSTRAINT objects_pkey PRIMARY KEY (id)', 'CONSTRAINT "objects_bucketId_fkey" FOREIGN KEY (bucket_id) REFERENCES storage.buckets(id)'],
    indexes: [
      ['bucketid_objname', 'CREATE UNIQUE INDEX bucketid_objname ON storage.objects USING btree (bucket_id, name)'],
      ['name_prefix_search', 'CREATE INDEX name_prefix_search ON storage.objects USING btree (name text_pattern_ops)'],
      ['idx_objects_bucket_id_name', 'CREATE INDEX idx_objects_bucket_id_name ON storage.objects USING btree (bucket_id, name COLLATE "C")'],
    ],
    rowLevelSecurity: true,
    grantsOnCreate: [`GRANT ALL ON TABLE storage.objects TO ${API_ROLES}`],
  },
  {
    schema: 'storage',
    name: 's3_multipart_uploads',
    columns: [
      ['id', 'text NOT NULL'],
      ['in_progress_size', 'bigint DEFAULT 0 NOT NULL'],
      ['upload_signature', 'text NOT NULL'],
      ['bucket_id', 'text NOT NULL'],
      ['key', 'text COLLATE "C" NOT NULL'],
      ['version', 'text NOT NULL'],
      ['owner_id', 'text'],
      ['created_at', `${ts} DEFAULT now() NOT NULL`],
      ['user_metadata', 'jsonb'],
    ],
    constraints: ['CONSTRAINT s3_multipart_uploads_pkey PRIMARY KEY (id)', 'CONSTRAINT s3_multipart_uploads_bucket_id_fkey FOREIGN KEY (bucket_id) REFERENCES storage.buckets(id)'],
    indexes: [['idx_multipart_uploads_list', 'CREATE INDEX idx_multipart_uploads_list ON storage.s3_multipart_uploads USING btree (bucket_id, key, created_at)']],
    rowLevelSecurity: true,
    grantsOnCreate: ['GRANT ALL ON TABLE storage.s3_multipart_uploads TO service_role'],
  },
  {
    schema: 'storage',
    name: 's3_multipart_uploads_parts',
    columns: [
      ['id', 'uuid DEFAULT gen_random_uuid() NOT NULL'],
      ['upload_id', 'text NOT NULL'],
      ['size', 'bigint DEFAULT 0 NOT NULL'],
      ['part_number', 'integer NOT NULL'],
      ['bucket_id', 'text NOT NULL'],
      ['key', 'text COLLATE "C" NOT NULL'],
      ['etag', 'text NOT NULL'],
      ['owner_id', 'text'],
      ['version', 'text NOT NULL'],
      ['created_at', `${ts} DEFAULT now() NOT NULL`],
    ],
    constraints: [
      'CONSTRAINT s3_multipart_uploads_parts_pkey PRIMARY KEY (id)',
      'CONSTRAINT s3_multipart_uploads_parts_bucket_id_fkey FOREIGN KEY (bucket_id) REFERENCES storage.buckets(id)',
      'CONSTRAINT s3_multipart_uploads_parts_upload_id_fkey FOREIGN KEY (upload_id) REFERENCES storage.s3_multipart_uploads(id) ON DELETE CASCADE',
    ],
    rowLevelSecurity: true,
    grantsOnCreate: ['GRANT ALL ON TABLE storage.s3_multipart_uploads_parts TO service_role'],
  },
]

/** The path helpers as storage-api defines them; created when missing, never replaced. */
const PATH_FUNCTIONS: ReadonlyArray<readonly [string, string]> = [
  [
    'storage.foldername(text)',
    `CREATE FUNCTION storage.foldername(name text) RETURNS text[] LANGUAGE plpgsql AS $fn$
DECLARE
_parts text[];
BEGIN
    select string_to_array(name, '/') into _parts;
    return _parts[1:array_length(_parts,1)-1];
END
$fn$`,
  ],
  [
    'storage.filename(text)',
    `CREATE FUNCTION storage.filename(name text) RETURNS text LANGUAGE plpgsql AS $fn$
DECLARE
_parts text[];
BEGIN
    select string_to_array(name, '/') into _parts;
    return _parts[array_length(_parts,1)];
END
$fn$`,
  ],
  [
    'storage.extension(text)',
    `CREATE FUNCTION storage.extension(name text) RETURNS text LANGUAGE plpgsql AS $fn$
DECLARE
_parts text[];
_filename text;
BEGIN
    select string_to_array(name, '/') into _parts;
    select _parts[array_length(_parts,1)] into _filename;
    return reverse(split_part(reverse(_filename), '.', 1));
END
$fn$`,
  ],
]

export function storageStatements(): string[] {
  return PATH_FUNCTIONS.map(([signature, definition]) =>
    doBlock(`${skipUnlessUsable('storage')}
IF to_regprocedure('${signature}') IS NULL AND ${MAY_CREATE_IN('storage')} THEN
  ${definition};
  GRANT EXECUTE ON FUNCTION ${signature} TO ${API_ROLES};
END IF;`),
  )
}
