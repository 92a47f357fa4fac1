/**
 * The arguments of the workload components (HttpTrigger, WorkloadDeployment,
 * HostGroup). Field names follow the HTTPTrigger chart values and the CRDs
 * (`controller/crd/`, runtime.wasmcloud.dev/v1alpha1), so a chart values file
 * or a manifest translates field for field. Same source-based plugin rules as
 * `args.ts`: interfaces only, no unions (`as const` enumerations), TSDoc on
 * every field. Everything the preview-time checks read is a plain value;
 * images and replica counts may be outputs of other resources.
 */
import * as pulumi from '@pulumi/pulumi';
import { ChartSourceArgs, ResourceRequirementsArgs } from './args';

/** How a request path is matched (Kubernetes HTTPIngressPath semantics). */
export const PathType = {
  /** The request path equals the path. */
  Exact: 'Exact',
  /** The request path starts with the path, element by element (`/api` matches `/api/x`, not `/apix`). */
  Prefix: 'Prefix',
} as const;
export type PathType = (typeof PathType)[keyof typeof PathType];

/** How Workloads are replaced when the template changes. */
export const DeployPolicy = {
  /** New Workloads first; the old ones go once the new ones are ready (the default). */
  RollingUpdate: 'RollingUpdate',
  /** Old Workloads go first. */
  Recreate: 'Recreate',
} as const;
export type DeployPolicy = (typeof DeployPolicy)[keyof typeof DeployPolicy];

/** When the host pulls a component's image. */
export const ImagePullPolicy = {
  /** On every start. */
  Always: 'Always',
  /** Only when the host has no copy. */
  IfNotPresent: 'IfNotPresent',
  /** Never: the image must be present. */
  Never: 'Never',
} as const;
export type ImagePullPolicy = (typeof ImagePullPolicy)[keyof typeof ImagePullPolicy];

/**
 * The ControlPlane a workload runs under. Pass the `ControlPlane` component
 * itself: the workload then waits for the CRDs it needs and, for an
 * HttpTrigger, routes its host from the edge proxy.
 */
export interface ControlPlaneReference {
  /** The control plane's namespace (the `namespace` output of `ControlPlane`). */
  namespace: pulumi.Output<string>;
}

/** One interface package a host advertises, e.g. `wasi:blobstore/blobstore,container@0.2.0-draft`. */
export interface AdvertisedInterfaceArgs {
  /** WIT namespace, e.g. `wasi`. */
  namespace: string;
  /** WIT package, e.g. `blobstore`. */
  package: string;
  /** Package version; absent means any version matches. */
  version?: string;
  /** Interface names in the package, e.g. `["blobstore", "container"]`. */
  interfaces: string[];
}

/**
 * The host group a workload targets. Pass the `HostGroup` component itself:
 * its label becomes the workload's `hostSelector` and its advertised
 * interfaces are checked against the workload's `hostInterfaces`.
 */
export interface HostGroupReference {
  /** The group's name; its hosts carry the label `hostgroup=<groupName>`. */
  groupName: string;
  /** The interfaces the group's hosts advertise. */
  advertisedInterfaces: AdvertisedInterfaceArgs[];
}

/** A reference to an object in the workload's namespace, e.g. a Secret. */
export interface LocalObjectReferenceArgs {
  /** The object's name. */
  name: string;
}

/** Configuration from ConfigMaps, Secrets and literal values, merged in that order. */
export interface ConfigLayerArgs {
  /** ConfigMaps whose data is merged in (later entries win). */
  configFrom?: LocalObjectReferenceArgs[];
  /** Secrets whose data is merged in (values are base64-decoded). */
  secretFrom?: LocalObjectReferenceArgs[];
  /** Literal key/value pairs, applied last. */
  config?: { [key: string]: string };
}

/** A volume mounted into a component or the service. */
export interface VolumeMountArgs {
  /** Name of a volume in `volumes`. */
  name: string;
  /** Where the volume appears, e.g. `/data`. */
  mountPath: string;
  /** Only `true` or absent: mounts are read-write by default (the CRD refuses `false`). */
  readOnly?: boolean;
}

/** What a component or the service may reach and read. */
export interface LocalResourcesArgs {
  /** Volumes mounted into the component. */
  volumeMounts?: VolumeMountArgs[];
  /** Environment variables, from ConfigMaps, Secrets and literal values. */
  environment?: ConfigLayerArgs;
  /** Configuration values the component reads through `wasi:config`. */
  config?: { [key: string]: string };
  /**
   * Egress allow-list for outgoing HTTP and sockets: `*`, `host[:port]`,
   * `scheme://host[:port][/]`, `*.suffix[:port]` or `scheme://*.suffix[:port]`. Empty denies all.
   */
  allowedHosts?: string[];
  /** Host names the component may resolve through `wasi:sockets/ip-name-lookup`. */
  allowedIpNameLookups?: string[];
  /** Loopback ports on the host the component may connect to, e.g. `8080` or `8080/tcp`. */
  allowedHostLoopbackPorts?: string[];
}

