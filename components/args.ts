/**
 * The ControlPlane's arguments. They are the multi-language schema of the
 * component, so they follow the source-based plugin rules: interfaces only, no
 * union types (enumerations are `as const` objects), TSDoc on every field.
 * Fields that decide which objects exist are plain values, so they can be
 * checked when the component is constructed; images and sizes are inputs.
 */
import * as pulumi from '@pulumi/pulumi';
import { SelectorOperator, UnlistedHosts, type LabelSelector, type LabelSelectorRequirement } from '../controller/api/host-policy';

/** The edge proxy in front of Envoy. */
export const IngressProvider = {
  /** Traefik from its upstream chart, with Kubernetes Ingress objects (the default). */
  Traefik: 'traefik',
  /** An Istio IngressGateway that is already installed, with a Gateway and VirtualServices. */
  Istio: 'istio',
} as const;
export type IngressProvider = (typeof IngressProvider)[keyof typeof IngressProvider];

/** The type of the `ingress` Service in front of Envoy. */
export const ServiceType = {
  /** Reachable inside the cluster only: the choice behind an edge proxy (the default). */
  ClusterIP: 'ClusterIP',
  /** A port on every node (30000-32767), for your own load balancer or proxy. */
  NodePort: 'NodePort',
  /** A cloud load balancer; configure it with `envoy.service.annotations`. */
  LoadBalancer: 'LoadBalancer',
} as const;
export type ServiceType = (typeof ServiceType)[keyof typeof ServiceType];

/** The controller's log level. */
export const LogLevel = {
  Debug: 'debug',
  Info: 'info',
  Warn: 'warn',
  Error: 'error',
} as const;
export type LogLevel = (typeof LogLevel)[keyof typeof LogLevel];

/**
 * The one wording for a value outside an enum's (`"x" is not supported: use one
 * of "a", "b"`), shared by the component arguments and the program's config;
 * undefined when the value is allowed.
 */
export function unsupportedValue(value: unknown, allowed: Record<string, string>): string | undefined {
  const values = Object.values(allowed);
  return values.includes(value as string) ? undefined : `${JSON.stringify(value)} is not supported: use one of ${values.map((v) => `"${v}"`).join(', ')}`;
}

/** How Envoy subscribes to the controller's aggregated discovery service. */
export const AdsApiType = {
  /** Incremental xDS: only changed resources are sent. */
  DeltaGrpc: 'DELTA_GRPC',
  /** State-of-the-world xDS: every response carries the full set (the default). */
  Grpc: 'GRPC',
} as const;
export type AdsApiType = (typeof AdsApiType)[keyof typeof AdsApiType];

/** The arguments of a {@link ControlPlane}. */
export interface ControlPlaneArgs {
  /** Namespace for every namespaced object of the control plane. Default `cosmonic-system`. */
  namespace?: string;
  /** Create the namespace (default `true`); set `false` when it already exists. */
  createNamespace?: boolean;
  /** How HTTP reaches Envoy from outside the cluster: an edge proxy (Traefik or Istio) or Envoy exposed directly. */
  ingress?: IngressArgs;
  /** The Envoy proxy that routes requests to WebAssembly workloads by Host header. */
  envoy?: EnvoyArgs;
  /** The xDS controller that watches HTTPTriggers and configures Envoy. `controller.image` is required. */
  controller: ControllerArgs;
  /** The wasmCloud runtime (runtime-operator, NATS and the default host group) from its upstream chart. */
  runtime?: RuntimeArgs;
  /** The Perses dashboard and the Prometheus it reads. */
  perses?: PersesArgs;
  /** Which namespaces may claim which hosts (HostPolicy objects and the controller's unlisted-hosts setting). */
  hostPolicy?: HostPolicyArgs;
  /** The mutual TLS between Envoy and the controller's xDS server (always on; these say where certificates come from). */
  xdsTls?: XdsTlsArgs;
}

