# One image recipe for every service; the SERVICE build argument picks the app that runs.
# Services run from the TypeScript sources (tools/register.js: ts-node + swc, tsconfig-paths), so the
# dev dependencies are runtime dependencies here: a plain `npm ci`, no --omit=dev, no build step.
#
#   docker build --build-arg SERVICE=authority -t mdm/authority .
FROM node:24-bookworm-slim

WORKDIR /app

# Dependencies first, so this layer is shared by all services and only rebuilt when the lockfile changes.
# No install scripts: none of the packages that have one (nx, ssh2/cpu-features, protobufjs, @swc/core's
# binding check) is needed to run a service; @swc/core's native binding comes as an optional dependency.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund && npm cache clean --force

COPY . .

# Late, so that everything above is cached across services.
ARG SERVICE
RUN test -n "$SERVICE" || { echo 'build with --build-arg SERVICE=<app under apps/>' >&2; exit 1; }; \
    test -f "apps/$SERVICE/src/main.ts" || { echo "no apps/$SERVICE/src/main.ts" >&2; exit 1; }
# The gateway serves the admin console at `/`: its image carries the console's build (CONSOLE_DIR's default).
RUN if [ "$SERVICE" = api-gateway ]; then npx vite build --config apps/console/vite.config.mts --logLevel warn; fi
ENV SERVICE=${SERVICE} \
    NODE_ENV=production

# The sources stay root-owned and read-only for the process.
USER node

# exec: node is PID 1 and receives SIGTERM (runServiceMain stops the service cleanly).
# The health check lives in docker-compose.yml, which knows each service's port.
CMD ["sh", "-c", "exec node -r ./tools/register.js \"apps/${SERVICE}/src/main.ts\""]
