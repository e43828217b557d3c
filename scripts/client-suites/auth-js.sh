#!/usr/bin/env bash
# Runs auth-js's own live jest tests (supabase/supabase-js, packages/core/auth-js/test) against
# this service, configured as their stacks configure GoTrue, and prints passed/failed/total.
#
#   scripts/client-suites/auth-js.sh <supabase-js checkout> [cli|docker|all] [jest args…]
#
# Needs: the checkout's auth-js dev dependencies installed (pnpm install at its root, or see
# docs/compatibility.md), a local PostgreSQL (PG_BASE_URL, default postgres://postgres@127.0.0.1:5432;
# each configuration gets a fresh database, dropped afterwards) and free ports 54321 (cli) and
# 9996-9999 (docker). Excluded files (no server needed) are listed in docs/compatibility.md.
set -euo pipefail

checkout=$(cd "${1:?usage: $0 <supabase-js checkout> [cli|docker|all] [jest args…]}" && pwd)
which=${2:-all}
shift $(( $# >= 2 ? 2 : 1 ))
root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=scripts/client-suites/lib.sh
source "$(dirname "$0")/lib.sh"
pkg="$checkout/packages/core/auth-js"
pg_base=${PG_BASE_URL:-postgres://postgres@127.0.0.1:5432}
work=$(mktemp -d /tmp/auth-js-suite.XXXXXX)
pids=()
dbs=()

cleanup() {
  for pid in "${pids[@]:-}"; do [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]:-}"; do [ -n "$pid" ] && wait "$pid" 2>/dev/null || true; done
  for db in "${dbs[@]:-}"; do [ -n "$db" ] && psql "$pg_base/postgres" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT

[ -d "$pkg/node_modules" ] || { echo "auth-js dev dependencies are missing in $pkg (see docs/compatibility.md)" >&2; exit 2; }
# Their CI generates the RSA signing key the CLI stack signs with (not committed upstream).
[ -f "$pkg/test/supabase/signing_keys.json" ] || (cd "$pkg" && node test/generate-signing-keys.js >/dev/null)

# start <name> <port> <mount: auth path prefix> <env assignments…>
start() {
  local name=$1 port=$2; shift 2
  local db="authjs_${name}_$$"
  psql "$pg_base/postgres" -qc "CREATE DATABASE \"$db\"" >/dev/null
  dbs+=("$db")
  env -i PATH="$PATH" HOME="$HOME" NODE_ENV=development LOG_LEVEL="${LOG_LEVEL:-warn}" PORT="$port" \
    DATABASE_URL="$pg_base/$db" EMBEDDED_DB_PORT=off RESOLUTION_DATA_DIR="$work/$name" "$@" \
    node "$root/bin/resolution.mjs" serve >"$work/$name.log" 2>&1 &
  pids+=($!)
  wait_healthy "http://127.0.0.1:$port/auth/v1/health" "${pids[-1]}" "$work/$name.log"
}

# The CLI stack (test/supabase/config.toml): RS256 signing key + the HS256 secret, no key
# required by its gateway for /auth/v1, autoconfirm,
# anonymous sign-ins, generous limits, one mail per second per user, WebAuthn MFA, passkeys
# and the OAuth server's client registry.
cli_env=(
  JWT_SECRET=super-secret-jwt-token-with-at-least-32-characters-long
  JWT_KEYS="$(cat "$pkg/test/supabase/signing_keys.json")"
  JWT_EXP=3600 SITE_URL=http://127.0.0.1:3000 API_KEY_REQUIRED=false
  AUTH_REDIRECT_URLS=https://127.0.0.1:3000,http://localhost:5173
  AUTH_AUTOCONFIRM=true AUTH_SMS_AUTOCONFIRM=true AUTH_ANONYMOUS_USERS=true AUTH_DISABLE_SIGNUP=false
  AUTH_REFRESH_TOKEN_REUSE_INTERVAL=10 AUTH_PASSWORD_MIN_LENGTH=6 AUTH_SECURE_EMAIL_CHANGE=true
  AUTH_SMTP_MAX_FREQUENCY=1 AUTH_OTP_LENGTH=6 AUTH_OTP_EXP=3600
  AUTH_RATE_LIMIT_EMAIL_SENT=100 AUTH_RATE_LIMIT_ANONYMOUS_USERS=100 AUTH_RATE_LIMIT_TOKEN_REFRESH=300
  AUTH_RATE_LIMIT_OTP=100 AUTH_RATE_LIMIT_VERIFY=100
  # [auth.mfa.web_authn], [auth.passkey], [auth.webauthn] and [auth.oauth_server] of their config.toml
  AUTH_MFA_WEBAUTHN_ENROLL_ENABLED=true AUTH_MFA_WEBAUTHN_VERIFY_ENABLED=true AUTH_PASSKEY_ENABLED=true
  AUTH_WEBAUTHN_RP_ID=localhost AUTH_WEBAUTHN_RP_ORIGINS=http://localhost:5173 "AUTH_WEBAUTHN_RP_DISPLAY_NAME=auth-js tests"
  AUTH_OAUTH_SERVER_ENABLED=true
)

run_jest() { # <label> <config> [args…]
  local label=$1 config=$2; shift 2
  (cd "$pkg" && npx jest --config "$config" --runInBand --coverage=false --json --outputFile="$work/$label.json" "$@" >"$work/$label.out" 2>&1) || true
  node -e '
    const r = require(process.argv[1]);
    console.log(`${process.argv[2]}: passed ${r.numPassedTests} failed ${r.numFailedTests} skipped ${r.numPendingTests + r.numTodoTests} total ${r.numTotalTests}`);
    for (const f of r.testResults) for (const t of f.assertionResults)
      if (t.status === "failed") console.log(`  FAIL ${f.name.split("/test/")[1]} › ${t.fullName}`);
    for (const f of r.testResults) if (f.status === "failed" && f.assertionResults.length === 0) console.log(`  SUITE ERROR ${f.name.split("/test/")[1]}: ${f.message.split("\n").slice(0, 3).join(" ")}`);
  ' "$work/$label.json" "$label"
}

# The live files: the ones that import test/lib/clients.ts (the CLI stack). Every other file
# under test/ needs no server (mocked or synthetic fetch, pure helpers); see docs/compatibility.md.
live_cli='test/(GoTrueApi|GoTrueClient|GoTrueClient\.browser|passkey\.e2e)\.test\.ts$'

if [ "$which" = cli ] || [ "$which" = all ]; then
  start cli 54321 "${cli_env[@]}"
  run_jest cli jest.config.cli.js "$live_cli" "$@"
  kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
fi
# The docker stacks (infra/docker-compose.yml): four GoTrue configurations at root paths with no
# gateway. Each is one server here (fresh database) behind prefix-proxy.mjs on GoTrue's port.
docker_base=(NODE_ENV=development API_KEY_REQUIRED=false AUTH_RATE_LIMIT_OTP=0 AUTH_RATE_LIMIT_VERIFY=0 AUTH_RATE_LIMIT_TOKEN_REFRESH=0 AUTH_SMTP_MAX_FREQUENCY=0)
proxy() { node "$root/scripts/client-suites/prefix-proxy.mjs" "$1" "$2" & pids+=($!); }
if [ "$which" = docker ] || [ "$which" = all ]; then
  # :9999 signup on, autoconfirm off (phone via Twilio there; no SMS here)
  start d9999 19999 "${docker_base[@]}" JWT_SECRET=37c304f8-51aa-419a-a1af-06154e63707a AUTH_AUTOCONFIRM=false \
    SITE_URL=http://localhost:9999 API_EXTERNAL_URL=http://localhost:9999 AUTH_REDIRECT_URLS=https://supabase.io/docs
  proxy 9999 19999
  # :9998 signup on, autoconfirm on, anonymous sign-ins on
  start d9998 19998 "${docker_base[@]}" JWT_SECRET=37c304f8-51aa-419a-a1af-06154e63707a AUTH_AUTOCONFIRM=true AUTH_SMS_AUTOCONFIRM=true AUTH_ANONYMOUS_USERS=true \
    SITE_URL=http://localhost:9998 API_EXTERNAL_URL=http://localhost:9998 AUTH_RATE_LIMIT_ANONYMOUS_USERS=0
  proxy 9998 19998
  # :9997 signup off
  start d9997 19997 "${docker_base[@]}" JWT_SECRET=37c304f8-51aa-419a-a1af-06154e63707a AUTH_AUTOCONFIRM=false AUTH_DISABLE_SIGNUP=true \
    SITE_URL=http://localhost:9997 API_EXTERNAL_URL=http://localhost:9997
  proxy 9997 19997
  # :9996 autoconfirm on, RS256 signing with their test key (its JWK set minus the verify-only oct key)
  rsa_key=$(node -e 'const m = require("fs").readFileSync(process.argv[1], "utf8").match(/GOTRUE_JWT_KEYS: .(\[.*\]).$/m); console.log(JSON.stringify(JSON.parse(m[1]).filter((k) => k.kty === "RSA").map((k) => ({ ...k, key_ops: ["sign", "verify"] }))))' "$pkg/infra/docker-compose.yml")
  start d9996 19996 "${docker_base[@]}" JWT_SECRET=Z7-AyPyChGNcQsX16cPBV-pPBo4q-zckDxkq1VZjATo JWT_KEYS="$rsa_key" AUTH_AUTOCONFIRM=true AUTH_SMS_AUTOCONFIRM=true \
    SITE_URL=http://localhost:9996 API_EXTERNAL_URL=http://localhost:9996
  proxy 9996 19996
  run_jest docker jest.config.docker.js "$@"
fi
node -e '
  const fs = require("fs"); let p = 0, f = 0, t = 0;
  for (const name of ["cli", "docker"]) {
    const file = `${process.argv[1]}/${name}.json`;
    if (!fs.existsSync(file)) continue;
    const r = JSON.parse(fs.readFileSync(file, "utf8")); p += r.numPassedTests; f += r.numFailedTests; t += r.numTotalTests;
  }
  console.log(`total: passed ${p} failed ${f} total ${t} (${t ? (100 * p / t).toFixed(1) : 0} %)`);
' "$work"
echo "logs and jest output: $work"
