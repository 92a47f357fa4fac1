/**
 * Checks the ControlPlane's arguments and fills in the defaults. Everything
 * that decides which objects exist is checked here, before any resource is
 * registered, and each error names the argument and says how to fix it. The
 * arguments may come from untyped languages (YAML, Python), so nothing in the
 * TypeScript types is trusted.
 */
import * as pulumi from '@pulumi/pulumi';
import { checkedHostPolicy, HOST_POLICY_KIND, HostOwnership, UnlistedHosts, type HostPolicy, type ValidHostPolicy } from '../controller/api/host-policy';
import { TRIGGER_API_VERSION } from '../controller/api/types';
import { metadataProblems } from '../controller/api/validate';
import { DEFAULT_ADS_API_TYPE } from '../controller/envoy/bootstrap';
import {
  AdsApiType,
  ChartSourceArgs,
  ControlPlaneArgs,
  HostPolicyArgs,
  XdsCertificatesArgs,
  XdsTlsArgs,
  IngressProvider,
  IngressTlsArgs,
  LogLevel,
  ResourceRequirementsArgs,
  ServiceType,
  unsupportedValue,
} from './args';
import { chartReference, ChartReference, chartSourceProblem, UpstreamChart } from './chart-source';
import { hostnameProblem } from './hostname';
import { objectNameForHost, PERSES } from './names';

export const DEFAULTS = {
  namespace: 'cosmonic-system',
  gatewayName: 'cosmonic-gateway',
  ingressGatewaySelector: { istio: 'ingressgateway' },
  traefikHttpNodePort: 30080,
  traefikHttpsNodePort: 30443,
  traefikChartVersion: '37.3.0',
  runtimeChartVersion: '2.7.0',
  persesChartVersion: '0.19.2',
  persesHost: 'perses.localhost.cosmonic.sh',
  envoyImage: 'envoyproxy/envoy:v1.36.2',
  envoyReplicas: 2,
  controllerReplicas: 2,
  expectedTriggers: 1000,
  natsUrl: 'nats://nats:4222',
  xdsCertificateHours: 8760,
  xdsEarlyRenewalHours: 720,
} as const;

/** The upstream homes of the charts the ControlPlane installs. */
export const UPSTREAM_CHARTS = {
  runtime: { name: 'runtime-operator', repository: 'oci://ghcr.io/wasmcloud/charts' },
  traefik: { name: 'traefik', repository: 'https://traefik.github.io/charts' },
  perses: { name: 'perses', repository: 'https://perses.github.io/helm-charts' },
} as const satisfies Record<string, UpstreamChart>;

export const NODE_PORT_RANGE = { min: 30000, max: 32767 } as const;

export interface TlsSettings {
  secretName?: string;
  certResolver?: string;
}

export interface HostSettings {
  host: string;
  tls?: TlsSettings;
}

type ChartValues = { [key: string]: unknown };

/** The arguments, checked and with every default applied. */
export interface Settings {
  namespace: string;
  createNamespace: boolean;
  ingress: {
    enabled: boolean;
    provider: IngressProvider;
    hosts: HostSettings[];
    istio: { gatewayName: string; ingressGatewaySelector: Record<string, string>; checkInstalled: boolean };
    traefik: { httpNodePort: number; httpsNodePort: number; chart: ChartReference; values: ChartValues };
  };
  envoy: {
    replicas: pulumi.Input<number>;
    image: pulumi.Input<string>;
    resources?: ResourceRequirementsArgs;
    service: { type: ServiceType; annotations: Record<string, string>; httpNodePort?: number };
    adsApiType: AdsApiType;
  };
  controller: {
    image: pulumi.Input<string>;
    replicas: pulumi.Input<number>;
    resources?: ResourceRequirementsArgs;
    expectedTriggers: number;
    logLevel: LogLevel;
    natsUrl: pulumi.Input<string>;
  };
  /** `chart` locates the chart; HostGroups default to the same `chartVersion` and `chartSource`. */
  runtime: { enabled: boolean; chart: ChartReference; chartVersion: string; chartSource?: ChartSourceArgs; natsTls: boolean; values: ChartValues };
  perses: {
    enabled: boolean;
    host: string;
    tls?: TlsSettings;
    chart: ChartReference;
    prometheusUrl?: pulumi.Input<string>;
    values: ChartValues;
  };
  xdsTls: { certificates?: XdsCertificatesArgs; validityHours: number; earlyRenewalHours: number };
  hostPolicy: {
    unlistedHosts: UnlistedHosts;
    checkTriggers: boolean;
    /** The HostPolicy manifests to create. */
    policies: HostPolicy[];
    /** What they allow, as the controller decides it (namespace labels unknown here). */
    ownership: HostOwnership;
  };
}

