import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { BUILTIN_INTERFACES } from '../controller/placement/hosts';
import { mergeValues } from './chart-values';
import { chartReference, ChartReference, chartSourceProblem } from './chart-source';
import { controlPlaneInternals } from './control-plane-registry';
import { DEFAULTS, UPSTREAM_CHARTS } from './settings';
import { AdvertisedInterfaceArgs, HostGroupArgs, TolerationArgs } from './workload-args';
import { checkFailure, HOST_GROUP_LABEL, perRunRegistry } from './workload-checks';

/** `wasi:webgpu`, advertised by hosts started with `--wasi-webgpu`. */
export const WEBGPU_INTERFACE: AdvertisedInterfaceArgs = { namespace: 'wasi', package: 'webgpu', version: '0.0.1', interfaces: ['webgpu'] };

/**
 * What every `wash host` advertises in its heartbeat (wasmCloud's
 * proto/wasmcloud/runtime/v2/host_heartbeat.proto, `imports`/`exports`): the built-in
 * WASI 0.2 interfaces of its WIT world (the controller's list, versionless
 * because the host serves every 0.2 patch release), and the standard plugins
 * with the versions their worlds declare.
 */
export const STANDARD_HOST_INTERFACES: readonly AdvertisedInterfaceArgs[] = [
  ...BUILTIN_INTERFACES,
  { namespace: 'wasi', package: 'config', version: '0.2.0-draft', interfaces: ['store'] },
  { namespace: 'wasmcloud', package: 'secrets', version: '0.1.0-draft', interfaces: ['store', 'reveal'] },
  { namespace: 'wasi', package: 'logging', version: '0.1.0-draft', interfaces: ['logging'] },
  { namespace: 'wasi', package: 'blobstore', version: '0.2.0-draft', interfaces: ['blobstore', 'container', 'types'] },
  { namespace: 'wasmcloud', package: 'messaging', version: '0.2.0', interfaces: ['consumer', 'handler', 'types'] },
  { namespace: 'wasi', package: 'keyvalue', version: '0.2.0-draft', interfaces: ['store', 'atomics', 'batch'] },
];

export const HOST_GROUP_DEFAULTS = {
  namespace: DEFAULTS.namespace,
  replicas: 1,
  httpPort: 9191,
  chartVersion: DEFAULTS.runtimeChartVersion,
  gpusPerHost: 1,
  gpuNodeSelector: { 'nvidia.com/gpu.present': 'true' },
  gpuTolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }] as TolerationArgs[],
  /** The runtime chart's own host sizing, restated because a group's `resources` replaces it whole. */
  resources: { requests: { cpu: '250m', memory: '64Mi' }, limits: { memory: '512Mi' } },
} as const;

/** The GPU device resource host pods request (NVIDIA device plugin). */
export const GPU_RESOURCE = 'nvidia.com/gpu';

/** Host groups per program, by `namespace/groupName`: two would fight over one Deployment. */
const hostGroupsThisRun = perRunRegistry(() => new Map<string, string>());

/**
 * A group of wasmCloud hosts that workloads target by name. The hosts join
 * the ControlPlane's runtime (its NATS and certificates) through a second,
 * hosts-only release of the upstream runtime-operator chart, and carry the
 * label `hostgroup=<groupName>`.
 *
 * With `gpu: true` the hosts advertise `wasi:webgpu`, request `nvidia.com/gpu`
 * and are scheduled on GPU nodes (node selector and tolerations, which the
 * upstream chart does not offer). `advertisedInterfaces` is what the hosts
 * offer; HttpTrigger and WorkloadDeployment check their `hostInterfaces`
 * against it.
 */
export class HostGroup extends pulumi.ComponentResource {
  /** The group's name: its hosts carry the label `hostgroup=<groupName>`. */
  public readonly groupName!: string;
  /** The interfaces the group's hosts advertise (a plain value, known at preview). */
  public readonly advertisedInterfaces!: AdvertisedInterfaceArgs[];
  /** The labels a workload's `hostSelector` needs to run on this group. */
  public readonly hostSelector!: pulumi.Output<{ [key: string]: string }>;
  /** The namespace the hosts run in. */
  public readonly namespace!: pulumi.Output<string>;

