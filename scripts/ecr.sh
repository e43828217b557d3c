#!/usr/bin/env bash
# Amazon ECR for the resolution image: create the repository, log in, build and push the
# multi-arch image, push the single-arch tag Lambda needs, retag.
#
#   scripts/ecr.sh <command> [--profile NAME] [--region REGION] [--account ID] [--repo NAME] [--tag TAG]
#
#   create-repo   create the repository (scan on push) unless it exists
#   login         docker login to the registry with `aws ecr get-login-password`
#   push          buildx build linux/amd64 + linux/arm64 and push REPO:TAG (a manifest list)
#   push-lambda   build the `lambda` target for linux/arm64 only, without attestations, and push
#                 REPO:TAG-lambda-arm64: Lambda rejects image indexes, which buildx writes even for
#                 one platform unless --provenance=false --sbom=false
#   tag NEW_TAG   point NEW_TAG at the image REPO:TAG (e.g. promote a commit to "prod")
#
# The profile is usually an IAM Identity Center (SSO) profile: run `aws sso login --profile NAME`
# first. Defaults: --profile $AWS_PROFILE, --region $AWS_REGION (or the profile's region),
# --account from `aws sts get-caller-identity`, --repo resolution, --tag the short git commit.
# Nothing account-specific is stored in the repository.
set -euo pipefail

usage() {
  sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'
  exit "${1:-0}"
}

command="${1:-}"
[[ -z "$command" || "$command" == "-h" || "$command" == "--help" ]] && usage 0
shift

profile="${AWS_PROFILE:-}"
region="${AWS_REGION:-${AWS_DEFAULT_REGION:-}}"
account="${AWS_ACCOUNT_ID:-}"
repo="resolution"
tag=""
platforms="linux/amd64,linux/arm64"
new_tag=""

while [[ $# -gt 0 ]]; do
  case "$1" in
    --profile) profile="$2"; shift 2 ;;
    --region) region="$2"; shift 2 ;;
    --account) account="$2"; shift 2 ;;
    --repo) repo="$2"; shift 2 ;;
    --tag) tag="$2"; shift 2 ;;
    --platforms) platforms="$2"; shift 2 ;;
    -h|--help) usage 0 ;;
    -*) echo "ecr.sh: unknown option $1" >&2; usage 2 ;;
    *)
      if [[ "$command" == "tag" && -z "$new_tag" ]]; then new_tag="$1"; shift
      else echo "ecr.sh: unexpected argument $1" >&2; usage 2
      fi
      ;;
  esac
done

aws_args=()
[[ -n "$profile" ]] && aws_args+=(--profile "$profile")
if [[ -z "$region" ]]; then
  region="$(aws "${aws_args[@]}" configure get region || true)"
fi
[[ -n "$region" ]] || { echo "ecr.sh: no region: pass --region or set AWS_REGION" >&2; exit 2; }
aws_args+=(--region "$region")

if [[ -z "$account" ]]; then
  account="$(aws "${aws_args[@]}" sts get-caller-identity --query Account --output text)" || {
    echo "ecr.sh: cannot read the account id; is the SSO session current? (aws sso login${profile:+ --profile $profile})" >&2
    exit 1
  }
fi
[[ "$account" =~ ^[0-9]{12}$ ]] || { echo "ecr.sh: the account id must be 12 digits, got '$account'" >&2; exit 2; }

if [[ -z "$tag" ]]; then
  tag="$(git rev-parse --short=12 HEAD 2>/dev/null || true)"
  [[ -n "$tag" ]] || { echo "ecr.sh: no --tag and no git commit to name the image" >&2; exit 2; }
  # A dirty tree gets a distinct tag, so a pushed tag always names one content.
  if ! git diff --quiet HEAD -- 2>/dev/null; then tag="${tag}-dirty-$(date -u +%Y%m%d%H%M%S)"; fi
fi

registry="${account}.dkr.ecr.${region}.amazonaws.com"
image="${registry}/${repo}"
root="$(cd "$(dirname "$0")/.." && pwd)"

ensure_builder() {
  # Multi-platform pushes need a docker-container builder.
  if ! docker buildx inspect resolution-builder >/dev/null 2>&1; then
    docker buildx create --name resolution-builder --driver docker-container >/dev/null
  fi
}

case "$command" in
  create-repo)
    if aws "${aws_args[@]}" ecr describe-repositories --repository-names "$repo" >/dev/null 2>&1; then
      echo "repository ${image} exists"
    else
      aws "${aws_args[@]}" ecr create-repository --repository-name "$repo" \
        --image-scanning-configuration scanOnPush=true --image-tag-mutability MUTABLE >/dev/null
      echo "created repository ${image}"
    fi
    ;;
  login)
    aws "${aws_args[@]}" ecr get-login-password | docker login --username AWS --password-stdin "$registry"
    ;;
  push)
    ensure_builder
    docker buildx build --builder resolution-builder --platform "$platforms" --target runtime \
      --tag "${image}:${tag}" --push "$root"
    echo "pushed ${image}:${tag} (${platforms})"
    ;;
  push-lambda)
    ensure_builder
    docker buildx build --builder resolution-builder --platform linux/arm64 --target lambda \
      --provenance=false --sbom=false --tag "${image}:${tag}-lambda-arm64" --push "$root"
    echo "pushed ${image}:${tag}-lambda-arm64 (linux/arm64, single manifest for Lambda)"
    ;;
  tag)
    [[ -n "$new_tag" ]] || { echo "ecr.sh: tag needs the new tag: scripts/ecr.sh tag prod --tag <existing>" >&2; exit 2; }
    docker buildx imagetools create --tag "${image}:${new_tag}" "${image}:${tag}"
    echo "${image}:${new_tag} -> ${image}:${tag}"
    ;;
  *)
    echo "ecr.sh: unknown command ${command}" >&2
    usage 2
    ;;
esac