/** Thrown for a bad argument; the message names the argument and the fix. */
export class ControlPlaneArgumentError extends Error {
  constructor(argument: string, problem: string) {
    super(`ControlPlane argument \`${argument}\` ${problem}`);
    this.name = 'ControlPlaneArgumentError';
  }
}

/** Validates `args` and returns them with defaults applied; throws {@link ControlPlaneArgumentError}. */
export function resolveSettings(args: ControlPlaneArgs | undefined): Settings {
  const a = object('args', args ?? {}) as ControlPlaneArgs;
  const ingressArgs = object('ingress', a.ingress ?? {});
  const envoyArgs = object('envoy', a.envoy ?? {});
  const serviceArgs = object('envoy.service', envoyArgs.service ?? {});
  const controllerArgs = object('controller', a.controller ?? {});
  const runtimeArgs = object('runtime', a.runtime ?? {});
  const persesArgs = object('perses', a.perses ?? {});

  const namespace = a.namespace ?? DEFAULTS.namespace;
  if (typeof namespace !== 'string' || !/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(namespace)) {
    throw new ControlPlaneArgumentError('namespace', `${JSON.stringify(namespace)} is not a Kubernetes namespace name: use 1-63 lowercase letters, digits and "-".`);
  }

  const ingressEnabled = bool('ingress.enabled', ingressArgs.enabled, true);
  const provider = oneOf('ingress.provider', ingressArgs.provider, IngressProvider, IngressProvider.Traefik);
  if (ingressArgs.istio !== undefined && provider !== IngressProvider.Istio) {
    throw new ControlPlaneArgumentError('ingress.istio', `is set but \`ingress.provider\` is "${provider}": set \`ingress.provider: istio\` or remove \`ingress.istio\`.`);
  }
  if (ingressArgs.traefik !== undefined && provider !== IngressProvider.Traefik) {
    throw new ControlPlaneArgumentError('ingress.traefik', `is set but \`ingress.provider\` is "${provider}": remove \`ingress.traefik\` or use the Traefik provider.`);
  }
  const hostsArgs = ingressArgs.hosts ?? [];
  if (!Array.isArray(hostsArgs)) throw new ControlPlaneArgumentError('ingress.hosts', 'must be a list of `{ host, tls? }` entries.');
  if (!ingressEnabled && hostsArgs.length > 0) {
    throw new ControlPlaneArgumentError('ingress.hosts', 'is set but `ingress.enabled` is false: hosts become edge-proxy routes, so remove them or enable the edge proxy (Envoy routes by Host header on its own).');
  }
  const hosts = hostsArgs.map((entry, i) => {
    const at = `ingress.hosts[${i}]`;
    const h = object(at, entry);
    const problem = hostnameProblem(h.host);
    if (problem) throw new ControlPlaneArgumentError(`${at}.host`, `${problem}.`);
    return { host: h.host as string, tls: tls(`${at}.tls`, h.tls, provider) };
  });

  const istioArgs = object('ingress.istio', ingressArgs.istio ?? {});
  const gatewayName = istioArgs.gatewayName ?? DEFAULTS.gatewayName;
  if (typeof gatewayName !== 'string' || !/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/.test(gatewayName)) {
    throw new ControlPlaneArgumentError('ingress.istio.gatewayName', `${JSON.stringify(gatewayName)} is not a Kubernetes object name: use lowercase letters, digits, "-" and ".".`);
  }
  const ingressGatewaySelector = stringMap('ingress.istio.ingressGatewaySelector', istioArgs.ingressGatewaySelector ?? DEFAULTS.ingressGatewaySelector);
  if (Object.keys(ingressGatewaySelector).length === 0) {
    throw new ControlPlaneArgumentError('ingress.istio.ingressGatewaySelector', 'is empty, which would bind the Gateway to every gateway pod: give the IngressGateway pods\' labels, e.g. `{ istio: ingressgateway }`.');
  }

  const traefikArgs = object('ingress.traefik', ingressArgs.traefik ?? {});
  const httpNodePort = nodePort('ingress.traefik.httpNodePort', traefikArgs.httpNodePort ?? DEFAULTS.traefikHttpNodePort);
  const httpsNodePort = nodePort('ingress.traefik.httpsNodePort', traefikArgs.httpsNodePort ?? DEFAULTS.traefikHttpsNodePort);
  if (httpNodePort === httpsNodePort) {
    throw new ControlPlaneArgumentError('ingress.traefik.httpsNodePort', `equals \`httpNodePort\` (${httpNodePort}): give HTTP and HTTPS different node ports.`);
  }

  const serviceType = oneOf('envoy.service.type', serviceArgs.type, ServiceType, ServiceType.ClusterIP);
  let envoyNodePort: number | undefined;
  if (serviceArgs.httpNodePort !== undefined) {
    if (serviceType !== ServiceType.NodePort) {
      throw new ControlPlaneArgumentError('envoy.service.httpNodePort', `is only used with \`envoy.service.type: NodePort\` (the type is "${serviceType}"): set the type to NodePort or remove httpNodePort.`);
    }
    envoyNodePort = nodePort('envoy.service.httpNodePort', serviceArgs.httpNodePort);
  }

  if (controllerArgs.image === undefined || controllerArgs.image === '') {
    throw new ControlPlaneArgumentError('controller.image', 'is required: give the controller\'s container image, e.g. `ghcr.io/example/wasm-control:0.1.0`.');
  }

  const persesEnabled = bool('perses.enabled', persesArgs.enabled, ingressEnabled);
  const persesHost = persesArgs.host ?? DEFAULTS.persesHost;
  const persesHostProblem = hostnameProblem(persesHost);
  if (persesHostProblem) throw new ControlPlaneArgumentError('perses.host', `${persesHostProblem}.`);
  const persesTls = tls('perses.tls', persesArgs.tls, provider);
  if (persesTls && !(persesEnabled && ingressEnabled)) {
    throw new ControlPlaneArgumentError('perses.tls', 'is set but no edge route to Perses is created (it needs `perses.enabled` and `ingress.enabled`): remove it.');
  }

  const seen = new Map<string, string>();
  const routed: [string, string][] = hosts.map((h, i) => [h.host, `ingress.hosts[${i}].host`]);
  if (persesEnabled && ingressEnabled) routed.push([persesHost, 'perses.host']);
  for (const [host, at] of routed) {
    const earlier = seen.get(host);
    if (earlier) throw new ControlPlaneArgumentError(at, `"${host}" is already given by \`${earlier}\`: list each host once.`);
    seen.set(host, at);
  }
  // Different hosts can map to one object name (`a-b.c`, `a.b-c`); the second would replace the first.
  const objectNames = new Map<string, string>([[PERSES, 'the Perses route']]);
  for (const [i, { host }] of hosts.entries()) {
    const name = objectNameForHost(host);
    const taken = objectNames.get(name);
    if (taken) {
      throw new ControlPlaneArgumentError(`ingress.hosts[${i}].host`, `"${host}" maps to the object name "${name}", which ${taken} already uses: list only one of them.`);
    }
    objectNames.set(name, `"${host}"`);
  }

  return {
    namespace,
    createNamespace: bool('createNamespace', a.createNamespace, true),
    ingress: {
      enabled: ingressEnabled,
      provider,
      hosts,
      istio: { gatewayName, ingressGatewaySelector, checkInstalled: bool('ingress.istio.checkInstalled', istioArgs.checkInstalled, true) },
      traefik: {
        httpNodePort,
        httpsNodePort,
        chart: chart('ingress.traefik', traefikArgs, UPSTREAM_CHARTS.traefik, DEFAULTS.traefikChartVersion),
        values: object('ingress.traefik.values', traefikArgs.values ?? {}),
      },
    },
    envoy: {
      replicas: envoyArgs.replicas ?? DEFAULTS.envoyReplicas,
      image: envoyArgs.image ?? DEFAULTS.envoyImage,
      resources: envoyArgs.resources,
      service: { type: serviceType, annotations: stringMap('envoy.service.annotations', serviceArgs.annotations ?? {}), httpNodePort: envoyNodePort },
      adsApiType: oneOf('envoy.adsApiType', envoyArgs.adsApiType, AdsApiType, DEFAULT_ADS_API_TYPE),
    },
    controller: {
      image: controllerArgs.image,
      replicas: controllerArgs.replicas ?? DEFAULTS.controllerReplicas,
      resources: controllerArgs.resources,
      expectedTriggers: wholeNumber('controller.expectedTriggers', controllerArgs.expectedTriggers ?? DEFAULTS.expectedTriggers, 1),
      logLevel: oneOf('controller.logLevel', controllerArgs.logLevel, LogLevel, LogLevel.Info),
      natsUrl: controllerArgs.natsUrl ?? DEFAULTS.natsUrl,
    },
    runtime: {
      enabled: bool('runtime.enabled', runtimeArgs.enabled, true),
      chart: chart('runtime', runtimeArgs, UPSTREAM_CHARTS.runtime, DEFAULTS.runtimeChartVersion),
      chartVersion: runtimeArgs.chartVersion ?? DEFAULTS.runtimeChartVersion,
      chartSource: runtimeArgs.chart,
      natsTls: bool('runtime.natsTls', runtimeArgs.natsTls, true),
      values: object('runtime.values', runtimeArgs.values ?? {}),
    },
    perses: {
      enabled: persesEnabled,
      host: persesHost,
      tls: persesTls,
      chart: chart('perses', persesArgs, UPSTREAM_CHARTS.perses, DEFAULTS.persesChartVersion),
      prometheusUrl: persesArgs.prometheusUrl,
      values: object('perses.values', persesArgs.values ?? {}),
    },
    hostPolicy: hostPolicySettings(a.hostPolicy ?? {}),
    xdsTls: xdsTlsSettings(a.xdsTls ?? {}),
  };
}

