#!/usr/bin/env bash
# Shared by the client-suite runners (sourced, not run).

# wait_healthy URL PID LOG: waits up to 60 s for URL to answer 2xx while PID lives; on failure
# prints LOG to stderr and returns 1.
wait_healthy() {
  local url=$1 pid=$2 log=$3
  for _ in $(seq 1 120); do
    curl -fs "$url" >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; return 1; }
    sleep 0.5
  done
  echo "no answer from $url" >&2
  cat "$log" >&2
  return 1
}
