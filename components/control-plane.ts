import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { crd as schemaCrd, HOSTPOLICY_CRD_PATH, HTTPTRIGGER_CRD_PATH } from '../controller/api/schema';
import { ControlPlaneArgs, IngressProvider, ServiceType } from './args';
import { keepGeneratedSecrets, mergeValues } from './chart-values';
import { registerControlPlane } from './control-plane-registry';
import * as controller from './controller-objects';
import * as edge from './edge';
import * as envoy from './envoy-objects';
import { CONTROLLER, ENVOY, PERSES, PORTS, serviceDns } from './names';
import { podDisruptionBudget } from './pod-security';
import * as observability from './observability';
import { resolveSettings, Settings } from './settings';
import { withSecrets } from './recorded-args';
import { xdsTlsSecrets } from './xds-tls';

/** The Istio CRD whose absence means Istio is not installed. */
export const ISTIO_GATEWAY_CRD = 'gateways.networking.istio.io';

/**
 * The wasm-control control plane on one Kubernetes cluster: the HTTPTrigger
 * CRD, the xDS controller, Envoy behind the Service named `ingress`, an edge
 * proxy in front of it (Traefik by default, an existing Istio, or none with
 * Envoy exposed directly), the wasmCloud runtime and the Perses dashboard.
 *
 * Arguments are checked before anything is created; a bad one fails with a
 * message naming it and the fix. Children use the Kubernetes provider given
 * in `opts` (`provider` or `providers`).
 */
export class ControlPlane extends pulumi.ComponentResource {
  /** The namespace the control plane runs in. */
  public readonly namespace!: pulumi.Output<string>;
  /** Name of the Service in front of Envoy (`ingress`), for Ingresses of workloads deployed later. */
  public readonly ingressServiceName!: pulumi.Output<string>;
  /** The controller's xDS address inside the cluster, `host:port`. */
  public readonly xdsEndpoint!: pulumi.Output<string>;
  /** Where HTTP enters the cluster: the edge proxy's node ports or gateway, or Envoy's own Service address. */
  public readonly edgeEntryPoints!: pulumi.Output<string[]>;
  /** The URL of each `ingress.hosts` entry. */
  public readonly hostUrls!: pulumi.Output<string[]>;
  /** The Perses URL: through the edge when it has a route, else the in-cluster Service; unset without Perses. */
  public readonly persesUrl!: pulumi.Output<string | undefined>;

  constructor(name: string, args: ControlPlaneArgs, opts?: pulumi.ComponentResourceOptions) {
    // Validate before registering anything, so a bad argument leaves no half-built component behind.
    const settings = opts?.urn ? undefined : resolveSettings(args);
    super('wasm-control:index:ControlPlane', name, opts?.urn ? {} : withSecrets(args, ['xdsTls', 'certificates', 'controllerKey'], ['xdsTls', 'certificates', 'envoyKey']), opts);
    if (!settings) return; // rehydrated from a URN: the outputs come from state

    const outputs = buildControlPlane(this, name, settings);
    this.namespace = outputs.namespace;
    this.ingressServiceName = outputs.ingressServiceName;
    this.xdsEndpoint = outputs.xdsEndpoint;
    this.edgeEntryPoints = outputs.edgeEntryPoints;
    this.hostUrls = outputs.hostUrls;
    this.persesUrl = outputs.persesUrl;
    this.registerOutputs(outputs);
  }
}

interface ControlPlaneOutputs {
  namespace: pulumi.Output<string>;
  ingressServiceName: pulumi.Output<string>;
  xdsEndpoint: pulumi.Output<string>;
  edgeEntryPoints: pulumi.Output<string[]>;
  hostUrls: pulumi.Output<string[]>;
  persesUrl: pulumi.Output<string | undefined>;
}