function xdsTlsSettings(args: XdsTlsArgs): Settings['xdsTls'] {
  const validityHours = wholeNumber('xdsTls.validityHours', args.validityHours ?? DEFAULTS.xdsCertificateHours, 2);
  const earlyRenewalHours = wholeNumber('xdsTls.earlyRenewalHours', args.earlyRenewalHours ?? Math.min(DEFAULTS.xdsEarlyRenewalHours, Math.floor(validityHours / 2)), 1);
  if (earlyRenewalHours >= validityHours) {
    throw new ControlPlaneArgumentError('xdsTls.earlyRenewalHours', `(${earlyRenewalHours}) must be less than \`validityHours\` (${validityHours}), or every \`pulumi up\` would issue new certificates.`);
  }
  const c = args.certificates;
  if (c !== undefined) {
    const fields = ['ca', 'controllerCert', 'controllerKey', 'envoyCert', 'envoyKey'] as const;
    const missing = fields.filter((f) => c[f] === undefined || c[f] === '');
    if (missing.length > 0) throw new ControlPlaneArgumentError('xdsTls.certificates', `lacks ${missing.join(', ')}: give all five PEM values, or none to have them issued.`);
  }
  return { certificates: c, validityHours, earlyRenewalHours };
}

function hostPolicySettings(args: HostPolicyArgs): Settings['hostPolicy'] {
  const unlistedHosts = oneOf('hostPolicy.unlistedHosts', args.unlistedHosts, UnlistedHosts, UnlistedHosts.Allow);
  if (args.policies !== undefined && !Array.isArray(args.policies)) throw new ControlPlaneArgumentError('hostPolicy.policies', 'must be a list of `{ name, hosts, namespaces }`.');
  const seen = new Set<string>();
  const checked: ValidHostPolicy[] = [];
  const policies = (args.policies ?? []).map((p, i) => {
    const at = `hostPolicy.policies[${i}]`;
    const nameProblem = typeof p?.name === 'string' ? metadataProblems(undefined, p.name)[0] : 'name is required';
    if (nameProblem) throw new ControlPlaneArgumentError(`${at}.name`, `${nameProblem}.`);
    if (seen.has(p.name)) throw new ControlPlaneArgumentError(`${at}.name`, `"${p.name}" is given twice: each HostPolicy needs its own name.`);
    seen.add(p.name);
    const manifest: HostPolicy = { apiVersion: TRIGGER_API_VERSION, kind: HOST_POLICY_KIND, metadata: { name: p.name }, spec: { hosts: p.hosts, namespaces: p.namespaces } };
    const { policy, problems } = checkedHostPolicy(manifest);
    if (problems.length > 0 || !policy) throw new ControlPlaneArgumentError(at, `(HostPolicy ${p.name}): ${problems.join('; ')}.`);
    checked.push(policy);
    return manifest;
  });
  return { unlistedHosts, policies, ownership: new HostOwnership(checked, unlistedHosts), checkTriggers: bool('hostPolicy.checkTriggers', args.checkTriggers, true) };
}