  constructor(name: string, args: HostGroupArgs, opts?: pulumi.ComponentResourceOptions) {
    const plan = opts?.urn ? undefined : planHostGroup(name, args ?? ({} as HostGroupArgs));
    super('wasm-control:index:HostGroup', name, opts?.urn ? {} : args, opts);
    if (!plan) return; // rehydrated from a URN: the outputs come from state
    if (plan.problems.length > 0) throw new pulumi.ResourceError(checkFailure('HostGroup', plan.groupName, plan.problems), this);

    new k8s.helm.v4.Chart(
      `${name}-hosts`,
      {
        ...plan.chart,
        name: `wasmcloud-hosts-${plan.groupName}`,
        namespace: plan.namespace,
        // The CRDs belong to the ControlPlane's runtime release.
        skipCrds: true,
        values: plan.values,
      },
      {
        parent: this,
        dependsOn: plan.runtime ? [plan.runtime] : [],
        transforms: plan.scheduling ? [hostScheduling(plan.groupName, plan.scheduling)] : [],
      },
    );

    this.groupName = plan.groupName;
    this.advertisedInterfaces = plan.advertised;
    this.hostSelector = pulumi.output<{ [key: string]: string }>({ [HOST_GROUP_LABEL]: plan.groupName });
    this.namespace = pulumi.output(plan.namespace);
    this.registerOutputs({
      groupName: this.groupName,
      advertisedInterfaces: this.advertisedInterfaces,
      hostSelector: this.hostSelector,
      namespace: this.namespace,
    });
  }
}

interface Scheduling {
  nodeSelector?: Record<string, string>;
  tolerations?: TolerationArgs[];
}

export interface HostGroupPlan {
  groupName: string;
  namespace: string;
  chart: ChartReference;
  values: Record<string, unknown>;
  advertised: AdvertisedInterfaceArgs[];
  scheduling?: Scheduling;
  runtime?: pulumi.Resource;
  problems: string[];
}

