#!/usr/bin/env bash
# Builds the Helm 4 the tests run (helm.sh/helm/v4, pinned in go.mod/go.sum) from the wrapper module
# here, like tools/kaniko: `go install …@version` is refused by the module proxy; a wrapper works.
# Static (CGO_ENABLED=0), version ldflags as Helm's Makefile sets them for a release tag, so
# `helm version` prints v4.2.4 and the tag's commit. Idempotent: the binary lands in
# $OUT/<hash of the inputs>/ and a rebuild is skipped when it is there. Prints the folder on its
# last line.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(cd ../.. && pwd)
OUT=${HELM_CACHE:-$ROOT/.testenv/bin-helm}
# Change these three with the helm.sh/helm/v4 version in go.mod (then `go mod tidy`). The commit is
# the one tag v4.2.4 points at, as Helm's own v4.2.4 binaries report it (`helm version`).
HELM_VERSION=v4.2.4
HELM_GIT_COMMIT=3900f434fd3ef2b84065dc04508df48f288dba00
HELM_GIT_TREE_STATE=clean
key=$( { cat go.mod go.sum tools.go build.sh; go env GOVERSION; } | sha256sum | cut -c1-16)
dest=$OUT/$key
if [ -x "$dest/helm" ]; then echo "$dest"; exit 0; fi

pkg=helm.sh/helm/v4/internal/version
ldflags="-s -w -X $pkg.version=$HELM_VERSION -X $pkg.metadata= -X $pkg.gitCommit=$HELM_GIT_COMMIT -X $pkg.gitTreeState=$HELM_GIT_TREE_STATE"
rm -rf "$dest.tmp" && mkdir -p "$dest.tmp"
export CGO_ENABLED=0
start=$(date +%s)
go build -trimpath -ldflags "$ldflags" -o "$dest.tmp/helm" helm.sh/helm/v4/cmd/helm
got=$("$dest.tmp/helm" version --template '{{.Version}}')
if [ "$got" != "$HELM_VERSION" ]; then echo "built helm reports '$got', not $HELM_VERSION" >&2; exit 1; fi
rm -rf "$dest" && mv "$dest.tmp" "$dest"
echo "built helm $HELM_VERSION in $(( $(date +%s) - start ))s" >&2
echo "$dest"
