# ci-runner image: Node 24 (slim), the bundle only, Helm 4 and git, non-root, read-only root
# filesystem friendly (writable /tmp only). No Docker engine is needed to use it; the tests check
# what can be checked without building it (test/unit/dockerfile.test.ts).

ARG NODE_VERSION=24.21.0
ARG HELM_VERSION=4.1.4

FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json ./
COPY scripts ./scripts
COPY src ./src
RUN node scripts/build.mjs

FROM debian:bookworm-slim AS helm
ARG HELM_VERSION
ADD https://get.helm.sh/helm-v${HELM_VERSION}-linux-amd64.tar.gz /tmp/helm.tgz
RUN tar -xzf /tmp/helm.tgz -C /tmp && install -m 0755 /tmp/linux-amd64/helm /usr/local/bin/helm

FROM node:${NODE_VERSION}-bookworm-slim
# git fetches the chart at the exact commit (sparse, blob-less); ca-certificates for HTTPS.
RUN apt-get update && apt-get install -y --no-install-recommends git ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=helm /usr/local/bin/helm /usr/local/bin/helm
WORKDIR /app
COPY --from=build /src/dist/ci-runner.mjs ./dist/ci-runner.mjs
COPY bin/ci-runner.js ./bin/ci-runner.js
COPY package.json ./package.json
# Bake V8's compile cache into the image: every tick starts warm even with a read-only root.
ENV NODE_COMPILE_CACHE=/app/.compile-cache
RUN node bin/ci-runner.js --version && chmod -R a+rX /app
# Helm and git write only below /tmp, the one writable mount.
ENV HOME=/tmp HELM_CACHE_HOME=/tmp/helm/cache HELM_CONFIG_HOME=/tmp/helm/config HELM_DATA_HOME=/tmp/helm/data
USER 10001:10001
ENTRYPOINT ["node", "/app/bin/ci-runner.js"]
CMD ["sync", "--once"]
