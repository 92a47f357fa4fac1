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
  HttpTrigger,
  HttpTriggerArgs,
  LogLevel,
  PersesArgs,
  ServiceType,
} from './components';
import { unsupportedValue } from './components/args';

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
  };
  if (config.clusterKind !== ClusterKind.Eks && config.eks) throw new Error('config wasm-control:eks is set but wasm-control:clusterKind is not "eks"');
  if (config.clusterKind === ClusterKind.Existing && !config.controllerImage && !config.imageRepository) {
    throw new Error('config wasm-control:controllerImage (a prebuilt image) or wasm-control:imageRepository (a registry to push a build to) is required on an existing cluster; only EKS stacks get an ECR repository');
  }
  if (config.istio.install && config.ingressMode !== IngressMode.Istio) throw new Error('config wasm-control:istio.install is set but wasm-control:ingressMode is not "istio"');
  if (config.envoyService && config.ingressMode !== IngressMode.Direct) throw new Error('config wasm-control:envoyService is for ingressMode "direct"; behind an edge proxy Envoy\'s Service stays ClusterIP');
  return config;
}

/** The ControlPlane arguments for the stack's ingress mode. */
function controlPlaneArgs(config: ProgramConfig, image: pulumi.Input<string>): ControlPlaneArgs {
  const ingress =
    config.ingressMode === IngressMode.Direct
      ? { enabled: false }
      : { provider: config.ingressMode, hosts: config.hosts.map((host) => ({ host })) };
  return {
    ingress,
    envoy: {
      replicas: config.envoyReplicas,
      service: config.ingressMode === IngressMode.Direct ? { type: ServiceType.LoadBalancer, ...config.envoyService } : undefined,
    },
    controller: { image, replicas: config.controllerReplicas, logLevel: config.logLevel },
    perses: config.perses,
  };
}

const ISTIO_REPO = 'https://istio-release.storage.googleapis.com/charts';
const ISTIO_VERSION = '1.27.1';

/**
 * Istio base, istiod and an IngressGateway whose pods carry `istio: ingressgateway`
 * (the gateway chart derives the label from the release name), as Releases: Helm
 * waits for each before the next and for the ControlPlane's Istio check.
 */
function installIstio(provider: k8s.Provider, version: string, gatewayValues: Record<string, unknown>): pulumi.Resource[] {
  const release = (name: string, chart: string, namespace: string, dependsOn: pulumi.Resource[], values: Record<string, unknown> = {}) =>
    new k8s.helm.v3.Release(name, { chart, name, namespace, createNamespace: true, version, repositoryOpts: { repo: ISTIO_REPO }, values }, { provider, dependsOn });
  const base = release('istio-base', 'base', 'istio-system', []);
  const istiod = release('istiod', 'istiod', 'istio-system', [base]);
  const gateway = release('istio-ingressgateway', 'gateway', 'istio-ingress', [istiod], { service: { type: 'LoadBalancer' }, ...gatewayValues });
  return [base, istiod, gateway];
}

async function main(): Promise<Record<string, unknown>> {
  const config = readConfig();
  const eksName = config.eks?.clusterName ?? `wasm-control-${pulumi.getStack()}`;
  // A preview that creates the EKS cluster cannot render Kubernetes objects on it (pulumi-kubernetes#3027):
  // it shows the AWS side now and the rest once the cluster exists. `pulumi up` creates both.
  const kubernetesNow = config.clusterKind !== ClusterKind.Eks || (await eksClusterExists(eksName));

  const clusterArgs: ClusterArgs =
    config.clusterKind === ClusterKind.Eks
      ? { kind: ClusterKind.Eks, eks: { ...config.eks, clusterName: eksName }, kubernetesObjects: kubernetesNow }
      : { kind: ClusterKind.Existing, kubeconfigPath: config.kubeconfigPath, context: config.kubeconfigContext };
  const cluster = new Cluster('cluster', clusterArgs);

  const image = new ControllerImage('controller', {
    image: config.controllerImage,
    registry: config.imageRepository ? { repository: config.imageRepository } : undefined,
    ...config.image,
  });

  const outputs: Record<string, unknown> = { clusterName: cluster.clusterName, kubeconfig: cluster.kubeconfig, controllerImage: image.imageRef };
  if (!kubernetesNow) {
    pulumi.log.warn(`EKS cluster ${eksName} is created by this update, so the Kubernetes objects on it are left out of this preview; \`pulumi up\` creates them once the cluster exists.`);
    return outputs;
  }

  let provider = cluster.provider;
  if (config.istio.install) {
    const istio = installIstio(provider, config.istio.version ?? ISTIO_VERSION, config.istio.gatewayValues ?? {});
    // The ControlPlane reads Istio's Gateway CRD as a precondition: through this provider, only after Istio is installed.
    provider = new k8s.Provider('after-istio', { kubeconfig: config.clusterKind === ClusterKind.Eks ? cluster.kubeconfig : config.kubeconfigPath, context: config.kubeconfigContext }, { dependsOn: istio });
  }

  const controlPlane = new ControlPlane('wasm-control', controlPlaneArgs(config, image.imageRef), { provider });

  const hostGroups = new Map<string, HostGroup>();
  for (const { name, ...args } of config.hostGroups) hostGroups.set(name, new HostGroup(name, { ...args, controlPlane }, { provider }));

  const urls: Record<string, pulumi.Output<string>> = {};
  for (const { name, image: workloadImage, components, hostGroup, ...args } of config.workloads) {
    const group = hostGroup === undefined ? undefined : hostGroups.get(hostGroup);
    if (hostGroup !== undefined && !group) throw new Error(`workload ${name}: hostGroup "${hostGroup}" is not in wasm-control:hostGroups (${[...hostGroups.keys()].join(', ') || 'none'})`);
    const trigger = new HttpTrigger(
      name,
      { ...args, controlPlane, hostGroup: group, components: components ?? (workloadImage ? [{ name: 'http', image: workloadImage }] : []) },
      { provider },
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
