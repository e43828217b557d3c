# syntax=docker/dockerfile:1.7
# resolution: one image for ECS Fargate (behind the ALB) and EC2 (`docker run`), amd64 and arm64.
# After the build the code is plain JavaScript (pg, pino, jose, bcryptjs are JS; PGlite and
# libpg-query are WASM) except sharp (image transformations), whose prebuilt binaries are npm
# optional dependencies chosen by --os/--cpu/--libc: so the build stages run on the builder's own
# platform, the deps stage fetches the target's binaries, and
# `docker buildx --platform linux/amd64,linux/arm64` needs no emulation.
#
#   docker build -t resolution .                       # the server image (last stage, "runtime")
#   docker build --target lambda -t resolution:lambda . # the same server for Lambda, through the Lambda Web Adapter

ARG NODE_VERSION=22
# Lambda Web Adapter, only for the `lambda` target (confirm the current release before pinning).
ARG LWA_VERSION=0.9.1

FROM public.ecr.aws/awsguru/aws-lambda-adapter:${LWA_VERSION} AS lambda-adapter

# --- build: compile TypeScript to dist/node (npm run build = tsc -p tsconfig.json) ---
FROM --platform=$BUILDPLATFORM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm run build

# --- deps: production dependencies only ---
FROM --platform=$BUILDPLATFORM node:${NODE_VERSION}-bookworm-slim AS deps
ARG TARGETARCH
WORKDIR /app
COPY package.json package-lock.json ./
# sharp's binaries for the image's platform (Debian: glibc), not the builder's.
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
      --os=linux --libc=glibc --cpu="$(if [ "$TARGETARCH" = arm64 ]; then echo arm64; else echo x64; fi)"

# --- app: what every runtime image holds; no sources, no dev dependencies, no secrets ---
FROM node:${NODE_VERSION}-bookworm-slim AS app
ENV NODE_ENV=production PORT=5050
WORKDIR /app
COPY --chown=node:node package.json ./
COPY --from=deps --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist/node ./dist/node
COPY --chown=node:node bin ./bin
USER node
EXPOSE 5050
STOPSIGNAL SIGTERM
# Used by `docker run` (EC2); ECS ignores it and uses the task definition's health check.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 5050) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# --- lambda: the same server as a Lambda container image (single-arch tag: scripts/ecr.sh push-lambda) ---
FROM app AS lambda
COPY --from=lambda-adapter /lambda-adapter /opt/extensions/lambda-adapter
ENV AWS_LWA_PORT=5050 AWS_LWA_READINESS_CHECK_PATH=/health
CMD ["node", "dist/node/cli/main.js", "serve", "--no-init"]

# --- runtime (default): the HTTP server on 5050 ---
FROM app AS runtime
CMD ["node", "dist/node/cli/main.js", "serve"]