/** The chart of `at` (`<at>.chartVersion`, `<at>.chart`), checked, from upstream unless `chart` says otherwise. */
function chart(at: string, args: Record<string, any>, upstream: UpstreamChart, defaultVersion: string): ChartReference {
  const version = str(`${at}.chartVersion`, args.chartVersion, defaultVersion);
  const problem = chartSourceProblem(args.chart, args.chartVersion !== undefined);
  if (problem) throw new ControlPlaneArgumentError(`${at}.chart`, `${problem}.`);
  return chartReference(upstream, version, args.chart);
}

function tls(at: string, value: IngressTlsArgs | undefined, provider: IngressProvider): TlsSettings | undefined {
  if (value === undefined) return undefined;
  const t = object(at, value);
  const secretName = t.secretName === undefined ? undefined : str(`${at}.secretName`, t.secretName, '');
  const certResolver = t.certResolver === undefined ? undefined : str(`${at}.certResolver`, t.certResolver, '');
  if (secretName !== undefined && certResolver !== undefined) {
    throw new ControlPlaneArgumentError(at, 'sets both `secretName` and `certResolver`: a host gets its certificate from one of them, so keep one.');
  }
  if (provider === IngressProvider.Istio) {
    if (certResolver !== undefined) {
      throw new ControlPlaneArgumentError(`${at}.certResolver`, 'is a Traefik setting: with Istio, give `secretName` (a TLS Secret in the IngressGateway\'s namespace).');
    }
    if (secretName === undefined) {
      throw new ControlPlaneArgumentError(`${at}.secretName`, 'is required with Istio: the Gateway needs a TLS Secret (in the IngressGateway\'s namespace) as its credentialName.');
    }
  }
  return { secretName, certResolver };
}

