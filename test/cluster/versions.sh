# The pinned versions of the test control plane. The build cache is keyed by these
# (and by the wrapper modules' go.sum), so changing one rebuilds.
K8S_VERSION=v1.37.2
ETCD_VERSION=v3.6.17
KWOK_VERSION=v0.8.0 # also in kwok/go.mod
