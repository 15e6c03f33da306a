# syntax=docker/dockerfile:1
# One image for every service: SERVICE (an app under apps/) picks the bundle it runs, at run time.
#
#   docker build --build-arg VERSION=$(node -p "require('./package.json').version") \
#                --build-arg REVISION=$(git rev-parse HEAD) -t mdm-platform:local .
#   docker run -e SERVICE=authority -e DATABASE_URL=… -e KAFKA_BROKERS=… mdm-platform:local
#
# Stages: `build` bundles every app with nx (dev dependencies; the console too, which the gateway
# serves), `runtime` is the bundles on a slim Node LTS. A bundle carries its npm packages
# (tools/build/esbuild.config.js), so the runtime has no node_modules at all.
# tools/docker/dockerfile.spec.ts keeps this file honest where Docker cannot run.
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
ENV NX_DAEMON=false NX_NO_CLOUD=true
# No install scripts: the platform binaries nx and esbuild need come as optional dependencies, and
# none of the scripts (the `node` runtime for npm scripts, ssh2, protobufjs) is needed to build.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN node node_modules/nx/bin/nx.js run-many -t build -p tag:type:app

FROM ${NODE_IMAGE} AS runtime
# tini as PID 1 passes SIGTERM on to node (the services stop cleanly on it) and reaps children.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
ARG VERSION=0.0.0-dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="mdm-authority-platform" \
      org.opencontainers.image.description="MDM authority platform services; SERVICE picks one" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
ENV NODE_ENV=production \
    HOST=0.0.0.0
WORKDIR /app
# Root-owned and not writable by the process: the root filesystem can be mounted read-only.
COPY --from=build /src/dist/apps ./dist/apps
COPY tools/docker/healthcheck.js ./healthcheck.js
# The image's `node` user, by number, so that Kubernetes' runAsNonRoot can check it.
USER 1000:1000
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 CMD ["node", "healthcheck.js"]
ENTRYPOINT ["tini", "--"]
# exec: node replaces the shell, so tini's SIGTERM reaches it. The V8 flags are serviceNodeFlags
# (tools/stack/services.ts), as npm start runs the services: the device path's two services get a
# larger young generation than the rest.
CMD ["sh", "-c", "case \"${SERVICE:?set SERVICE to an app under apps/}\" in device-sync|api-gateway) young=16 ;; *) young=4 ;; esac; exec node --max-semi-space-size=$young \"dist/apps/$SERVICE/main.js\""]
