/**
 * The wasm-control Pulumi program: `pulumi up -s dev|staging|prod`. One stack
 * file per environment (stacks/) picks the cluster, the ingress mode, the
 * sizes, the host groups and the workloads; this file composes
 * Cluster → ControllerImage → ControlPlane → HostGroups → workloads and exports
 * the URLs where HTTP enters.
 */
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import {
  ChartSourceArgs,
  Cluster,
  ClusterArgs,
  ClusterKind,
  ControlPlane,
  ControlPlaneArgs,
  ControllerImage,
  ControllerImageArgs,
  EksArgs,
  eksClusterExists,
  EnvoyServiceArgs,
  HostGroup,
  HostGroupArgs,
  HostPolicyArgs,
  HttpTrigger,
  HttpTriggerArgs,
  LogLevel,
  PersesArgs,
  ServiceType,
  XdsTlsArgs,
} from './components';
import { unsupportedValue } from './components/args';
import { chartReference, chartSourceProblem, UpstreamChart } from './components/chart-source';

/** How HTTP reaches Envoy. */
const IngressMode = { Traefik: 'traefik', Istio: 'istio', Direct: 'direct' } as const;
type IngressMode = (typeof IngressMode)[keyof typeof IngressMode];

/** The defaults of the scalar settings; Pulumi.yaml declares the same (test/program checks they agree). */
const DEFAULTS = {
  clusterKind: 'existing',
  ingressMode: 'traefik',
  hosts: [] as string[],
  controllerReplicas: 2,
  envoyReplicas: 2,
  logLevel: 'info',
};

/** A host group from the `hostGroups` setting: the HostGroup arguments plus the name workloads refer to it by. */
type HostGroupConfig = Omit<HostGroupArgs, 'controlPlane'> & { name: string };
/** A workload from the `workloads` setting: HttpTrigger arguments, `image` as a shorthand for one component, `hostGroup` by name. */
type WorkloadConfig = Omit<HttpTriggerArgs, 'controlPlane' | 'hostGroup' | 'components'> & {
  name: string;
  image?: string;
  components?: HttpTriggerArgs['components'];
  hostGroup?: string;
};
/** Istio, installed by this stack when `install` is true (a fresh cluster has none). */
interface IstioConfig {
  install?: boolean;
  version?: string;
  /** Values of the gateway chart, e.g. NLB annotations on its Service. */
  gatewayValues?: Record<string, unknown>;
}

/**
 * Where each chart comes from instead of its upstream repository (`wasm-control:charts`): a local
 * chart (`{ path }`) or a mirror (`{ repository }`), for clusters without internet access.
 */
const CHART_KEYS = ['runtime', 'traefik', 'perses', 'istioBase', 'istiod', 'istioGateway', 'loadBalancerController'] as const;
type ChartsConfig = Partial<Record<(typeof CHART_KEYS)[number], ChartSourceArgs>>;

interface ProgramConfig {
  clusterKind: ClusterKind;
  kubeconfigPath?: string;
  kubeconfigContext?: string;
  eks?: EksArgs;
  ingressMode: IngressMode;
  hosts: string[];
  istio: IstioConfig;
  envoyService?: EnvoyServiceArgs;
  controllerReplicas: number;
  envoyReplicas: number;
  logLevel: LogLevel;
  controllerImage?: string;
  imageRepository?: string;
  image?: Omit<ControllerImageArgs, 'image' | 'registry'>;
  perses?: PersesArgs;
  hostGroups: HostGroupConfig[];
  workloads: WorkloadConfig[];
  charts: ChartsConfig;
  hostPolicy?: HostPolicyArgs;
  xdsTls?: XdsTlsArgs;
}

function oneOf<T extends string>(key: string, value: string, allowed: Record<string, T>): T {
  const problem = unsupportedValue(value, allowed);
  if (problem) throw new Error(`config wasm-control:${key} ${problem}`);
  return value as T;
}

