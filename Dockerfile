# tollgate container image.
#
#   docker build -t tollgate .
#   docker run --rm -p 8080:8080 --env-file .env tollgate
#
# Configuration: the image reads TOLLGATE_CONFIG=/etc/tollgate/tollgate.yaml, a copy of
# config/tollgate.yaml. To use your own file, mount it read-only over that path:
#   docker run ... -v "$PWD/my-tollgate.yaml:/etc/tollgate/tollgate.yaml:ro" tollgate
# Secrets (OPENAI_API_KEY, TOLLGATE_ADMIN_TOKEN, ...) come from the environment; see .env.example.
#
# test/e2e/deploy/dockerfile-replay.test.ts replays this recipe without Docker (every instruction below,
# in order), so keep to the instructions it understands: FROM, WORKDIR, ENV, COPY, RUN, USER, EXPOSE,
# HEALTHCHECK, CMD.
#
# No `# syntax=` parser directive: with BuildKit it makes the build pull a frontend image from Docker
# Hub before the first FROM, which fails wherever that registry is unreachable (air-gapped CI, mirrors).
# Everything here is understood by the frontend built into the engine.

# ---- build stage: full install (TypeScript), compile to dist/ ----
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY plugins ./plugins
RUN npm run build

# ---- deps stage: production dependencies only. A stage of its own so npm's cache never reaches the
# final image (no `npm cache clean` needed) and it builds in parallel with the build stage. ----
FROM node:24-bookworm-slim AS deps
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

# ---- runtime stage: production node_modules + compiled JavaScript + default config ----
FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY config ./config
COPY dashboard ./dashboard
COPY bin ./bin
COPY config/tollgate.yaml /etc/tollgate/tollgate.yaml
ENV TOLLGATE_CONFIG=/etc/tollgate/tollgate.yaml
# The files stay owned by root: the unprivileged `node` user (uid 1000, from the base image) can read
# but not modify the application or its config.
USER node
EXPOSE 8080
# No curl in slim images: node's own fetch probes /healthz on the port the server listens on.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Exec form: node itself receives SIGTERM and drains in-flight requests (server.shutdownGraceMs, 25 s by
# default) before exiting; give `docker stop -t` / stop_grace_period a little more than that. `docker run --init` / compose `init: true` add a minimal init as PID 1.
CMD ["node", "dist/src/server.js"]
