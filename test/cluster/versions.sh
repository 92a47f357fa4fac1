# The pinned versions of what test/cluster/build.sh builds. The build cache is keyed by these
# (and by the wrapper modules' go.mod/go.sum), so changing one rebuilds.

# The test control plane.
K8S_VERSION=v1.37.2
ETCD_VERSION=v3.6.17
KWOK_VERSION=v0.8.0 # also in kwok/go.mod

# The Pulumi engine and Kubernetes provider. The CLI matches @pulumi/pulumi in package.json.
PULUMI_VERSION=v3.276.0
# The provider module has no release tags; the Go module proxy serves this commit, v4.25.0's.
PULUMI_KUBERNETES_VERSION=v4.25.0
PULUMI_KUBERNETES_MODULE_VERSION=v4.0.0-20260115033456-f47bc2d6f199
