# Signalbox in a container (docs/deploy.md section 10). Two stages: the build one has the dev dependencies
# and compilers, the runtime one only what `node dist/app/main.js` reads: production node_modules, dist/,
# the SDK bundle and the diagnostics page's assets.
#   docker build -t signalbox .
#   docker run -d -p 127.0.0.1:8080:8080 -v signalbox-data:/data --read-only --tmpfs /tmp signalbox

FROM node:22-bookworm-slim AS build
# Only used when better-sqlite3 or argon2 has no prebuilt binary for this platform (or it cannot be
# downloaded): then they compile, which needs these.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
COPY client/package.json client/
# Dependencies first, as their own layer; --ignore-scripts because `prepare` would build sources that are
# not copied yet, then the two native modules run their install step (prebuilt download or compile).
RUN npm ci --ignore-scripts && npm rebuild better-sqlite3 argon2
# The server and its scripts; bench/ stays out (it imports test/ helpers, which stay out too): tsc builds
# the folders of tsconfig.build.json that are here.
COPY tsconfig.json tsconfig.build.json ./
COPY app app
COPY scripts scripts
COPY client client
COPY examples examples
COPY README.md ./
COPY docs docs
RUN npm run build && npm prune --omit=dev

FROM node:22-bookworm-slim
ENV NODE_ENV=production \
    DATA_DIR=/data \
    HOST=0.0.0.0 \
    PORT=8080
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules node_modules
COPY --from=build /src/dist dist
COPY --from=build /src/client/package.json client/
COPY --from=build /src/client/dist client/dist
COPY --from=build /src/app/diagnostics/assets app/diagnostics/assets
# Served only with EXAMPLES=true; small, and a start with it set must not fail for a missing file.
COPY --from=build /src/examples examples
# The guides /docs/guides renders (README, docs/*.md, the SDK's README); a few hundred KiB of text.
COPY --from=build /src/README.md ./
COPY --from=build /src/docs docs
COPY --from=build /src/client/README.md client/
# The only place it writes (database, generated secrets, dev mail outbox): a volume owned by the image's
# unprivileged `node` user, so the root file system can be mounted read-only.
RUN install -d -m 0700 -o node -g node /data
VOLUME /data
USER node
EXPOSE 8080
# SIGTERM: held long-polls answer at once and the store closes cleanly before exit.
STOPSIGNAL SIGTERM
# node itself, as the slim image has no curl or wget.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/app/main.js"]
