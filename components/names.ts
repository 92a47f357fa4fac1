/** Object names, ports and labels the control plane's pieces refer to each other by. */
import { createHash } from 'node:crypto';
import { CONTROLLER_PORTS } from '../controller/address';

export const CONTROLLER = 'wasm-control-controller';
export const ENVOY = 'wasm-control-envoy';
export const PROMETHEUS = 'wasm-control-prometheus';
/** The Service in front of Envoy; the name is part of the product (docs, user Ingresses). */
export const INGRESS_SERVICE = 'ingress';
/** The Perses chart's release name; its Service gets the same name. */
export const PERSES = 'perses';

export const PORTS = {
  controllerXds: CONTROLLER_PORTS.xds,
  controllerAdmin: CONTROLLER_PORTS.admin,
  /** Loopback only: the controller's /debug views. */
  controllerDebug: CONTROLLER_PORTS.debug,
  envoyHttp: 8080,
  envoyAdmin: 9901,
  ingressService: 80,
  perses: 8080,
  prometheus: 9090,
} as const;

/** Labels on every object; `app.kubernetes.io/name` tells the pieces apart (and Prometheus keys on it). */
export function labels(component: string): Record<string, string> {
  return { ...selector(component), 'app.kubernetes.io/managed-by': 'pulumi' };
}

export function selector(component: string): Record<string, string> {
  return { 'app.kubernetes.io/name': component, 'app.kubernetes.io/part-of': 'wasm-control' };
}

export function serviceDns(service: string, namespace: string): string {
  return `${service}.${namespace}.svc.cluster.local`;
}

/**
 * A DNS-1123 label for the edge objects of a host: `hello.example.com` →
 * `hello-example-com`, `*.example.com` → `wildcard-example-com`; long names are
 * cut and made unique with a hash of the host.
 */
export function objectNameForHost(host: string): string {
  const name = host.replace(/^\*\./, 'wildcard.').replace(/\./g, '-');
  if (name.length <= 63) return name;
  const hash = createHash('sha256').update(host).digest('hex').slice(0, 8);
  return `${name.slice(0, 54).replace(/-+$/, '')}-${hash}`;
}
