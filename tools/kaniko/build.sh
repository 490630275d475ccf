#!/usr/bin/env bash
# Builds the binaries inside the real node's images: the Kaniko executor (from the wrapper module
# here; `go install …@version` is refused by the module proxy) and the sandbox's pause (tools/pause).
# Static (CGO_ENABLED=0) because the images are FROM scratch. Idempotent: the binaries land in
# $OUT/<hash of the inputs>/ and a rebuild is skipped when that folder is complete. Prints the folder
# on its last line.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(cd ../.. && pwd)
OUT=${KANIKO_CACHE:-$ROOT/.testenv/bin-kaniko}
key=$(cat go.mod go.sum build.sh ../pause/go.mod ../pause/main.go | sha256sum | cut -c1-16)
dest=$OUT/$key
if [ -x "$dest/executor" ] && [ -x "$dest/pause" ]; then echo "$dest"; exit 0; fi

mkdir -p "$dest.tmp"
export CGO_ENABLED=0
start=$(date +%s)
go build -trimpath -ldflags "-s -w" -o "$dest.tmp/executor" github.com/chainguard-dev/kaniko/cmd/executor
(cd ../pause && go build -trimpath -ldflags "-s -w" -o "$dest.tmp/pause" .)
rm -rf "$dest" && mv "$dest.tmp" "$dest"
echo "built executor and pause in $(( $(date +%s) - start ))s" >&2
echo "$dest"
