/**
 * The Kubernetes objects wasm-control reads and writes: HTTPTrigger
 * (control.cosmonic.io/v1alpha1) and the wasmCloud runtime kinds
 * (runtime.wasmcloud.dev/v1alpha1). Field names and limits follow the CRD in
 * controller/crd/ and runtime-operator 2.7; these types describe objects that
 * passed schema validation (controller/api/schema.ts).
 */

export const TRIGGER_API_VERSION = 'control.cosmonic.io/v1alpha1';
export const RUNTIME_API_VERSION = 'runtime.wasmcloud.dev/v1alpha1';
/** Label on a trigger's Workloads (set on the WorkloadDeployment template) naming the trigger. */
export const TRIGGER_LABEL = 'control.cosmonic.io/httptrigger';
/** On a trigger's WorkloadDeployment: hash of the configuration last applied, to tell our changes from the runtime's defaults. */
export const APPLIED_HASH_ANNOTATION = 'control.cosmonic.io/applied-hash';

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  creationTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** metav1.Condition. */
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  observedGeneration?: number;
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}

export interface LocalObjectReference {
  name: string;
}

export interface ConfigLayer {
  configFrom?: LocalObjectReference[];
  secretFrom?: LocalObjectReference[];
  config?: Record<string, string>;
}

export interface VolumeMount {
  name: string;
  mountPath: string;
  /** Only `true` or absent: mounts are read-write by default. */
  readOnly?: true;
}

export interface LocalResources {
  volumeMounts?: VolumeMount[];
  environment?: ConfigLayer;
  config?: Record<string, string>;
  allowedHosts?: string[];
  allowedIpNameLookups?: string[];
  allowedHostLoopbackPorts?: string[];
}

export type ImagePullPolicy = 'Always' | 'IfNotPresent' | 'Never';

export interface WorkloadComponent {
  name: string;
  image: string;
  imagePullSecret?: LocalObjectReference;
  imagePullPolicy?: ImagePullPolicy;
  poolSize?: number;
  maxInvocations?: number;
  maxConcurrency?: number;
  localResources?: LocalResources;
}

export interface HostInterface extends ConfigLayer {
  name?: string;
  namespace: string;
  package: string;
  version?: string;
  interfaces: string[];
}

export interface WorkloadService {
  image: string;
  imagePullSecret?: LocalObjectReference;
  imagePullPolicy?: ImagePullPolicy;
  maxRestarts?: number;
  localResources?: LocalResources;
}

export interface Volume {
  name: string;
  ephemeral?: Record<string, never>;
  hostPath?: { path: string };
}

export interface WorkloadSpec {
  hostSelector?: Record<string, string>;
  hostId?: string;
  environment?: string;
  components?: WorkloadComponent[];
  hostInterfaces?: HostInterface[];
  service?: WorkloadService;
  volumes?: Volume[];
  kubernetes?: { service: { name: string } };
}

export interface WorkloadTemplate {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  spec: WorkloadSpec;
}

export interface HTTPIngressPath {
  path: string;
  /** `Exact` or `Prefix`; anything else is accepted by the API but skipped by the resolver. */
  pathType: string;
}

export interface HTTPTriggerSpec {
  replicas?: number;
  deployPolicy?: 'RollingUpdate' | 'Recreate';
  hostSelector?: Record<string, string>;
  /** Go duration; default 15s. */
  timeout?: string;
  ingress: { host: string; paths?: HTTPIngressPath[] };
  template: WorkloadTemplate;
}

export interface HTTPTriggerStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  paths?: string;
  endpoints?: number;
  upstreamHost?: string;
  workloadDeployment?: string;
}

export interface HTTPTrigger {
  apiVersion: typeof TRIGGER_API_VERSION;
  kind: 'HTTPTrigger';
  metadata: ObjectMeta;
  spec: HTTPTriggerSpec;
  status?: HTTPTriggerStatus;
}

export interface WorkloadDeployment {
  apiVersion: typeof RUNTIME_API_VERSION;
  kind: 'WorkloadDeployment';
  metadata: ObjectMeta;
  spec: {
    replicas?: number;
    deployPolicy?: string;
    template: WorkloadTemplate;
    artifacts?: { name: string; artifactFrom: LocalObjectReference }[];
    kubernetes?: { service: { name: string } };
  };
  status?: { conditions?: Condition[]; currentReplicas?: number; [field: string]: unknown };
}

export interface Workload {
  apiVersion: typeof RUNTIME_API_VERSION;
  kind: 'Workload';
  metadata: ObjectMeta;
  spec: WorkloadSpec;
  status?: { conditions?: Condition[]; hostId?: string; environment?: string; workloadId?: string };
}

/** A wasmCloud host. Its fields sit at the object root, not under `spec`. */
export interface Host {
  apiVersion: typeof RUNTIME_API_VERSION;
  kind: 'Host';
  metadata: ObjectMeta;
  hostId: string;
  hostname?: string;
  httpPort?: number;
  environment?: string;
  status?: { conditions?: Condition[]; [field: string]: unknown };
}

/** `namespace/name`, the key objects are reported and indexed by. */
export function objectKey(meta: { namespace?: string; name: string }): string {
  return `${meta.namespace ?? 'default'}/${meta.name}`;
}

/** The namespace and name of an objectKey. */
export function splitObjectKey(key: string): [namespace: string, name: string] {
  const slash = key.indexOf('/');
  return [key.slice(0, slash), key.slice(slash + 1)];
}

/** True when the object's condition of this type has status True. */
export function conditionIsTrue(status: { conditions?: Condition[] } | undefined, type: string): boolean {
  const conditions = status?.conditions;
  if (!conditions) return false;
  // A loop, not some(): this runs for every Workload and Host on every pass.
  for (const c of conditions) if (c.type === type && c.status === 'True') return true;
  return false;
}
