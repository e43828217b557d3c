#!/usr/bin/env bash
# Runs postgrest-js's own live tests (supabase/supabase-js, packages/core/postgrest-js/test) against
# this service, configured as their Supabase CLI stack is: API on :54321, the CLI's default JWT secret
# and keys, schemas public+personal, max_rows 1000, their migration then their seed on a fresh database.
# Prints "N passed, N failed" over the live tests (see docs/compatibility.md for what is excluded and why).
#
#   scripts/client-suites/postgrest-js.sh <supabase-js checkout> [jest args, e.g. a test file]
#
# Needs: a local PostgreSQL (PG_ADMIN_URL, default postgres://postgres@127.0.0.1:5432/postgres) and
# the package's jest dependencies installed in the checkout (see docs/compatibility.md).
set -euo pipefail

checkout=$(cd "${1:?usage: postgrest-js.sh <supabase-js checkout> [jest args]}" && pwd)
shift
here=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=scripts/client-suites/lib.sh
source "$(dirname "$0")/lib.sh"
pkg="$checkout/packages/core/postgrest-js"
fixture="$pkg/test/supabase"
admin_url=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
db=${SUITE_DB:-client_suite_postgrest_js}
db_url="${admin_url%/*}/$db"
port=54321
log=$(mktemp -t postgrest-js-serve.XXXXXX.log)

# The Supabase CLI's development secret and keys (the suites' stacks use these).
export JWT_SECRET='super-secret-jwt-token-with-at-least-32-characters-long'
export ANON_KEY='eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6ImFub24iLCJleHAiOjE5ODM4MTI5OTZ9.CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0'
export SERVICE_ROLE_KEY='eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6InNlcnZpY2Vfcm9sZSIsImV4cCI6MTk4MzgxMjk5Nn0.EGIM96RAZx35lJzdJsyH-qQwv8Hdp7fsn3W0YpN81IU'

echo "== database $db: bootstrap, their migration, their seed"
psql -q "$admin_url" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
(cd "$here" && node bin/resolution.mjs db init --database-url "$db_url" >/dev/null)
# As the CLI does, each file in one transaction; a statement the server cannot run (PostGIS absent)
# is reported and the rest still applied, so the measure says what it could not set up.
# Roles are shared by every database of a server (the CLI gives each project a server of its own):
# their `alter role authenticator set pgrst.…` is scoped to this database, so others are untouched.
for file in "$fixture"/migrations/*.sql "$fixture/seed.sql"; do
  sed -E "s/^(alter role authenticator) set /\1 in database $db set /I" "$file" |
    psql -q "$db_url" -v ON_ERROR_STOP=0 2>&1 | sed "s|^|  $(basename "$file"): |" | grep -i error || true
done

echo "== service on :$port"
cleanup() { [[ -n "${serve_pid:-}" ]] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null; rm -f "$log"; }
trap cleanup EXIT
(cd "$here" && DATABASE_URL="$db_url" PORT=$port DB_SCHEMAS=public,personal API_KEY_REQUIRED=false \
  EMBEDDED_DB_PORT=off LOG_LEVEL=warn NODE_ENV=development exec node bin/resolution.mjs serve) >"$log" 2>&1 &
serve_pid=$!
wait_healthy "http://127.0.0.1:$port/health" "$serve_pid" "$log" || exit 1

echo "== jest (live tests)"
cd "$pkg"
set +e
# Extra arguments (a test file pattern) go first: the ignore list takes every word after it.
npx jest "$@" --runInBand --json --outputFile=/tmp/postgrest-js-results.json \
  --testPathIgnorePatterns 'test-d\.ts$' 'fetch-errors\.test\.ts$' 'retry\.test\.ts$' 'headers-serialization\.test\.ts$' \
  'timeout-and-url-length\.test\.ts$' 'version-and-constants\.test\.ts$' '/select-query-parser/' '/v12/' \
  >/tmp/postgrest-js-jest.log 2>&1
set -e
node -e '
  const r = require("/tmp/postgrest-js-results.json")
  for (const file of r.testResults) {
    const failed = file.assertionResults.filter((t) => t.status === "failed")
    if (file.status === "failed" && file.assertionResults.length === 0) console.log("  suite failed to run:", file.name, file.message.slice(0, 300))
    for (const t of failed) console.log("  FAIL", file.name.replace(/.*\/test\//, ""), "›", t.fullName)
  }
  console.log(`postgrest-js: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numTotalTests} total`)
'
