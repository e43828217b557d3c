#!/usr/bin/env bash
# Runs storage-js's own tests that talk to a live server (supabase/supabase-js,
# packages/core/storage-js/test: storageApi, storageBucketApi, storageFileApi, storageFileApiNode)
# against this service, configured as their Supabase CLI stack is: API on :54321, the CLI's JWT
# secret and keys, their seed (users, buckets, objects, policies) on a fresh database.
# They run under this repository's vitest with `jest` = `vi` (see storage-js/vitest.config.mjs), so
# the package needs no install; its tests that spy on modules with `require()` cannot run that way.
#
#   scripts/client-suites/storage-js.sh <supabase-js checkout> [vitest args, e.g. a test name filter]
#
# Needs a local PostgreSQL (PG_ADMIN_URL, default postgres://postgres@127.0.0.1:5432/postgres).
# Wrap in `flock /tmp/port-54321.lock` where others share the port.
set -euo pipefail

checkout=$(cd "${1:?usage: storage-js.sh <supabase-js checkout> [vitest args]}" && pwd)
shift
here=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=scripts/client-suites/lib.sh
source "$(dirname "$0")/lib.sh"
pkg="$checkout/packages/core/storage-js"
admin_url=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
db=${SUITE_DB:-client_suite_storage_js}
db_url="${admin_url%/*}/$db"
port=54321
work=$(mktemp -d -t storage-js-suite.XXXXXX)

export JWT_SECRET='super-secret-jwt-token-with-at-least-32-characters-long'
export ANON_KEY='eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6ImFub24iLCJleHAiOjE5ODM4MTI5OTZ9.CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0'
export SERVICE_ROLE_KEY='eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6InNlcnZpY2Vfcm9sZSIsImV4cCI6MTk4MzgxMjk5Nn0.EGIM96RAZx35lJzdJsyH-qQwv8Hdp7fsn3W0YpN81IU'

echo "== database $db: bootstrap, their seed"
psql -q "$admin_url" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
(cd "$here" && node bin/resolution.mjs db init --database-url "$db_url" >/dev/null)
# Their seed calls crypt()/gen_salt() unqualified: pgcrypto lives in `extensions`, as on Supabase.
{ echo 'SET search_path = public, extensions;'; cat "$pkg/test/supabase/seed.sql"; } | psql -q "$db_url" -v ON_ERROR_STOP=1

echo "== service on :$port"
cleanup() { [[ -n "${serve_pid:-}" ]] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
(cd "$here" && DATABASE_URL="$db_url" PORT=$port STORAGE_DIR="$work/objects" RESOLUTION_DATA_DIR="$work/data" \
  EMBEDDED_DB_PORT=off LOG_LEVEL=warn NODE_ENV=development exec node bin/resolution.mjs serve) >"$work/serve.log" 2>&1 &
serve_pid=$!
wait_healthy "http://127.0.0.1:$port/health" "$serve_pid" "$work/serve.log" || exit 1

echo "== vitest (storage-js tests, copied beside this repository's node_modules)"
cp -r "$pkg/src" "$pkg/test" "$work/"
rm -rf "$work/test/__snapshots__" # jest's snapshot keys differ from vitest's
ln -s "$here/node_modules" "$work/node_modules"
set +e
"$here/node_modules/.bin/vitest" run --root "$work" --config "$here/scripts/client-suites/storage-js/vitest.config.mjs" "$@" >"$work/vitest.log" 2>&1
set -e
sed 's/\x1b\[[0-9;]*m//g' "$work/vitest.log" | grep -E '^ FAIL |Tests ' | sort -u
