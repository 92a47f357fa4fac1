#!/usr/bin/env bash
# Builds the test control plane from Go modules, once per version set, and prints the
# directory that holds the binaries: etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl, and kwok (simulated nodes that run pods without containers).
#
# The cache lives outside the clone (WASM_CONTROL_CACHE, default ~/.cache/wasm-control),
# keyed by the pinned versions and a hash of the wrapper modules, so a second run (and CI on
# the same machine) reuses it. A cold build takes ~10 min on 2 cores (module download included).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/versions.sh"
inputs_hash="$(cat "$here/versions.sh" "$here"/kubernetes/go.{mod,sum} "$here"/etcd/go.{mod,sum} "$here"/etcd/main.go "$here"/kwok/go.{mod,sum} "$here/build.sh" \
  | sha256sum | cut -c1-12)"
cache_root="${WASM_CONTROL_CACHE:-${XDG_CACHE_HOME:-${HOME:?neither WASM_CONTROL_CACHE nor HOME is set: say where to cache the build}/.cache}/wasm-control}"
bin="$cache_root/cluster/kubernetes-$K8S_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION-$inputs_hash/bin"
tools=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok)

# The wrapper modules must pin what versions.sh names (they key the cache and stamp the binaries).
grep -q "^require k8s.io/kubernetes $K8S_VERSION\|	k8s.io/kubernetes $K8S_VERSION" "$here/kubernetes/go.mod" \
  || { echo "test/cluster/kubernetes/go.mod does not require k8s.io/kubernetes $K8S_VERSION: run test/cluster/gen-kubernetes-gomod.sh" >&2; exit 1; }
grep -q "go.etcd.io/etcd/server/v3 $ETCD_VERSION" "$here/etcd/go.mod" || { echo "test/cluster/etcd/go.mod does not require etcd $ETCD_VERSION" >&2; exit 1; }
grep -q "sigs.k8s.io/kwok $KWOK_VERSION" "$here/kwok/go.mod" || { echo "test/cluster/kwok/go.mod does not require kwok $KWOK_VERSION" >&2; exit 1; }

complete() { for t in "${tools[@]}"; do [ -x "$bin/$t" ] || return 1; done; [ -d "$bin/kwok-stages" ]; }
if complete; then echo "$bin"; exit 0; fi

if ! command -v go >/dev/null; then
  echo "test/cluster/build.sh: Go is not installed; the test control plane is built from Go modules (Go >= 1.26 and the Go module proxy)" >&2
  exit 1
fi
mkdir -p "$cache_root/cluster"
exec 9>"$cache_root/cluster/.build.lock"
flock 9 # another build of the same cache finishes first
if complete; then echo "$bin"; exit 0; fi

staging="$(mktemp -d "$cache_root/cluster/.build.XXXXXX")"
trap 'rm -rf "$staging"' EXIT
started=$(date +%s)
minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
version_flags=""
# Unstamped, the server reports v0.0.0 and clients such as the Pulumi Kubernetes provider refuse it.
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  version_flags+=" -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitVersion=$K8S_VERSION"
  version_flags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done
export CGO_ENABLED=0
echo "building the test control plane (kubernetes $K8S_VERSION, etcd $ETCD_VERSION, kwok $KWOK_VERSION) into $bin" >&2
(cd "$here/etcd" && go build -ldflags "-s -w" -o "$staging/etcd" .)
(cd "$here/kubernetes" && go build -ldflags "-s -w $version_flags" -o "$staging/" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl)
(cd "$here/kwok" && go build -ldflags "-s -w" -o "$staging/kwok" sigs.k8s.io/kwok/cmd/kwok)
# kwok only simulates what its Stages describe: take its own "fast" set (as kwokctl does) from the module.
kwok_dir="$(cd "$here/kwok" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)"
mkdir -p "$staging/kwok-stages"
cp "$kwok_dir"/kustomize/stage/node/fast/node-initialize.yaml "$kwok_dir"/kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
  "$kwok_dir"/kustomize/stage/pod/fast/pod-*.yaml "$staging/kwok-stages/"
mkdir -p "$(dirname "$bin")"
rm -rf "$bin"
mv "$staging" "$bin"
trap - EXIT
# Builds of other version sets are ~400 MB each: keep only this one.
for old in "$cache_root"/cluster/kubernetes-*; do
  [ "$old" = "$(dirname "$bin")" ] || rm -rf "$old"
done
echo "built in $(( $(date +%s) - started )) s" >&2
echo "$bin"