/**
 * Envoy and the controller speak xDS over mutual TLS, with certificates from a CA of this control
 * plane's own, issued by the Pulumi TLS provider (their keys are Pulumi secrets), unless `certificates`
 * gives PEM contents from your own PKI. A `pulumi up` within `earlyRenewalHours` of an issued
 * certificate's expiry issues a new one; the controller picks its files up as the Secret changes and
 * the Envoy pods roll.
 */
export interface XdsTlsArgs {
  /** PEM contents to use instead of issuing certificates; all five. */
  certificates?: XdsCertificatesArgs;
  /** Validity of the issued controller and Envoy certificates, in hours (default 8760: a year); the CA's is ten times as long. */
  validityHours?: number;
  /** Re-issue a certificate on the first `pulumi up` this many hours before it expires (default 720: 30 days). */
  earlyRenewalHours?: number;
}

/** PEM certificates and keys for the xDS channel, from your own PKI. */
export interface XdsCertificatesArgs {
  /** The CA both certificates are issued by (each side trusts it for the other). */
  ca: pulumi.Input<string>;
  /** The controller's server certificate; its DNS names must include `wasm-control-controller.<namespace>.svc.cluster.local`. */
  controllerCert: pulumi.Input<string>;
  /** Its private key (kept as a Pulumi secret). */
  controllerKey: pulumi.Input<string>;
  /** Envoy's client certificate. */
  envoyCert: pulumi.Input<string>;
  /** Its private key (kept as a Pulumi secret). */
  envoyKey: pulumi.Input<string>;
}

/**
 * Host ownership on a cluster shared by teams. Each policy becomes a cluster-scoped HostPolicy; an
 * HttpTrigger whose namespace may not claim its host fails `pulumi preview` with the controller's words
 * (for a label-selector grant, the controller decides once it sees the namespace's labels).
 */
export interface HostPolicyArgs {
  /** Hosts no policy names: claimable from any namespace (`allow`, the default) or from none (`deny`). */
  unlistedHosts?: UnlistedHosts;
  /** The HostPolicy objects to create. Others can be applied with kubectl too; the controller reads them all. */
  policies?: HostPolicyRuleArgs[];
  /**
   * Fail `pulumi preview` of an `HttpTrigger` these policies refuse (default `true`). Set `false` when
   * HostPolicies applied outside this program may grant what these do not: the controller sees every
   * policy, this check only these.
   */
  checkTriggers?: boolean;
}

export { UnlistedHosts };

export interface HostPolicyRuleArgs {
  /** The HostPolicy's name. */
  name: string;
  /** Exact hosts or `*.suffix` wildcards (a wildcard covers every name under the suffix, at any depth). */
  hosts: string[];
  /** The namespaces that may claim them. */
  namespaces: HostPolicyNamespacesArgs;
}

/** Namespaces by name, by label selector, or both. */
export interface HostPolicyNamespacesArgs {
  /** Namespaces by name. */
  names?: string[];
  /** metav1.LabelSelector over the namespaces' labels. */
  selector?: LabelSelector;
}

export { SelectorOperator };
export type { LabelSelector, LabelSelectorRequirement };

/** The edge in front of Envoy. */
export interface IngressArgs {
  /**
   * Deploy an edge proxy (default `true`). With `false`, Envoy is exposed directly through the
   * `ingress` Service of type `envoy.service.type`: no Traefik, no Perses route, and TLS terminates
   * upstream of the cluster (a cloud load balancer, Cloudflare, ...).
   */
  enabled?: boolean;
  /** The edge proxy: `traefik` (default) or `istio`. Istio must already be installed. */
  provider?: IngressProvider;
  /** Hosts routed from the edge to Envoy at install time: one Ingress (Traefik) or VirtualService (Istio) each. */
  hosts?: IngressHostArgs[];
  /** Istio settings; only valid with `provider: istio`. */
  istio?: IstioArgs;
  /** Traefik settings; only valid with `provider: traefik`. */
  traefik?: TraefikArgs;
}

