#!/usr/bin/env bash
# Builds the real control plane for the tests: kube-apiserver, kube-controller-manager,
# kube-scheduler, etcd and kwok, plus the kubelet of the real node, from the Go module proxy only.
# Idempotent: the binaries land in $OUT/<hash of go.mod+go.sum>/ and a rebuild is skipped when that
# folder is complete. Prints the folder on its last line.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(cd ../.. && pwd)
OUT=${TESTENV_CACHE:-$ROOT/.testenv/bin}
KWOK=v0.8.0
key=$(cat go.mod go.sum build.sh | sha256sum | cut -c1-16)
dest=$OUT/$key
bins=(kube-apiserver kube-controller-manager kube-scheduler kubelet etcd kwok)
complete=1
for b in "${bins[@]}"; do [ -x "$dest/$b" ] || complete=0; done
if [ "$complete" = 1 ]; then echo "$dest"; exit 0; fi

k8s=$(awk '$1=="k8s.io/kubernetes" {print $2; exit}' go.mod)
major=${k8s#v}; major=${major%%.*}; minor=${k8s#v*.}; minor=${minor%%.*}
ld=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ld="$ld -X $pkg.gitVersion=$k8s -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
done
mkdir -p "$dest.tmp"
export CGO_ENABLED=0
start=$(date +%s)
go build -trimpath -ldflags "-s -w $ld" -o "$dest.tmp/" \
  k8s.io/kubernetes/cmd/kube-apiserver \
  k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler \
  k8s.io/kubernetes/cmd/kubelet
go build -trimpath -ldflags "-s -w" -o "$dest.tmp/etcd" go.etcd.io/etcd/server/v3
# kwok builds from its own module (its go.mod has no replaces), outside the wrapper.
GOBIN="$dest.tmp" GOFLAGS=-mod=mod go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK"
# kwok v0.8.0 ships no default stages: copy the ones the module itself carries.
kwokdir=$(go env GOMODCACHE)/sigs.k8s.io/kwok@$KWOK
mkdir -p "$dest.tmp/kwok-stages"
cp "$kwokdir"/kustomize/stage/node/fast/node-initialize.yaml "$kwokdir"/kustomize/stage/node/heartbeat/node-heartbeat.yaml \
  "$kwokdir"/kustomize/stage/pod/fast/pod-delete.yaml "$dest.tmp/kwok-stages/"
chmod -R u+w "$dest.tmp/kwok-stages"
rm -rf "$dest" && mv "$dest.tmp" "$dest"
echo "built ${bins[*]} in $(( $(date +%s) - start ))s" >&2
echo "$dest"
