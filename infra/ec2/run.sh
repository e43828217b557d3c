#!/usr/bin/env bash
# Pull the resolution image from ECR and (re)start it on this EC2 host:
#
#   infra/ec2/run.sh --image ACCOUNT.dkr.ecr.REGION.amazonaws.com/resolution:TAG [--env-file .env.prod]
#                    [--name resolution] [--port 80] [--profile NAME] [--no-pull] [--dry-run]
#
# It runs: docker run --env-file .env.prod -d -p 80:5050 --restart unless-stopped --init IMAGE
# then waits for the container's health check (GET /health). The instance role needs
# AmazonEC2ContainerRegistryReadOnly (or use --profile). Docker's --env-file keeps quotes and does
# not expand variables: write plain KEY=value lines (infra/ec2/.env.example), mode 600.
# --dry-run prints the docker commands instead of running them.
set -euo pipefail

usage() {
  sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
  exit "${1:-0}"
}

image=""
env_file=".env.prod"
name="resolution"
port="80"
profile=""
pull=1
dry_run=0

while [[ $# -gt 0 ]]; do
  case "$1" in
    --image) image="$2"; shift 2 ;;
    --env-file) env_file="$2"; shift 2 ;;
    --name) name="$2"; shift 2 ;;
    --port) port="$2"; shift 2 ;;
    --profile) profile="$2"; shift 2 ;;
    --no-pull) pull=0; shift ;;
    --dry-run) dry_run=1; shift ;;
    -h|--help) usage 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; usage 2 ;;
  esac
done

[[ -n "$image" ]] || { echo "run.sh: --image is required (ACCOUNT.dkr.ecr.REGION.amazonaws.com/resolution:TAG)" >&2; exit 2; }
if ! [[ "$port" =~ ^[0-9]+$ ]] || (( port < 1 || port > 65535 )); then
  echo "run.sh: --port must be a port number, got '$port'" >&2
  exit 2
fi
[[ -f "$env_file" ]] || { echo "run.sh: env file $env_file not found (copy infra/ec2/.env.example)" >&2; exit 2; }

# Docker passes KEY="value" with the quotes: catch it before the app sees a quoted URL.
if grep -nE '^[A-Za-z_][A-Za-z0-9_]*=["'\'']' "$env_file" >&2; then
  echo "run.sh: $env_file has quoted values (above); docker --env-file keeps the quotes: write KEY=value" >&2
  exit 2
fi
for required in DATABASE_URL JWT_SECRET ANON_KEY SERVICE_ROLE_KEY; do
  grep -qE "^${required}=." "$env_file" || { echo "run.sh: $env_file does not set $required" >&2; exit 2; }
done
perms="$(stat -c '%a' "$env_file" 2>/dev/null || echo 600)"
[[ "$perms" == "600" || "$perms" == "400" ]] || echo "run.sh: warning: $env_file is mode $perms; chmod 600 it (it holds secrets)" >&2

run() {
  if (( dry_run )); then
    printf '%q' "$1"
    printf ' %q' "${@:2}"
    printf '\n'
  else
    "$@"
  fi
}

registry="${image%%/*}"
if (( pull )); then
  if [[ "$registry" =~ ^[0-9]{12}\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com$ ]]; then
    region="${BASH_REMATCH[1]}"
    aws_args=(--region "$region")
    [[ -n "$profile" ]] && aws_args+=(--profile "$profile")
    if (( dry_run )); then
      echo "aws ${aws_args[*]} ecr get-login-password | docker login --username AWS --password-stdin $registry"
    else
      aws "${aws_args[@]}" ecr get-login-password | docker login --username AWS --password-stdin "$registry"
    fi
  fi
  run docker pull "$image"
fi

# Replace the running container, if any.
if (( dry_run )) || docker container inspect "$name" >/dev/null 2>&1; then
  run docker rm --force "$name"
fi
run docker run --env-file "$env_file" -d -p "${port}:5050" --restart unless-stopped --init --name "$name" "$image"
(( dry_run )) && exit 0

# Wait for the image's HEALTHCHECK (GET /health) to pass.
for _ in $(seq 1 60); do
  status="$(docker inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$name" 2>/dev/null || echo missing)"
  case "$status" in
    healthy) echo "resolution is up on port ${port} (${image})"; exit 0 ;;
    unhealthy|exited|dead|missing) break ;;
  esac
  sleep 2
done
echo "run.sh: the container is not healthy (${status}); its last log lines:" >&2
docker logs --tail 50 "$name" >&2 || true
exit 1