function buildControlPlane(parent: ControlPlane, name: string, s: Settings): ControlPlaneOutputs {
  const clusterScoped: pulumi.CustomResourceOptions = { parent };
  let namespaced: pulumi.CustomResourceOptions = { parent };
  let namespace: pulumi.Output<string> = pulumi.output(s.namespace);
  if (s.createNamespace) {
    const ns = new k8s.core.v1.Namespace(`${name}-namespace`, { metadata: { name: s.namespace } }, clusterScoped);
    namespace = ns.metadata.name;
    namespaced = { parent, dependsOn: [ns] };
  }
  const after = (...deps: pulumi.Resource[]): pulumi.CustomResourceOptions => ({
    ...namespaced,
    dependsOn: [...((namespaced.dependsOn as pulumi.Resource[] | undefined) ?? []), ...deps],
  });

  // The CRDs come from the controller's YAML, the one schema the API server, controller and this component share.
  const crd = new k8s.apiextensions.v1.CustomResourceDefinition(`${name}-httptriggers-crd`, schemaCrd(HTTPTRIGGER_CRD_PATH) as unknown as k8s.apiextensions.v1.CustomResourceDefinitionArgs, clusterScoped);
  const policyCrd = new k8s.apiextensions.v1.CustomResourceDefinition(
    `${name}-hostpolicies-crd`,
    schemaCrd(HOSTPOLICY_CRD_PATH) as unknown as k8s.apiextensions.v1.CustomResourceDefinitionArgs,
    clusterScoped,
  );
  const hostPolicies = s.hostPolicy.policies.map(
    (manifest) => new k8s.apiextensions.CustomResource(`${name}-hostpolicy-${manifest.metadata.name}`, manifest, { parent, dependsOn: [policyCrd] }),
  );

  let runtime: pulumi.Resource | undefined;
  if (s.runtime.enabled) {
    runtime = new k8s.helm.v4.Chart(
      `${name}-runtime`,
      {
        ...s.runtime.chart,
        name: 'wasmcloud-runtime',
        namespace: s.namespace,
        values: mergeValues(
          // Envoy replaces the chart's deprecated runtime-gateway.
          { gateway: { enabled: false }, global: { tls: { enabled: s.runtime.natsTls } } },
          s.runtime.values,
        ),
      },
      { ...namespaced, transforms: [keepGeneratedSecrets] },
    );
  }

  const xdsTls = xdsTlsSecrets(parent, name, s, namespaced);
  new k8s.core.v1.ServiceAccount(`${name}-controller`, controller.serviceAccount(s), namespaced);
  const clusterRole = new k8s.rbac.v1.ClusterRole(`${name}-controller`, controller.clusterRole(s), clusterScoped);
  new k8s.rbac.v1.ClusterRoleBinding(`${name}-controller`, controller.clusterRoleBinding(s, clusterRole.metadata.name), clusterScoped);
  const leaseRole = new k8s.rbac.v1.Role(`${name}-controller-leases`, controller.leaseRole(s), namespaced);
  new k8s.rbac.v1.RoleBinding(`${name}-controller-leases`, controller.leaseRoleBinding(s, leaseRole.metadata.name), namespaced);
  // Its informers list both kinds before it serves, and it needs its certificate to serve at all.
  new k8s.apps.v1.Deployment(`${name}-controller`, controller.deployment(s), after(crd, policyCrd, xdsTls.controller));
  new k8s.core.v1.Service(`${name}-controller`, controller.service(s), namespaced);
  new k8s.policy.v1.PodDisruptionBudget(`${name}-controller`, podDisruptionBudget(s.namespace, CONTROLLER), namespaced);
  new k8s.networking.v1.NetworkPolicy(`${name}-controller`, controller.networkPolicy(s), namespaced);

  const bootstrap = new k8s.core.v1.ConfigMap(`${name}-envoy-bootstrap`, envoy.bootstrapConfigMap(s), namespaced);
  new k8s.apps.v1.Deployment(`${name}-envoy`, envoy.deployment(s, xdsTls.envoyCertSha256), after(bootstrap, xdsTls.envoy));
  const ingressService = new k8s.core.v1.Service(`${name}-ingress`, envoy.ingressService(s), namespaced);
  new k8s.policy.v1.PodDisruptionBudget(`${name}-envoy`, podDisruptionBudget(s.namespace, ENVOY), namespaced);
  new k8s.networking.v1.NetworkPolicy(`${name}-envoy`, envoy.networkPolicy(s), namespaced);

  if (s.perses.enabled) {
    if (!s.perses.prometheusUrl) {
      new k8s.core.v1.ServiceAccount(`${name}-prometheus`, observability.prometheusServiceAccount(s), namespaced);
      const role = new k8s.rbac.v1.Role(`${name}-prometheus`, observability.prometheusRole(s), namespaced);
      new k8s.rbac.v1.RoleBinding(`${name}-prometheus`, observability.prometheusRoleBinding(s, role.metadata.name), namespaced);
      const config = new k8s.core.v1.ConfigMap(`${name}-prometheus`, observability.prometheusConfigMap(s), namespaced);
      new k8s.apps.v1.Deployment(`${name}-prometheus`, observability.prometheusDeployment(s), after(config));
      new k8s.core.v1.Service(`${name}-prometheus`, observability.prometheusService(s), namespaced);
    }
    const provisioning = new k8s.core.v1.ConfigMap(`${name}-perses-provisioning`, observability.persesProvisioning(s), namespaced);
    new k8s.helm.v4.Chart(
      `${name}-perses`,
      {
        ...s.perses.chart,
        name: PERSES,
        namespace: s.namespace,
        values: observability.persesValues(s),
      },
      after(provisioning),
    );
  }

  const routes = edge.edgeRoutes(s);
  let traefik: pulumi.Resource | undefined;
  if (s.ingress.enabled && s.ingress.provider === IngressProvider.Traefik) {
    traefik = new k8s.helm.v4.Chart(
      `${name}-traefik`,
      {
        ...s.ingress.traefik.chart,
        name: 'traefik',
        namespace: s.namespace,
        values: edge.traefikValues(s),
      },
      namespaced,
    );
    // After the chart, so the IngressClass the Ingresses name exists.
    for (const route of routes) new k8s.networking.v1.Ingress(`${name}-ingress-${route.name}`, edge.traefikIngress(s, route), after(traefik));
  }
  if (s.ingress.enabled && s.ingress.provider === IngressProvider.Istio) {
    // Istio is a precondition, not something this component installs: reading its Gateway CRD fails the
    // preview early, under this resource's name, when Istio is missing.
    const istioInstalled = s.ingress.istio.checkInstalled
      ? [k8s.apiextensions.v1.CustomResourceDefinition.get(`${name}-requires-istio-installed`, ISTIO_GATEWAY_CRD, { parent })]
      : [];
    new k8s.apiextensions.CustomResource(`${name}-gateway`, edge.istioGateway(s, routes), after(...istioInstalled));
    for (const route of routes) {
      new k8s.apiextensions.CustomResource(`${name}-virtualservice-${route.name}`, edge.istioVirtualService(s, route), after(...istioInstalled));
    }
  }

  // The workload components order themselves after these and read the settings (see control-plane-registry.ts).
  registerControlPlane(parent, { settings: s, triggersAfter: [crd, ...hostPolicies], runtime, traefik });

  const edgeEntryPoints =
    !s.ingress.enabled && s.envoy.service.type === ServiceType.LoadBalancer
      ? ingressService.status.apply((status) => {
          const addresses = (status?.loadBalancer?.ingress ?? []).map((i) => i.hostname || i.ip).filter(Boolean);
          return (addresses.length > 0 ? addresses : ['<load balancer address pending>']).map((a) => `http://${a}:${PORTS.ingressService}`);
        })
      : pulumi.output(edge.edgeEntryPoints(s));

  const persesUrl =
    s.perses.enabled && s.ingress.enabled
      ? edge.routeUrl({ host: s.perses.host, tls: s.perses.tls })
      : s.perses.enabled
        ? `http://${serviceDns(PERSES, s.namespace)}:${PORTS.perses}/`
        : undefined;

  return {
    namespace,
    ingressServiceName: ingressService.metadata.name,
    xdsEndpoint: pulumi.output(`${serviceDns(CONTROLLER, s.namespace)}:${PORTS.controllerXds}`),
    edgeEntryPoints,
    hostUrls: pulumi.output(s.ingress.enabled ? s.ingress.hosts.map(edge.routeUrl) : []),
    persesUrl: pulumi.output(persesUrl),
  };
}
