/**
 * The edge in front of Envoy: Traefik's chart values and one Ingress per host,
 * or an Istio Gateway with one VirtualService per host; both also route the
 * Perses host to Perses.
 */
import * as k8s from '@pulumi/kubernetes';
import { mergeValues } from './chart-values';
import { INGRESS_SERVICE, labels, objectNameForHost, PERSES, PORTS, serviceDns } from './names';
import { HostSettings, Settings, TlsSettings } from './settings';

export const TRAEFIK_INGRESS_CLASS = 'traefik';

/** A host the edge routes, and the Service behind it. */
export interface EdgeRoute extends HostSettings {
  /** Name of the edge object (Ingress, VirtualService). */
  name: string;
  service: string;
  port: number;
}

/** The routes the edge carries: each `ingress.hosts` entry to Envoy, and the Perses host to Perses. */
export function edgeRoutes(s: Settings): EdgeRoute[] {
  const routes: EdgeRoute[] = s.ingress.hosts.map((h) => ({ ...h, name: objectNameForHost(h.host), service: INGRESS_SERVICE, port: PORTS.ingressService }));
  if (s.perses.enabled && s.ingress.enabled) routes.push({ host: s.perses.host, tls: s.perses.tls, name: PERSES, service: PERSES, port: PORTS.perses });
  return routes;
}

export function traefikValues(s: Settings): Record<string, unknown> {
  const t = s.ingress.traefik;
  return mergeValues(
    {
      ingressClass: { enabled: true, isDefaultClass: true, name: TRAEFIK_INGRESS_CLASS },
      providers: { kubernetesIngress: { enabled: true } },
      service: { type: 'NodePort' },
      ports: { web: { nodePort: t.httpNodePort }, websecure: { nodePort: t.httpsNodePort } },
    },
    t.values,
  );
}

/** The annotations the product documentation puts on every Ingress, plus TLS when the host has it. */
export function traefikAnnotations(tls: TlsSettings | undefined): Record<string, string> {
  return {
    // "web" is HTTP, "websecure" HTTPS; a TLS router only answers on websecure.
    'traefik.ingress.kubernetes.io/router.entrypoints': tls ? 'websecure' : 'web,websecure',
    'traefik.ingress.kubernetes.io/router.observability.accesslogs': 'true',
    'traefik.ingress.kubernetes.io/router.observability.metrics': 'true',
    'traefik.ingress.kubernetes.io/router.observability.tracing': 'true',
    ...(tls ? { 'traefik.ingress.kubernetes.io/router.tls': 'true' } : {}),
    ...(tls?.certResolver ? { 'traefik.ingress.kubernetes.io/router.tls.certresolver': tls.certResolver } : {}),
  };
}

export function traefikIngress(s: Settings, route: EdgeRoute): k8s.networking.v1.IngressArgs {
  return {
    metadata: { name: route.name, namespace: s.namespace, labels: labels('edge'), annotations: traefikAnnotations(route.tls) },
    spec: {
      ingressClassName: TRAEFIK_INGRESS_CLASS,
      ...(route.tls?.secretName ? { tls: [{ hosts: [route.host], secretName: route.tls.secretName }] } : {}),
      rules: [
        {
          host: route.host,
          http: {
            paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: route.service, port: { number: route.port } } } }],
          },
        },
      ],
    },
  };
}

/** Plain HTTP for every routed host on port 80, and an HTTPS server per TLS host (SNI picks the certificate). */
export function istioGateway(s: Settings, routes: EdgeRoute[]): k8s.apiextensions.CustomResourceArgs {
  const tlsRoutes = routes.filter((r) => r.tls);
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'Gateway',
    metadata: { name: s.ingress.istio.gatewayName, namespace: s.namespace, labels: labels('edge') },
    spec: {
      selector: s.ingress.istio.ingressGatewaySelector,
      servers: [
        { port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: routes.map((r) => r.host) },
        ...tlsRoutes.map((r) => ({
          port: { number: 443, name: `https-${r.name}`, protocol: 'HTTPS' },
          hosts: [r.host],
          tls: { mode: 'SIMPLE', credentialName: r.tls!.secretName },
        })),
      ],
    },
  };
}

export function istioVirtualService(s: Settings, route: EdgeRoute): k8s.apiextensions.CustomResourceArgs {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name: route.name, namespace: s.namespace, labels: labels('edge') },
    spec: {
      hosts: [route.host],
      gateways: [s.ingress.istio.gatewayName],
      http: [{ route: [{ destination: { host: serviceDns(route.service, s.namespace), port: { number: route.port } } }] }],
    },
  };
}

/** Where traffic enters the cluster, for the `edgeEntryPoints` output (a LoadBalancer's address is filled in later). */
export function edgeEntryPoints(s: Settings): string[] {
  const anyTls = edgeRoutes(s).some((r) => r.tls);
  if (s.ingress.enabled && s.ingress.provider === 'traefik') {
    const { httpNodePort, httpsNodePort } = s.ingress.traefik;
    return [`http://<node address>:${httpNodePort}`, `https://<node address>:${httpsNodePort}`];
  }
  if (s.ingress.enabled) {
    const gateway = Object.entries(s.ingress.istio.ingressGatewaySelector).map(([k, v]) => `${k}=${v}`).join(',');
    return [`http://<istio ingress gateway ${gateway}>:80`, ...(anyTls ? [`https://<istio ingress gateway ${gateway}>:443`] : [])];
  }
  const { type, httpNodePort } = s.envoy.service;
  if (type === 'NodePort') return [`http://<node address>:${httpNodePort ?? '<assigned node port>'}`];
  if (type === 'LoadBalancer') return [];
  return [`http://${serviceDns(INGRESS_SERVICE, s.namespace)}:${PORTS.ingressService}`];
}


/** The URL a routed host answers on. */
export function routeUrl(route: HostSettings): string {
  return `${route.tls ? 'https' : 'http'}://${route.host}/`;
}
