#!/usr/bin/env bash
# Runs supabase/realtime's end-to-end check (test/e2e/realtime-check.ts) against this service,
# configured as its `--env local` stack is: API on :54321, the CLI's JWT secret and keys, the
# database it sets up itself (tables, policies, triggers) reached directly.
# The check is written for Bun; here it runs under Node (tsx) with two stand-ins made in a scratch
# directory: `bun`'s SQL tagged-template client over postgres.js (the same call shape), and a
# global WebSocket from `ws` (Node 20 has none).
#
#   scripts/client-suites/realtime-check.sh <supabase/realtime checkout> [--test functional|broadcast,…]
#
# Needs a local PostgreSQL (PG_ADMIN_URL, default postgres://postgres@127.0.0.1:5432/postgres) and
# the npm registry (the check's own dependencies are installed in the scratch directory).
# Wrap in `flock /tmp/port-54321.lock` where others share the port.
set -euo pipefail

checkout=$(cd "${1:?usage: realtime-check.sh <supabase/realtime checkout> [--test …]}" && pwd)
shift
tests=("$@")
[[ ${#tests[@]} -eq 0 ]] && tests=(--test functional)
here=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=scripts/client-suites/lib.sh
source "$(dirname "$0")/lib.sh"
admin_url=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
db=${SUITE_DB:-client_suite_realtime_check}
db_url="${admin_url%/*}/$db"
port=54321
work=${REALTIME_CHECK_DIR:-$(mktemp -d -t realtime-check.XXXXXX)}

export JWT_SECRET='super-secret-jwt-token-with-at-least-32-characters-long'
export ANON_KEY='eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6ImFub24iLCJleHAiOjE5ODM4MTI5OTZ9.CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0'
export SERVICE_ROLE_KEY='eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6InNlcnZpY2Vfcm9sZSIsImV4cCI6MTk4MzgxMjk5Nn0.EGIM96RAZx35lJzdJsyH-qQwv8Hdp7fsn3W0YpN81IU'

echo "== the check and its dependencies in $work"
cp "$checkout/test/e2e/realtime-check.ts" "$work/"
if [[ ! -d "$work/node_modules/@supabase/supabase-js" ]]; then
  (cd "$work" && echo '{"name":"realtime-check-node","private":true,"type":"module"}' >package.json &&
    npm install --no-audit --no-fund --ignore-scripts --silent \
      "$(node -p "require('$checkout/test/e2e/package.json').dependencies['@supabase/supabase-js']" | sed 's/^/@supabase\/supabase-js@/')" \
      commander@14 kleur@4 postgres@3 ws@8 tsx@4 @opentelemetry/api@1 @opentelemetry/context-async-hooks@2 \
      @opentelemetry/exporter-trace-otlp-http@0.218 @opentelemetry/resources@2 @opentelemetry/sdk-trace-base@2 \
      @opentelemetry/semantic-conventions@1)
fi
mkdir -p "$work/node_modules/bun"
echo '{"name":"bun","version":"0.0.0-stand-in","type":"module","main":"index.js"}' >"$work/node_modules/bun/package.json"
cat >"$work/node_modules/bun/index.js" <<'JS'
import postgres from 'postgres'
export class SQL {
  constructor(url, options = {}) {
    const sql = postgres(url, { ssl: options.tls || false, onnotice: () => {} })
    const tag = (...args) => sql(...args)
    tag.close = () => sql.end()
    return tag
  }
}
JS
echo "import WebSocket from 'ws'; globalThis.WebSocket ??= WebSocket" >"$work/ws-global.mjs"

echo "== database $db: bootstrap"
psql -q "$admin_url" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
(cd "$here" && node bin/resolution.mjs db init --database-url "$db_url" >/dev/null)

echo "== service on :$port"
cleanup() { [[ -n "${serve_pid:-}" ]] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null; return 0; }
trap cleanup EXIT
(cd "$here" && DATABASE_URL="$db_url" PORT=$port RESOLUTION_DATA_DIR="$work/data" STORAGE_DIR="$work/objects" \
  EMBEDDED_DB_PORT=off LOG_LEVEL=warn NODE_ENV=development AUTH_AUTOCONFIRM=true exec node bin/resolution.mjs serve) >"$work/serve.log" 2>&1 &
serve_pid=$!
wait_healthy "http://127.0.0.1:$port/health" "$serve_pid" "$work/serve.log" || exit 1

echo "== realtime-check ${tests[*]}"
set +e
(cd "$work" && node --import ./ws-global.mjs --import tsx realtime-check.ts --env local \
  --url "http://127.0.0.1:$port" --db-url "$db_url" \
  --publishable-key "$ANON_KEY" --secret-key "$SERVICE_ROLE_KEY" --json "${tests[@]}" >"$work/result.json" 2>"$work/check.log")
status=$?
set -e
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  let pass = 0, fail = 0;
  for (const [suite, s] of Object.entries(r.suites ?? {})) for (const t of s.tests ?? []) {
    t.passed ? pass++ : fail++;
    if (!t.passed) console.log(`FAIL ${suite} › ${t.name}: ${t.error ?? ""}`);
  }
  console.log(`passed ${pass}, failed ${fail}`);
' "$work/result.json" || { tail -40 "$work/check.log"; exit 1; }
exit $status