function readConfig(): ProgramConfig {
  const c = new pulumi.Config();
  const config: ProgramConfig = {
    clusterKind: oneOf('clusterKind', c.get('clusterKind') ?? DEFAULTS.clusterKind, ClusterKind),
    kubeconfigPath: c.get('kubeconfigPath'),
    kubeconfigContext: c.get('kubeconfigContext'),
    eks: c.getObject<EksArgs>('eks'),
    ingressMode: oneOf('ingressMode', c.get('ingressMode') ?? DEFAULTS.ingressMode, IngressMode),
    hosts: c.getObject<string[]>('hosts') ?? DEFAULTS.hosts,
    istio: c.getObject<IstioConfig>('istio') ?? {},
    envoyService: c.getObject<EnvoyServiceArgs>('envoyService'),
    controllerReplicas: c.getNumber('controllerReplicas') ?? DEFAULTS.controllerReplicas,
    envoyReplicas: c.getNumber('envoyReplicas') ?? DEFAULTS.envoyReplicas,
    logLevel: oneOf('logLevel', c.get('logLevel') ?? DEFAULTS.logLevel, LogLevel),
    controllerImage: c.get('controllerImage'),
    imageRepository: c.get('imageRepository'),
    image: c.getObject('image'),
    perses: c.getObject<PersesArgs>('perses'),
    hostGroups: c.getObject<HostGroupConfig[]>('hostGroups') ?? [],
    workloads: c.getObject<WorkloadConfig[]>('workloads') ?? [],
    charts: readCharts(c.getObject<ChartsConfig>('charts') ?? {}),
    hostPolicy: c.getObject<HostPolicyArgs>('hostPolicy'),
    xdsTls: c.getObject<XdsTlsArgs>('xdsTls'),
  };
  if (config.clusterKind !== ClusterKind.Eks && config.eks) throw new Error('config wasm-control:eks is set but wasm-control:clusterKind is not "eks"');
  if (config.clusterKind === ClusterKind.Existing && !config.controllerImage && !config.imageRepository) {
    throw new Error('config wasm-control:controllerImage (a prebuilt image) or wasm-control:imageRepository (a registry to push a build to) is required on an existing cluster; only EKS stacks get an ECR repository');
  }
  if (config.istio.install && config.ingressMode !== IngressMode.Istio) throw new Error('config wasm-control:istio.install is set but wasm-control:ingressMode is not "istio"');
  if (config.envoyService && config.ingressMode !== IngressMode.Direct) throw new Error('config wasm-control:envoyService is for ingressMode "direct"; behind an edge proxy Envoy\'s Service stays ClusterIP');
  checkChartsUsed(config);
  if (config.charts.perses && config.perses?.chart) throw new Error('config wasm-control:charts.perses and wasm-control:perses.chart are both set: keep one');
  if (config.charts.loadBalancerController && config.eks?.loadBalancerController?.chart) {
    throw new Error('config wasm-control:charts.loadBalancerController and wasm-control:eks.loadBalancerController.chart are both set: keep one');
  }
  return config;
}

/** Charts for parts the stack does not install would be ignored silently: say so instead. */
function checkChartsUsed(config: ProgramConfig): void {
  const unused: [keyof ChartsConfig, boolean, string][] = [
    ['traefik', config.ingressMode === IngressMode.Traefik, 'wasm-control:ingressMode is not "traefik"'],
    ['istioBase', !!config.istio.install, 'wasm-control:istio.install is not true'],
    ['istiod', !!config.istio.install, 'wasm-control:istio.install is not true'],
    ['istioGateway', !!config.istio.install, 'wasm-control:istio.install is not true'],
    ['loadBalancerController', config.clusterKind === ClusterKind.Eks, 'wasm-control:clusterKind is not "eks"'],
  ];
  for (const [key, used, why] of unused) {
    if (config.charts[key] && !used) throw new Error(`config wasm-control:charts.${key} is set but ${why}, so that chart is not installed: remove it`);
  }
}

function loadBalancerControllerArgs(config: ProgramConfig): EksArgs['loadBalancerController'] {
  const args = config.eks?.loadBalancerController;
  return config.charts.loadBalancerController ? { ...args, chart: config.charts.loadBalancerController } : args;
}