/** Checks the arguments and works out the chart values; never throws. */
export function planHostGroup(name: string, args: HostGroupArgs): HostGroupPlan {
  const problems: string[] = [];
  const cp = controlPlaneInternals(args.controlPlane);
  if (args.controlPlane !== undefined && !cp) problems.push('controlPlane: pass the ControlPlane component built in this program');
  if (cp && args.namespace !== undefined && args.namespace !== cp.settings.namespace) {
    problems.push(`namespace "${args.namespace}" differs from the ControlPlane's "${cp.settings.namespace}": hosts join the runtime in its namespace (NATS, certificates); remove namespace`);
  }
  const groupName = args.groupName ?? name;
  if (typeof groupName !== 'string' || !/^[a-z0-9]([-a-z0-9]{0,40}[a-z0-9])?$/.test(groupName)) {
    problems.push(`groupName ${JSON.stringify(groupName)} must be 1-42 lower-case letters, digits or "-", starting and ending with a letter or digit (it names the hosts' Deployment hostgroup-<groupName>)`);
  }
  if (groupName === 'default' && (cp?.settings.runtime.enabled ?? true)) {
    problems.push('groupName "default" is the runtime release\'s own host group: choose another name');
  }
  const namespace = cp?.settings.namespace ?? args.namespace ?? HOST_GROUP_DEFAULTS.namespace;
  const key = `${namespace}/${groupName}`;
  const taken = hostGroupsThisRun().get(key);
  if (taken !== undefined) problems.push(`groupName "${groupName}" is already used by HostGroup ${taken} in namespace ${namespace}: give each host group its own name`);
  else hostGroupsThisRun().set(key, name);

  const replicas = args.replicas ?? HOST_GROUP_DEFAULTS.replicas;
  if (!Number.isInteger(replicas) || replicas < 0) problems.push(`replicas ${JSON.stringify(replicas)} must be a whole number, 0 or more`);
  const httpPort = args.httpPort ?? HOST_GROUP_DEFAULTS.httpPort;
  if (!Number.isInteger(httpPort) || httpPort < 1 || httpPort > 65535) problems.push(`httpPort ${JSON.stringify(httpPort)} must be a port number, 1-65535`);
  const gpu = args.gpu ?? false;
  if (typeof gpu !== 'boolean') problems.push(`gpu must be true or false, got ${JSON.stringify(gpu)}`);
  if (args.gpusPerHost !== undefined && !gpu) problems.push('gpusPerHost is set but gpu is not: set gpu: true or remove gpusPerHost');
  const gpus = args.gpusPerHost ?? HOST_GROUP_DEFAULTS.gpusPerHost;
  if (!Number.isInteger(gpus) || gpus < 1) problems.push(`gpusPerHost ${JSON.stringify(gpus)} must be a whole number, 1 or more`);
  const chartVersion = args.chartVersion ?? cp?.settings.runtime.chartVersion ?? HOST_GROUP_DEFAULTS.chartVersion;
  if (typeof chartVersion !== 'string' || chartVersion === '') problems.push(`chartVersion must be a non-empty string, got ${JSON.stringify(chartVersion)}`);
  const chartSource = args.chart ?? cp?.settings.runtime.chartSource;
  const chartProblem = chartSourceProblem(chartSource, args.chartVersion !== undefined);
  if (chartProblem) problems.push(`chart${args.chart === undefined ? ' (the ControlPlane\'s runtime.chart)' : ''} ${chartProblem}`);
  const extraArg: unknown = args.extraInterfaces ?? [];
  const extraValid =
    Array.isArray(extraArg) && extraArg.every((i) => typeof i?.namespace === 'string' && typeof i.package === 'string' && Array.isArray(i.interfaces));
  if (!extraValid) problems.push('extraInterfaces must be a list of { namespace, package, version?, interfaces }');
  const extra = extraValid ? (extraArg as AdvertisedInterfaceArgs[]) : [];

  // Merged rather than assigned: mergeValues copies the nested objects, so the defaults stay untouched.
  const resources =
    gpu || args.resources
      ? mergeValues(mergeValues(HOST_GROUP_DEFAULTS.resources, (args.resources ?? {}) as Record<string, unknown>), gpu ? { limits: { [GPU_RESOURCE]: gpus } } : {})
      : undefined;
  const scheduling: Scheduling = {
    nodeSelector: args.nodeSelector ?? (gpu ? { ...HOST_GROUP_DEFAULTS.gpuNodeSelector } : undefined),
    tolerations: args.tolerations ?? (gpu ? [...HOST_GROUP_DEFAULTS.gpuTolerations] : undefined),
  };
  const natsTls = args.natsTls ?? cp?.settings.runtime.natsTls ?? true;
  const values = mergeValues(
    {
      // Hosts only: the ControlPlane's runtime release runs the operator and NATS and generated the certificates.
      operator: { enabled: false },
      nats: { enabled: false },
      gateway: { enabled: false },
      global: { tls: { enabled: natsTls }, certificates: { generate: false } },
      runtime: {
        hostGroups: [
          {
            name: groupName,
            replicas,
            http: { enabled: true, port: httpPort },
            webgpu: { enabled: gpu },
            ...(resources ? { resources } : {}),
          },
        ],
      },
    },
    (args.values ?? {}) as Record<string, unknown>,
  );

  return {
    groupName,
    namespace,
    chart: chartReference(UPSTREAM_CHARTS.runtime, chartVersion, chartProblem ? undefined : chartSource),
    values,
    advertised: [...STANDARD_HOST_INTERFACES.map(copyInterface), ...(gpu ? [copyInterface(WEBGPU_INTERFACE)] : []), ...extra.map(copyInterface)],
    scheduling: scheduling.nodeSelector || scheduling.tolerations ? scheduling : undefined,
    runtime: cp?.runtime,
    problems,
  };
}

function copyInterface(i: AdvertisedInterfaceArgs): AdvertisedInterfaceArgs {
  return { ...i, interfaces: [...i.interfaces] };
}

/**
 * Puts the node selector and tolerations on the chart's host Deployment
 * (`hostgroup-<group>`), which the chart has no values for.
 */
export function hostScheduling(groupName: string, scheduling: Scheduling): pulumi.ResourceTransform {
  return (args) => {
    if (args.type !== 'kubernetes:apps/v1:Deployment' || args.props.metadata?.name !== `hostgroup-${groupName}`) return undefined;
    const pod = args.props.spec?.template?.spec ?? {};
    const spec = {
      ...pod,
      ...(scheduling.nodeSelector ? { nodeSelector: { ...pod.nodeSelector, ...scheduling.nodeSelector } } : {}),
      ...(scheduling.tolerations ? { tolerations: [...(pod.tolerations ?? []), ...scheduling.tolerations] } : {}),
    };
    const props = { ...args.props, spec: { ...args.props.spec, template: { ...args.props.spec?.template, spec } } };
    return { props, opts: args.opts };
  };
}