/** A WebAssembly component of the workload. */
export interface WorkloadComponentArgs {
  /** The component's name, unique in the workload. */
  name: string;
  /** OCI reference of the component, e.g. `ghcr.io/cosmonic-labs/control-demos/hello-world:0.1.2`. */
  image: pulumi.Input<string>;
  /** Secret with the registry credentials. */
  imagePullSecret?: LocalObjectReferenceArgs;
  /** When the host pulls the image. */
  imagePullPolicy?: ImagePullPolicy;
  /** Warm instances kept between calls; unset means a fresh instance per call. */
  poolSize?: number;
  /** Calls after which a warm instance is retired (with `poolSize`). */
  maxInvocations?: number;
  /** Concurrent calls one warm instance may serve; unset means 1. */
  maxConcurrency?: number;
  /** Volumes, configuration, environment and egress of the component. */
  localResources?: LocalResourcesArgs;
}

/** A long-running service (`wasi:cli/run`) next to the components, which reach it on 127.0.0.1. */
export interface WorkloadServiceArgs {
  /** OCI reference of the service component. */
  image: pulumi.Input<string>;
  /** Secret with the registry credentials. */
  imagePullSecret?: LocalObjectReferenceArgs;
  /** When the host pulls the image. */
  imagePullPolicy?: ImagePullPolicy;
  /** Restarts before the service is given up on. */
  maxRestarts?: number;
  /** Volumes, configuration, environment and egress of the service. */
  localResources?: LocalResourcesArgs;
}

/** An interface the workload's components import or export, beyond what the trigger adds. */
export interface HostInterfaceArgs {
  /** Routing name `(implements <name>)` for a named backend; lower-case letters, digits and `-`. */
  name?: string;
  /** WIT namespace, e.g. `wasi`. */
  namespace: string;
  /** WIT package, e.g. `logging`. */
  package: string;
  /** Package version, e.g. `0.1.0-draft`. */
  version?: string;
  /** Interface names, e.g. `["logging"]`. */
  interfaces: string[];
  /** Configuration for the interface's provider, e.g. `{ subscriptions: "tasks.worker" }` for messaging. */
  config?: { [key: string]: string };
  /** ConfigMaps merged into `config`. */
  configFrom?: LocalObjectReferenceArgs[];
  /** Secrets merged into `config`. */
  secretFrom?: LocalObjectReferenceArgs[];
}

/** An empty-directory volume that lives as long as the workload on its host. */
export interface EphemeralVolumeArgs {}

/** A directory of the host's file system. */
export interface HostPathVolumeArgs {
  /** The directory on the host. */
  path: string;
}

/** A volume of the workload; set exactly one of `ephemeral` or `hostPath`. */
export interface VolumeArgs {
  /** The volume's name (a DNS label), referred to by `volumeMounts`. */
  name: string;
  /** An empty directory shared by the service and components on the host: `{}`. */
  ephemeral?: EphemeralVolumeArgs;
  /** A directory of the host. */
  hostPath?: HostPathVolumeArgs;
}

/** One path of an HttpTrigger's host. */
export interface HttpPathArgs {
  /** The request path, starting with `/`. */
  path: string;
  /** `Exact` or `Prefix`. */
  pathType: PathType;
}

/** Which requests reach the workload. */
export interface TriggerIngressArgs {
  /** The request host: an exact DNS name, or `*.suffix` (one leading label). */
  host: string;
  /** Paths on the host; default `/` as Prefix (every path). */
  paths?: HttpPathArgs[];
}

/** The arguments of an {@link HttpTrigger}: the HTTPTrigger chart values and CRD, flattened. */
export interface HttpTriggerArgs {
  /** Name of the HTTPTrigger object; default the component's name. */
  name?: string;
  /** Namespace of the HTTPTrigger (and the workload it runs). Default `default`. */
  namespace?: string;
  /** The ControlPlane: the trigger is created after its CRD, and its host is routed from the edge proxy unless the control plane already routes it. */
  controlPlane?: ControlPlaneReference;
  /** The HostGroup to run on: sets `hostSelector` and is checked for the interfaces `hostInterfaces` declares. */
  hostGroup?: HostGroupReference;
  /** The components. `wasi:http/incoming-handler` is wired by the trigger. */
  components: WorkloadComponentArgs[];
  /** The host and paths routed to the workload. */
  ingress: TriggerIngressArgs;
  /** Interfaces the components import beyond `wasi:http/incoming-handler` (which the trigger adds, so it need not be listed). */
  hostInterfaces?: HostInterfaceArgs[];
  /** Labels a Host must carry to run the workload, e.g. `{ hostgroup: "default" }`. Use `hostGroup` instead when you have the HostGroup. */
  hostSelector?: { [key: string]: string };
  /** Volumes the components and the service mount. */
  volumes?: VolumeArgs[];
  /** A long-running service next to the components. */
  service?: WorkloadServiceArgs;
  /** Workload replicas. Default 1. */
  replicas?: pulumi.Input<number>;
  /** How long Envoy waits for a response, as a Go duration (`300s`, `5m`). Default `15s`; `0s` disables it. */
  timeout?: string;
  /** How Workloads are replaced when the template changes. Default `RollingUpdate`. */
  deployPolicy?: DeployPolicy;
}

