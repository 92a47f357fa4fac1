/**
 * The wasm-control Pulumi components. Everything exported here is what
 * `pulumi package add` offers to other languages (each ComponentResource class
 * becomes `wasm-control:index:<ClassName>`).
 */
export { ControlPlane } from './control-plane';
export * from './args';
export { ControlPlaneArgumentError } from './settings';
export { hostnameProblem } from './hostname';
export { HttpTrigger } from './http-trigger';
export { WorkloadDeployment } from './workload-deployment';
export { HostGroup, STANDARD_HOST_INTERFACES, WEBGPU_INTERFACE } from './host-group';
export * from './workload-args';
export { Cluster, ClusterKind, ClusterArgumentError, eksClusterExists } from './cluster';
export type { ClusterArgs, EksArgs, EksNodeGroupArgs, LoadBalancerControllerArgs } from './cluster';
export { ControllerImage } from './controller-image';
export type { ControllerImageArgs, ImageRegistryArgs, EcrRepositoryArgs } from './controller-image';
