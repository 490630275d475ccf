# ci-runner image: Node 24 (slim), the bundle as a V8 startup snapshot, Helm 4 and git, user 10001,
# read-only root filesystem friendly (writable /tmp only). test/image/ builds this file with buildah
# and runs the result; see there for building it without Docker Hub: the two base images are plain
# image names and Helm comes from the stage named `helm`, so a build may supply local ones
# (`--build-context helm=docker-image://...` replaces that stage whole).

ARG NODE_VERSION=24.21.0
ARG HELM_VERSION=4.2.4
# sha256 of helm-v${HELM_VERSION}-linux-<arch>.tar.gz from Helm's release page; change them with HELM_VERSION.
ARG HELM_SHA256_AMD64=c306b46f719b0a4da32d0f78ee21bf90ce8d602f15b22ab753f0674d1670a7f3
ARG HELM_SHA256_ARM64=564de2191b881e9f71b5606b25345821ea1682f06ab90499d3ab22b530176da1

FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json ./
COPY scripts ./scripts
COPY src ./src
COPY manifests/base ./manifests/base
RUN node scripts/build.mjs

FROM debian:bookworm-slim AS helm
ARG HELM_VERSION
ARG HELM_SHA256_AMD64
ARG HELM_SHA256_ARM64
# Set by the builder (BuildKit, buildah) to the architecture being built.
ARG TARGETARCH
ADD https://get.helm.sh/helm-v${HELM_VERSION}-linux-${TARGETARCH}.tar.gz /tmp/helm.tgz
# Checked here rather than with ADD --checksum, which not every builder accepts (buildah 1.28 does not).
RUN case "${TARGETARCH}" in \
      amd64) sum="${HELM_SHA256_AMD64}" ;; \
      arm64) sum="${HELM_SHA256_ARM64}" ;; \
      *) echo "no Helm checksum for architecture '${TARGETARCH}'" >&2; exit 1 ;; \
    esac \
    && echo "${sum}  /tmp/helm.tgz" | sha256sum -c - \
    && tar -xzf /tmp/helm.tgz -C /tmp \
    && install -m 0755 "/tmp/linux-${TARGETARCH}/helm" /usr/local/bin/helm

FROM node:${NODE_VERSION}-bookworm-slim
# git fetches the chart at the exact commit (sparse, blob-less); ca-certificates for HTTPS.
RUN apt-get update && apt-get install -y --no-install-recommends git ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=helm /usr/local/bin/helm /usr/local/bin/helm
WORKDIR /app
COPY --from=build /src/dist/ci-runner-snapshot.cjs ./dist/ci-runner-snapshot.cjs
# The startup snapshot: made here, by the Node that runs it and at the path it runs from (a blob is
# tied to both), with a warm-up of the idle tick (src/warm-up.ts). Each tick starts from that heap
# instead of loading and compiling the bundle: no compile cache is needed, and none would apply.
# The build prints warnings that some built-ins are "not yet fully verified" in a snapshot; the
# image test (test/image/) runs the result. The second command fails the build on a blob that
# does not start.
RUN node --snapshot-blob /app/ci-runner.blob --build-snapshot /app/dist/ci-runner-snapshot.cjs \
    && node --snapshot-blob /app/ci-runner.blob -- --version \
    && chmod -R a+rX,go-w /app
# Helm and git write only below /tmp, the one writable mount.
ENV HOME=/tmp HELM_CACHE_HOME=/tmp/helm/cache HELM_CONFIG_HOME=/tmp/helm/config HELM_DATA_HOME=/tmp/helm/data
USER 10001:10001
# `--` ends Node's options: what follows is ci-runner's (without it, `--version` is Node's).
ENTRYPOINT ["node", "--snapshot-blob", "/app/ci-runner.blob", "--"]
CMD ["sync", "--once"]