/** The arguments of a {@link WorkloadDeployment}: a workload without HTTP, written into `spec.template.spec`. */
export interface WorkloadDeploymentArgs {
  /** Name of the WorkloadDeployment object; default the component's name. */
  name?: string;
  /** Namespace of the WorkloadDeployment. Default `default`. */
  namespace?: string;
  /** The ControlPlane whose runtime (and CRDs) the workload needs; the WorkloadDeployment is created after it. */
  controlPlane?: ControlPlaneReference;
  /** The HostGroup to run on: sets `hostSelector` and is checked for the interfaces `hostInterfaces` declares. */
  hostGroup?: HostGroupReference;
  /** The components. */
  components?: WorkloadComponentArgs[];
  /** Every interface the components import or export, e.g. `wasmcloud:messaging/handler` with `config.subscriptions`. */
  hostInterfaces?: HostInterfaceArgs[];
  /** Labels a Host must carry to run the workload. Use `hostGroup` instead when you have the HostGroup. */
  hostSelector?: { [key: string]: string };
  /** Volumes the components and the service mount. */
  volumes?: VolumeArgs[];
  /** A long-running service next to the components. */
  service?: WorkloadServiceArgs;
  /** Workload replicas. Default 1. */
  replicas?: pulumi.Input<number>;
  /** How Workloads are replaced when the template changes. Default `RollingUpdate`. */
  deployPolicy?: DeployPolicy;
}

/** A Kubernetes toleration for the host pods, e.g. `{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }`. */
export interface TolerationArgs {
  /** The taint key; empty with operator `Exists` tolerates everything. */
  key?: string;
  /** `Equal` (default) or `Exists`. */
  operator?: string;
  /** The taint value, with `Equal`. */
  value?: string;
  /** `NoSchedule`, `PreferNoSchedule` or `NoExecute`; empty matches all. */
  effect?: string;
  /** With `NoExecute`: seconds the pod stays after the taint appears. */
  tolerationSeconds?: number;
}

/** The arguments of a {@link HostGroup}. */
export interface HostGroupArgs {
  /** The group's name: hosts get the label `hostgroup=<name>`. Default the component's name. Not `default` (the ControlPlane's runtime has that group). */
  groupName?: string;
  /** The ControlPlane whose runtime (NATS, operator, certificates) the hosts join; they run in its namespace. */
  controlPlane?: ControlPlaneReference;
  /** Namespace of the runtime the hosts join, without `controlPlane`. Default `cosmonic-system`. */
  namespace?: string;
  /** Number of host pods. Default 1. */
  replicas?: number;
  /** Port of the hosts' HTTP server, which Envoy sends requests to. Default 9191. */
  httpPort?: number;
  /** GPU hosts: advertise `wasi:webgpu`, request `nvidia.com/gpu` and schedule on GPU nodes. Default `false`. */
  gpu?: boolean;
  /** With `gpu`: GPUs per host pod (`nvidia.com/gpu` limit). Default 1. */
  gpusPerHost?: number;
  /** Node labels the host pods need. With `gpu` the default is `{ "nvidia.com/gpu.present": "true" }`. */
  nodeSelector?: { [key: string]: string };
  /** Taints the host pods tolerate. With `gpu` the default tolerates `nvidia.com/gpu` (NoSchedule). */
  tolerations?: TolerationArgs[];
  /** CPU and memory of each host container. Default: the runtime chart's (250m / 64Mi requested, 512Mi limit). */
  resources?: ResourceRequirementsArgs;
  /** Interfaces of extra host plugins you install through `values` (`hostPlugins`), so workloads may declare them. */
  extraInterfaces?: AdvertisedInterfaceArgs[];
  /** Version of the runtime-operator chart. Default: the ControlPlane's, else 2.7.0. */
  chartVersion?: string;
  /** Where to take the runtime-operator chart from instead of upstream: a local chart or a mirror. Default: the ControlPlane's `runtime.chart`. */
  chart?: ChartSourceArgs;
  /** NATS with mutual TLS, as in the runtime release. Default: the ControlPlane's `runtime.natsTls`, else `true`. */
  natsTls?: boolean;
  /** Extra chart values, merged over the component's. */
  values?: { [key: string]: any };
}