/** Checks `wasm-control:charts`: known keys only; each source is checked where it is used, the Istio ones here. */
function readCharts(charts: ChartsConfig): ChartsConfig {
  if (charts === null || typeof charts !== 'object' || Array.isArray(charts)) throw new Error(`config wasm-control:charts must be an object keyed by chart (${CHART_KEYS.join(', ')})`);
  for (const key of Object.keys(charts)) {
    if (!(CHART_KEYS as readonly string[]).includes(key)) throw new Error(`config wasm-control:charts.${key} is not a chart of this program: use ${CHART_KEYS.join(', ')}`);
  }
  return charts;
}

/** The ControlPlane arguments for the stack's ingress mode. */
function controlPlaneArgs(config: ProgramConfig, image: pulumi.Input<string>): ControlPlaneArgs {
  const ingress =
    config.ingressMode === IngressMode.Direct
      ? { enabled: false }
      : {
          provider: config.ingressMode,
          hosts: config.hosts.map((host) => ({ host })),
          // Installed by this program, Istio's CRDs do not exist yet at the first preview; the provider waits for the install.
          ...(config.ingressMode === IngressMode.Istio && config.istio.install ? { istio: { checkInstalled: false } } : {}),
          ...(config.ingressMode === IngressMode.Traefik && config.charts.traefik ? { traefik: { chart: config.charts.traefik } } : {}),
        };
  return {
    ingress,
    envoy: {
      replicas: config.envoyReplicas,
      service: config.ingressMode === IngressMode.Direct ? { type: ServiceType.LoadBalancer, ...config.envoyService } : undefined,
    },
    controller: { image, replicas: config.controllerReplicas, logLevel: config.logLevel },
    runtime: { chart: config.charts.runtime },
    perses: { ...config.perses, chart: config.charts.perses ?? config.perses?.chart },
    hostPolicy: config.hostPolicy,
    xdsTls: config.xdsTls,
  };
}

const ISTIO_REPO = 'https://istio-release.storage.googleapis.com/charts';
const ISTIO_VERSION = '1.27.1';
const ISTIO_CHARTS = {
  istioBase: { name: 'base', repository: ISTIO_REPO },
  istiod: { name: 'istiod', repository: ISTIO_REPO },
  istioGateway: { name: 'gateway', repository: ISTIO_REPO },
} as const satisfies Record<string, UpstreamChart>;

/**
 * Istio base, istiod and an IngressGateway whose pods carry `istio: ingressgateway`
 * (the gateway chart derives the label from the release name), as Releases: Helm
 * waits for each before the next and for the ControlPlane's Istio check.
 */
function installIstio(provider: k8s.Provider, istio: IstioConfig, charts: ChartsConfig): pulumi.Resource[] {
  const release = (name: string, key: keyof typeof ISTIO_CHARTS, namespace: string, dependsOn: pulumi.Resource[], values: Record<string, unknown> = {}) => {
    const problem = chartSourceProblem(charts[key], istio.version !== undefined);
    if (problem) throw new Error(`config wasm-control:charts.${key} ${problem}`);
    const chart = chartReference(ISTIO_CHARTS[key], istio.version ?? ISTIO_VERSION, charts[key]);
    return new k8s.helm.v3.Release(name, { ...chart, name, namespace, createNamespace: true, values }, { provider, dependsOn });
  };
  const base = release('istio-base', 'istioBase', 'istio-system', []);
  const istiod = release('istiod', 'istiod', 'istio-system', [base]);
  const gateway = release('istio-ingressgateway', 'istioGateway', 'istio-ingress', [istiod], { service: { type: 'LoadBalancer' }, ...istio.gatewayValues });
  return [base, istiod, gateway];
}

/**
 * Holds back every resource until the whole program has been built. Pulumi registers (and `up`
 * creates) a resource as soon as it is constructed, while the program goes on; a bad setting found
 * later (a workload's, say) would then fail the update with half the stack applied. Each top-level
 * resource depends on this, and children wait for their parent, so an error anywhere creates nothing.
 */
function programGate(): { opts: pulumi.CustomResourceOptions; open: () => void; fail: () => void } {
  let open!: () => void;
  let fail!: () => void;
  const built = new Promise<pulumi.Resource[]>((resolve, reject) => {
    open = () => resolve([]);
    fail = () => reject(new pulumi.RunError('not created: the program stopped on the error above'));
  });
  // Failing it ends the held-back registrations, which Pulumi waits for; the program's own error is what the user sees.
  built.catch(() => undefined);
  return { opts: { dependsOn: built }, open, fail };
}

