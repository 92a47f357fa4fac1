/**
 * What HttpTrigger and WorkloadDeployment share: turning their flat arguments
 * into a WorkloadSpec, the placement check against a host group, and
 * per-program registries. The checks themselves are the controller's
 * (controller/api), so `pulumi preview` fails with the controller's words.
 */
import * as pulumi from '@pulumi/pulumi';
import { formatInterface, missingInterfaces, placementFix } from '../controller/api/interfaces';
import type { HostInterface } from '../controller/api/types';
import { controlPlaneInternals, type ControlPlaneInternals } from './control-plane-registry';
import { ControlPlaneReference, HostGroupReference } from './workload-args';

/** Namespace of workloads that do not name one. */
export const DEFAULT_NAMESPACE = 'default';

/** What every workload component works out first: its name, its control plane, its host selector. */
export function workloadBasics(
  componentName: string,
  args: { name?: string; namespace?: string; controlPlane?: ControlPlaneReference; hostGroup?: HostGroupReference; hostSelector?: unknown },
): { name: string; namespace: string; key: string; controlPlane?: ControlPlaneInternals; selector?: Record<string, string>; problems: string[] } {
  const problems: string[] = [];
  const name = args.name ?? componentName;
  const namespace = args.namespace ?? DEFAULT_NAMESPACE;
  const controlPlane = controlPlaneInternals(args.controlPlane);
  if (args.controlPlane !== undefined && !controlPlane) problems.push('controlPlane: pass the ControlPlane component built in this program');
  const selector = hostSelectorOf(args.hostGroup, args.hostSelector);
  if (selector.problem) problems.push(selector.problem);
  return { name, namespace, key: `${namespace}/${name}`, controlPlane, selector: selector.selector, problems };
}

/** The label wasmCloud hosts carry for their host group (`wash host --host-group`). */
export const HOST_GROUP_LABEL = 'hostgroup';

/** The workload fields shared by HttpTrigger and WorkloadDeployment arguments. */
export interface WorkloadFields {
  components?: unknown;
  hostInterfaces?: unknown;
  volumes?: unknown;
  service?: unknown;
}

/** The WorkloadSpec of flat arguments; fields the user left out stay out. */
export function workloadSpec(args: WorkloadFields, hostSelector?: Record<string, string>): Record<string, unknown> {
  return withoutUndefined({
    hostSelector,
    components: args.components,
    hostInterfaces: args.hostInterfaces,
    volumes: args.volumes,
    service: args.service,
  }) as Record<string, unknown>;
}

/**
 * `value` with undefined properties dropped at every level (the schema would
 * otherwise see a present field of the wrong type). Outputs and other class
 * instances are kept whole.
 */
export function withoutUndefined(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutUndefined);
  if (!isPlainObject(value)) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [k, withoutUndefined(v)]),
  );
}

/**
 * A copy for the schema check, with a stand-in for each value not known yet
 * (images and replica counts may be outputs of other resources).
 */
export function knownForCheck(value: unknown, key = ''): unknown {
  if (pulumi.Output.isInstance(value) || value instanceof Promise) return key === 'replicas' ? 1 : 'value-from-another-resource';
  if (Array.isArray(value)) return value.map((v) => knownForCheck(v));
  if (!isPlainObject(value)) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, knownForCheck(v, k)]));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** The hostSelector from `hostGroup` or `hostSelector` (not both), or a problem. */
export function hostSelectorOf(
  hostGroup: HostGroupReference | undefined,
  hostSelector: unknown,
): { selector?: Record<string, string>; problem?: string } {
  if (hostGroup === undefined) return { selector: hostSelector as Record<string, string> | undefined };
  if (typeof hostGroup?.groupName !== 'string' || !Array.isArray(hostGroup.advertisedInterfaces)) {
    return { problem: 'hostGroup: pass a HostGroup component (or its groupName and advertisedInterfaces)' };
  }
  if (hostSelector !== undefined) {
    return { problem: `hostGroup and hostSelector are both set: hostGroup "${hostGroup.groupName}" already selects its hosts (${HOST_GROUP_LABEL}=${hostGroup.groupName}); remove hostSelector` };
  }
  return { selector: { [HOST_GROUP_LABEL]: hostGroup.groupName } };
}

/**
 * Interfaces the workload declares that the host group does not advertise: the
 * runtime would place the workload and the host would refuse to start it
 * (WORKLOAD_STATE_ERROR), over and over.
 */
export function placementProblem(declared: unknown, hostGroup: HostGroupReference | undefined): string | undefined {
  if (!hostGroup || !Array.isArray(declared)) return undefined;
  // Malformed entries are the schema check's to report.
  const wellFormed = declared.filter(
    (i): i is HostInterface => typeof i?.namespace === 'string' && typeof i.package === 'string' && Array.isArray(i.interfaces),
  );
  const missing = missingInterfaces(wellFormed, hostGroup.advertisedInterfaces);
  if (missing.length === 0) return undefined;
  return `placement: host group "${hostGroup.groupName}" (${HOST_GROUP_LABEL}=${hostGroup.groupName}) does not advertise ${missing
    .map(formatInterface)
    .join(', ')}, which hostInterfaces declares, so no host of it can start the workload; ${placementFix(missing)}`;
}

/**
 * A registry that lives as long as one program run: keyed by the engine
 * connection (a new one per `pulumi preview`/`up`, and per test under mocks)
 * and by project and stack.
 */
export function perRunRegistry<T>(create: () => T): () => T {
  const byMonitor = new WeakMap<object, Map<string, T>>();
  const noMonitor = {};
  return () => {
    const monitor = (pulumi.runtime.getMonitor() as object | undefined) ?? noMonitor;
    let byStack = byMonitor.get(monitor);
    if (!byStack) byMonitor.set(monitor, (byStack = new Map()));
    const stack = `${pulumi.getProject()}/${pulumi.getStack()}`;
    let value = byStack.get(stack);
    if (value === undefined) byStack.set(stack, (value = create()));
    return value;
  };
}

/** The error a workload component fails with: the problems, one per line, under the object they concern. */
export function checkFailure(kind: string, key: string, problems: string[]): string {
  return `${kind} ${key} would not run as declared:\n${problems.map((p) => `  - ${p}`).join('\n')}`;
}