function object(at: string, value: unknown): Record<string, any> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ControlPlaneArgumentError(at, `must be an object, got ${JSON.stringify(value)}.`);
  }
  return value as Record<string, any>;
}

function bool(at: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new ControlPlaneArgumentError(at, `must be true or false, got ${JSON.stringify(value)}.`);
  return value;
}

function str(at: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || value === '') throw new ControlPlaneArgumentError(at, `must be a non-empty string, got ${JSON.stringify(value)}.`);
  return value;
}

function oneOf<T extends string>(at: string, value: unknown, allowed: Record<string, T>, fallback: T): T {
  if (value === undefined) return fallback;
  const problem = unsupportedValue(value, allowed);
  if (problem) throw new ControlPlaneArgumentError(at, `${problem}.`);
  return value as T;
}

function stringMap(at: string, value: unknown): Record<string, string> {
  const map = object(at, value);
  for (const [key, v] of Object.entries(map)) {
    if (typeof v !== 'string') {
      throw new ControlPlaneArgumentError(`${at}["${key}"]`, `must be a string, got ${JSON.stringify(v)} (${typeof v}): quote it, e.g. "${String(v)}".`);
    }
  }
  return map as Record<string, string>;
}

function wholeNumber(at: string, value: unknown, min: number): number {
  if (!Number.isInteger(value) || (value as number) < min) throw new ControlPlaneArgumentError(at, `must be a whole number of at least ${min}, got ${JSON.stringify(value)}.`);
  return value as number;
}

function nodePort(at: string, value: unknown): number {
  if (!Number.isInteger(value) || (value as number) < NODE_PORT_RANGE.min || (value as number) > NODE_PORT_RANGE.max) {
    throw new ControlPlaneArgumentError(at, `${JSON.stringify(value)} is outside the node port range: use an integer from ${NODE_PORT_RANGE.min} to ${NODE_PORT_RANGE.max}.`);
  }
  return value as number;
}
