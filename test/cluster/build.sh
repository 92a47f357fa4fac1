#!/usr/bin/env bash
# Builds the test control plane from Go modules, once per version set, and prints the
# directory that holds the binaries: etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl.
#
# The cache lives outside the clone (WASM_CONTROL_CACHE, default ~/.cache/wasm-control),
# keyed by the pinned versions and a hash of the wrapper modules, so a second run (and CI on
# the same machine) reuses it. A cold build takes ~15 min on 2 cores.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/versions.sh"
inputs_hash="$(cat "$here/versions.sh" "$here"/kubernetes/go.{mod,sum} "$here"/etcd/go.{mod,sum} "$here"/etcd/main.go "$here/build.sh" \
  | sha256sum | cut -c1-12)"
cache_root="${WASM_CONTROL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wasm-control}"
bin="$cache_root/cluster/kubernetes-$K8S_VERSION-etcd-$ETCD_VERSION-$inputs_hash/bin"
tools=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl)

complete() { for t in "${tools[@]}"; do [ -x "$bin/$t" ] || return 1; done; }
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
export CGO_ENABLED=0 GOFLAGS=-mod=mod
echo "building the test control plane (kubernetes $K8S_VERSION, etcd $ETCD_VERSION) into $bin" >&2
(cd "$here/etcd" && go build -ldflags "-s -w" -o "$staging/etcd" .)
(cd "$here/kubernetes" && go build -ldflags "-s -w $version_flags" -o "$staging/" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl)
mkdir -p "$(dirname "$bin")"
rm -rf "$bin"
mv "$staging" "$bin"
trap - EXIT
echo "built in $(( $(date +%s) - started )) s" >&2
echo "$bin"