/** One host routed from the edge proxy to Envoy. */
export interface IngressHostArgs {
  /** The DNS name, e.g. `hello.localhost.cosmonic.sh`; a leading `*.` makes it a wildcard. */
  host: string;
  /** Terminate TLS for this host at the edge proxy. Without it the host is served over plain HTTP. */
  tls?: IngressTlsArgs;
}

/** TLS at the edge proxy for one host. */
export interface IngressTlsArgs {
  /**
   * A `kubernetes.io/tls` Secret with the certificate. Traefik: in the control plane's namespace
   * (it becomes the Ingress's `spec.tls`). Istio: in the IngressGateway's namespace (the Gateway's
   * `credentialName`).
   */
  secretName?: string;
  /**
   * Traefik only: the name of a certificate resolver (ACME) configured on Traefik through
   * `ingress.traefik.values.certificatesResolvers`. Mutually exclusive with `secretName`.
   */
  certResolver?: string;
}

/** The Istio edge. */
export interface IstioArgs {
  /** Name of the Gateway this component creates. Default `cosmonic-gateway`. */
  gatewayName?: string;
  /** Labels of the IngressGateway pods the Gateway binds to. Default `{ istio: ingressgateway }`. */
  ingressGatewaySelector?: { [key: string]: string };
  /**
   * Read Istio's Gateway CRD first, so that a missing Istio fails `pulumi preview` early (default
   * `true`). Set `false` when the same program installs Istio and the ControlPlane waits for it
   * (its provider or `dependsOn`): the CRD does not exist yet when that program is previewed.
   */
  checkInstalled?: boolean;
}

/** The Traefik edge. */
export interface TraefikArgs {
  /** Node port of Traefik's `web` (HTTP) entrypoint. Default 30080. */
  httpNodePort?: number;
  /** Node port of Traefik's `websecure` (HTTPS) entrypoint. Default 30443. */
  httpsNodePort?: number;
  /** Version of the `traefik` chart from https://traefik.github.io/charts. Default 37.3.0. */
  chartVersion?: string;
  /** Where to take the `traefik` chart from instead: a local chart or a mirror (air-gapped clusters). */
  chart?: ChartSourceArgs;
  /** Extra chart values, merged over the component's (e.g. `certificatesResolvers`, `deployment.replicas`). */
  values?: { [key: string]: any };
}

/** The Envoy proxy. */
export interface EnvoyArgs {
  /** Number of Envoy pods. Default 2. */
  replicas?: pulumi.Input<number>;
  /** Envoy image. Default `envoyproxy/envoy:v1.36.2`. */
  image?: pulumi.Input<string>;
  /** CPU and memory of each Envoy container. */
  resources?: ResourceRequirementsArgs;
  /** The `ingress` Service in front of Envoy. */
  service?: EnvoyServiceArgs;
  /**
   * ADS flavour Envoy asks the controller for: `GRPC` (state of the world, the
   * default: the flavour tested here against a real xDS client; every routing
   * change resends the whole route table to every Envoy) or `DELTA_GRPC`
   * (incremental, with the route table's virtual hosts over VHDS: a change sends
   * only the virtual hosts it touched; use it for thousands of triggers).
   */
  adsApiType?: AdsApiType;
}

/** The Service named `ingress` that sends port 80 to Envoy's HTTP listener. */
export interface EnvoyServiceArgs {
  /** `ClusterIP` (default; behind an edge proxy), `NodePort` or `LoadBalancer` (direct exposure). */
  type?: ServiceType;
  /**
   * Annotations on the Service, e.g. for an AWS NLB:
   * `service.beta.kubernetes.io/aws-load-balancer-type: nlb`. Values must be strings.
   */
  annotations?: { [key: string]: string };
  /** With `type: NodePort`, the node port for HTTP (30000-32767), e.g. 30950. Default: chosen by Kubernetes. */
  httpNodePort?: number;
}

