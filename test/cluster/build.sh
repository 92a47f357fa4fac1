#!/usr/bin/env bash
# Builds the real systems the tests run, from Go modules, once per version set, and prints the
# directory holding each set's binaries (one line per set named):
#   cluster  etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, and kwok
#            (simulated nodes that run pods without containers)
#   pulumi   the Pulumi CLI and the Kubernetes resource provider plugin
# With no argument, builds `cluster`.
#
# The cache lives outside the clone (WASM_CONTROL_CACHE, default ~/.cache/wasm-control),
# keyed by the pinned versions and a hash of the set's wrapper modules, so a second run (and CI
# on the same machine) reuses it. Cold, on 2 cores (module downloads included): cluster ~10 min,
# pulumi ~12 min.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/versions.sh"
cache_root="${WASM_CONTROL_CACHE:-${XDG_CACHE_HOME:-${HOME:?neither WASM_CONTROL_CACHE nor HOME is set: say where to cache the build}/.cache}/wasm-control}"
export CGO_ENABLED=0

pinned() { # module-dir pattern what
  grep -q "$2" "$here/$1/go.mod" || { echo "test/cluster/$1/go.mod does not require $3 (versions.sh): update it" >&2; exit 1; }
}

# Each set: its wrapper modules, the name of its build, the binaries it makes, and how.
cluster_modules=(kubernetes etcd kwok)
cluster_key="kubernetes-$K8S_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION"
cluster_tools=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok kwok-stages)
cluster_check() {
  grep -q "^require k8s.io/kubernetes $K8S_VERSION\|	k8s.io/kubernetes $K8S_VERSION" "$here/kubernetes/go.mod" \
    || { echo "test/cluster/kubernetes/go.mod does not require k8s.io/kubernetes $K8S_VERSION: run test/cluster/gen-kubernetes-gomod.sh" >&2; exit 1; }
  pinned etcd "go.etcd.io/etcd/server/v3 $ETCD_VERSION" "etcd $ETCD_VERSION"
  pinned kwok "sigs.k8s.io/kwok $KWOK_VERSION" "kwok $KWOK_VERSION"
}
cluster_build() { # staging dir
  local minor="${K8S_VERSION#v1.}" version_flags="" pkg
  minor="${minor%%.*}"
  # Unstamped, the server reports v0.0.0 and clients such as the Pulumi Kubernetes provider refuse it.
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    version_flags+=" -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitVersion=$K8S_VERSION"
    version_flags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  (cd "$here/etcd" && go build -ldflags "-s -w" -o "$1/etcd" .)
  (cd "$here/kubernetes" && go build -ldflags "-s -w $version_flags" -o "$1/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl)
  (cd "$here/kwok" && go build -ldflags "-s -w" -o "$1/kwok" sigs.k8s.io/kwok/cmd/kwok)
  # kwok only simulates what its Stages describe: take its own "fast" set (as kwokctl does) from the module.
  local kwok_dir
  kwok_dir="$(cd "$here/kwok" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)"
  mkdir -p "$1/kwok-stages"
  cp "$kwok_dir"/kustomize/stage/node/fast/node-initialize.yaml "$kwok_dir"/kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
    "$kwok_dir"/kustomize/stage/pod/fast/pod-*.yaml "$1/kwok-stages/"
}

pulumi_modules=(pulumi pulumi-kubernetes)
pulumi_key="pulumi-$PULUMI_VERSION-kubernetes-$PULUMI_KUBERNETES_VERSION"
pulumi_tools=(pulumi pulumi-resource-kubernetes)
pulumi_check() {
  pinned pulumi "github.com/pulumi/pulumi/pkg/v3 $PULUMI_VERSION" "github.com/pulumi/pulumi/pkg/v3 $PULUMI_VERSION"
  pinned pulumi-kubernetes "github.com/pulumi/pulumi-kubernetes/provider/v4 $PULUMI_KUBERNETES_MODULE_VERSION" "the Kubernetes provider $PULUMI_KUBERNETES_MODULE_VERSION"
}
pulumi_build() { # staging dir
  (cd "$here/pulumi" && go build -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
    -o "$1/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
  # The provider embeds its schema with the version set: made here from the module (its own
  # go:generate step, whose output the module zip lacks), in a scratch copy of the wrapper.
  local provider_dir src="$1/.provider-src"
  provider_dir="$(cd "$here/pulumi-kubernetes" && go list -m -f '{{.Dir}}' github.com/pulumi/pulumi-kubernetes/provider/v4)"
  mkdir -p "$src" && cp -r "$here/pulumi-kubernetes/." "$src/"
  (cd "$src" && go run ./embedgen "$provider_dir/cmd/pulumi-resource-kubernetes" . "${PULUMI_KUBERNETES_VERSION#v}" \
    && go build -ldflags "-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=${PULUMI_KUBERNETES_VERSION#v}" \
      -o "$1/pulumi-resource-kubernetes" .)
  rm -rf "$src"
}

build_set() { # set name
  local set="$1" modules tools key inputs_hash bin staging started m t
  case "$set" in cluster | pulumi) ;; *) echo "test/cluster/build.sh: unknown set \"$set\": use cluster or pulumi" >&2; exit 2 ;; esac
  eval "modules=(\"\${${set}_modules[@]}\"); tools=(\"\${${set}_tools[@]}\"); key=\"\$${set}_key\""
  "${set}_check"
  inputs_hash="$( { cat "$here/versions.sh" "$here/build.sh"; for m in "${modules[@]}"; do
    find "$here/$m" -type f \( -name go.mod -o -name go.sum -o -name '*.go' \) -not -name '*-embed.json' | LC_ALL=C sort | xargs cat; done; } \
    | sha256sum | cut -c1-12)"
  bin="$cache_root/$set/$key-$inputs_hash/bin"
  complete() { for t in "${tools[@]}"; do [ -e "$bin/$t" ] || return 1; done; }
  if complete; then echo "$bin"; return; fi

  if ! command -v go >/dev/null; then
    echo "test/cluster/build.sh: Go is not installed; the $set set is built from Go modules (Go >= 1.26 and the Go module proxy)" >&2
    exit 1
  fi
  mkdir -p "$cache_root/$set"
  exec 9>"$cache_root/$set/.build.lock"
  flock 9 # another build of the same cache finishes first
  if complete; then exec 9>&-; echo "$bin"; return; fi
  staging="$(mktemp -d "$cache_root/$set/.build.XXXXXX")"
  trap 'rm -rf "$staging"' EXIT
  started=$(date +%s)
  echo "building the $set set ($key) into $bin" >&2
  "${set}_build" "$staging"
  mkdir -p "$(dirname "$bin")"
  rm -rf "$bin"
  mv "$staging" "$bin"
  trap - EXIT
  # Builds of other version sets are hundreds of MB each: keep only this one.
  for old in "$cache_root/$set"/*/; do
    [ "${old%/}" = "$(dirname "$bin")" ] || rm -rf "$old"
  done
  exec 9>&-
  echo "built the $set set in $(( $(date +%s) - started )) s" >&2
  echo "$bin"
}

[ $# -gt 0 ] || set -- cluster
for set in "$@"; do build_set "$set"; done