async function main(): Promise<Record<string, unknown>> {
  const config = readConfig();
  const gate = programGate();
  try {
    const outputs = await buildProgram(config, gate.opts);
    gate.open();
    return outputs;
  } catch (err) {
    gate.fail();
    throw err;
  }
}

/** The stack's resources, each top-level one with `held` (see {@link programGate}); returns the stack outputs. */
async function buildProgram(config: ProgramConfig, held: pulumi.CustomResourceOptions): Promise<Record<string, unknown>> {
  const eksName = config.eks?.clusterName ?? `wasm-control-${pulumi.getStack()}`;
  // A preview that creates the EKS cluster cannot render Kubernetes objects on it (pulumi-kubernetes#3027):
  // it shows the AWS side now and the rest once the cluster exists. `pulumi up` creates both.
  const kubernetesNow = config.clusterKind !== ClusterKind.Eks || (await eksClusterExists(eksName));

  const clusterArgs: ClusterArgs =
    config.clusterKind === ClusterKind.Eks
      ? { kind: ClusterKind.Eks, eks: { ...config.eks, clusterName: eksName, loadBalancerController: loadBalancerControllerArgs(config) }, kubernetesObjects: kubernetesNow }
      : { kind: ClusterKind.Existing, kubeconfigPath: config.kubeconfigPath, context: config.kubeconfigContext };
  const cluster = new Cluster('cluster', clusterArgs, held);

  const image = new ControllerImage(
    'controller',
    { image: config.controllerImage, registry: config.imageRepository ? { repository: config.imageRepository } : undefined, ...config.image },
    held,
  );

  const outputs: Record<string, unknown> = { clusterName: cluster.clusterName, kubeconfig: cluster.kubeconfig, controllerImage: image.imageRef };
  if (!kubernetesNow) {
    pulumi.log.warn(`EKS cluster ${eksName} is created by this update, so the Kubernetes objects on it are left out of this preview; \`pulumi up\` creates them once the cluster exists.`);
    return outputs;
  }

  let provider = cluster.provider;
  if (config.istio.install) {
    const istio = installIstio(provider, config.istio, config.charts);
    // Everything of the ControlPlane goes through this provider, so it waits for Istio (its CRDs first of all).
    provider = new k8s.Provider('after-istio', { kubeconfig: config.clusterKind === ClusterKind.Eks ? cluster.kubeconfig : config.kubeconfigPath, context: config.kubeconfigContext }, { dependsOn: istio });
  }

  const controlPlane = new ControlPlane('wasm-control', controlPlaneArgs(config, image.imageRef), { ...held, provider });

  const hostGroups = new Map<string, HostGroup>();
  for (const { name, ...args } of config.hostGroups) hostGroups.set(name, new HostGroup(name, { ...args, controlPlane }, { ...held, provider }));

  const urls: Record<string, pulumi.Output<string>> = {};
  for (const { name, image: workloadImage, components, hostGroup, ...args } of config.workloads) {
    const group = hostGroup === undefined ? undefined : hostGroups.get(hostGroup);
    if (hostGroup !== undefined && !group) throw new Error(`workload ${name}: hostGroup "${hostGroup}" is not in wasm-control:hostGroups (${[...hostGroups.keys()].join(', ') || 'none'})`);
    const trigger = new HttpTrigger(
      name,
      { ...args, controlPlane, hostGroup: group, components: components ?? (workloadImage ? [{ name: 'http', image: workloadImage }] : []) },
      { ...held, provider },
    );
    urls[name] = trigger.url;
  }

  return {
    ...outputs,
    edgeEntryPoints: controlPlane.edgeEntryPoints,
    hostUrls: controlPlane.hostUrls,
    workloadUrls: urls,
    persesUrl: controlPlane.persesUrl,
  };
}

// Pulumi runs an exported function and exports what it returns; `defaults` is for the tests.
export = Object.assign(main, { defaults: DEFAULTS });