/** The xDS controller. */
export interface ControllerArgs {
  /** The controller's container image (required), e.g. `ghcr.io/example/wasm-control:0.1.0`. */
  image: pulumi.Input<string>;
  /** Number of controller pods; each serves xDS, one holds the leader lease. Default 2. */
  replicas?: pulumi.Input<number>;
  /**
   * CPU and memory of each controller container. Default: sized for `expectedTriggers` (a memory
   * request of what the controller holds at that count, a limit with headroom for a full
   * re-write after a restart, and Node's heap capped below it so it collects before the kernel kills it).
   */
  resources?: ResourceRequirementsArgs;
  /**
   * How many HTTPTriggers the cluster is expected to hold (default 1,000); sizes the default
   * `resources` and Node's heap: 1,000 → 256 Mi requested, 384 Mi limit; 10,000 → 384 Mi and
   * 576 Mi (the controller peaked at about 300 MiB with 10,000 triggers, measured by `npm run bench`).
   */
  expectedTriggers?: number;
  /** Log level: `debug`, `info` (default), `warn` or `error`. */
  logLevel?: LogLevel;
  /**
   * NATS the controller reads the wasmCloud hosts from. Default: the runtime chart's NATS,
   * `nats://nats:4222` (the name its TLS certificate is issued for).
   */
  natsUrl?: pulumi.Input<string>;
}

/** The wasmCloud runtime from `oci://ghcr.io/wasmcloud/charts/runtime-operator`. */
export interface RuntimeArgs {
  /** Install the runtime chart (default `true`); set `false` if the runtime is installed separately. */
  enabled?: boolean;
  /** Version of the runtime-operator chart. Default 2.7.0. */
  chartVersion?: string;
  /** Where to take the runtime-operator chart from instead: a local chart or a mirror (air-gapped clusters). HostGroups use it too. */
  chart?: ChartSourceArgs;
  /**
   * NATS with mutual TLS (the chart's default, `true`). The controller then mounts the chart's
   * client certificate. Set `false` only where a service mesh provides mTLS.
   */
  natsTls?: boolean;
  /** Extra chart values, merged over the component's (e.g. `runtime.hostGroups`). */
  values?: { [key: string]: any };
}

/** The Perses dashboard. */
export interface PersesArgs {
  /** Install Perses. Default: `true` when an edge proxy is deployed (`ingress.enabled`), else `false`. */
  enabled?: boolean;
  /** The host the edge proxy routes to Perses. Default `perses.localhost.cosmonic.sh`. */
  host?: string;
  /** TLS for the Perses host at the edge proxy. */
  tls?: IngressTlsArgs;
  /** Version of the `perses` chart from https://perses.github.io/helm-charts. Default 0.19.2. */
  chartVersion?: string;
  /** Where to take the `perses` chart from instead: a local chart or a mirror (air-gapped clusters). */
  chart?: ChartSourceArgs;
  /**
   * URL of an existing Prometheus that scrapes the controller (`/metrics` on port 9902) and Envoy
   * (`/stats/prometheus` on port 9901). Without it, the component installs a small Prometheus that does.
   */
  prometheusUrl?: pulumi.Input<string>;
  /** Extra chart values, merged over the component's. */
  values?: { [key: string]: any };
}

/** A chart taken from elsewhere than its upstream repository. Give exactly one of `path` and `repository`. */
export interface ChartSourceArgs {
  /**
   * A chart on the machine that runs Pulumi: a directory holding `Chart.yaml`, or a packaged
   * `.tgz`. Relative paths are read from the program's working directory. The chart's own
   * version is installed, so `chartVersion` must not be set with it.
   */
  path?: string;
  /**
   * A mirror that holds the chart under its upstream name: a Helm repository
   * (`https://charts.example.com/stable`) or an OCI registry path (`oci://registry.example.com/charts`).
   * `chartVersion` (or its default) picks the version.
   */
  repository?: string;
}

/** Kubernetes resource requests and limits, e.g. `{ requests: { cpu: "100m", memory: "128Mi" } }`. */
export interface ResourceRequirementsArgs {
  /** Guaranteed resources. */
  requests?: { [key: string]: pulumi.Input<string> };
  /** Upper bounds. */
  limits?: { [key: string]: pulumi.Input<string> };
}
