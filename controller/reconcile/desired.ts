/**
 * What the controller writes for an HTTPTrigger: the WorkloadDeployment that
 * runs it. Pure functions; the reconciler applies the result with server-side
 * apply.
 */
import { RUNTIME_API_VERSION, TRIGGER_API_VERSION, TRIGGER_LABEL, type HostInterface, type HTTPTrigger, type WorkloadDeployment } from '../api/types';

export const FIELD_MANAGER = 'wasm-control';

/**
 * The WorkloadDeployment behind a (schema-validated, defaulted) trigger, owned by
 * it so deleting the trigger lets garbage collection remove the deployment.
 * `upstreamHost` is the Host header Envoy rewrites requests to; the workload's
 * wasi:http `config.host` must be exactly that for the host to route them.
 */
export function desiredWorkloadDeployment(trigger: HTTPTrigger, upstreamHost: string): WorkloadDeployment {
  const { metadata, spec } = trigger;
  const template = spec.template;
  const hostSelector = { ...template.spec.hostSelector, ...spec.hostSelector };
  const workloadSpec = {
    ...template.spec,
    ...(Object.keys(hostSelector).length > 0 ? { hostSelector } : {}),
    hostInterfaces: withHttpHandler(template.spec.hostInterfaces ?? [], upstreamHost),
  };
  return {
    apiVersion: RUNTIME_API_VERSION,
    kind: 'WorkloadDeployment',
    metadata: {
      name: metadata.name,
      namespace: metadata.namespace ?? 'default',
      labels: { [TRIGGER_LABEL]: metadata.name, 'app.kubernetes.io/managed-by': FIELD_MANAGER },
      ownerReferences: [
        { apiVersion: TRIGGER_API_VERSION, kind: 'HTTPTrigger', name: metadata.name, uid: metadata.uid!, controller: true, blockOwnerDeletion: true },
      ],
    },
    spec: {
      replicas: spec.replicas ?? 1,
      deployPolicy: spec.deployPolicy ?? 'RollingUpdate',
      template: {
        ...(template.annotations ? { annotations: template.annotations } : {}),
        labels: { ...template.labels, [TRIGGER_LABEL]: metadata.name },
        spec: workloadSpec,
      },
    },
  };
}

/**
 * The host interfaces with wasi:http `incoming-handler` serving `host`. The
 * runtime allows one unnamed entry per namespace:package, so an unnamed
 * wasi:http the user lists (say for `outgoing-handler`) gets the handler and
 * `config.host` merged in; a `config.host` of the user's own is kept as an alias.
 * Named wasi:http entries route elsewhere and are left alone.
 */
export function withHttpHandler(interfaces: readonly HostInterface[], host: string): HostInterface[] {
  const isUnnamedHttp = (i: HostInterface) => i.namespace === 'wasi' && i.package === 'http' && !i.name;
  const existing = interfaces.find(isUnnamedHttp);
  if (!existing) return [...interfaces, { namespace: 'wasi', package: 'http', interfaces: ['incoming-handler'], config: { host } }];
  const config: Record<string, string> = { ...existing.config, host };
  const aliases = (existing.config?.['host-aliases'] ?? '').split(',').map((a) => a.trim()).filter((a) => a !== '' && a !== host);
  const ownHost = existing.config?.host;
  if (ownHost && ownHost !== host && !aliases.includes(ownHost)) aliases.push(ownHost);
  if (aliases.length > 0) config['host-aliases'] = aliases.join(',');
  else delete config['host-aliases'];
  // `handler` is the wasi:http 0.3 export; either serves requests.
  const serves = existing.interfaces.includes('incoming-handler') || existing.interfaces.includes('handler');
  const merged: HostInterface = { ...existing, interfaces: serves ? existing.interfaces : [...existing.interfaces, 'incoming-handler'], config };
  return interfaces.map((i) => (i === existing ? merged : i));
}

/**
 * True when `actual` holds every field of `wanted` with the same value (extra
 * fields in `actual`, such as defaults the API server filled in, are allowed;
 * arrays must match item by item).
 */
export function containsFields(actual: unknown, wanted: unknown): boolean {
  if (wanted === null || typeof wanted !== 'object') return actual === wanted;
  if (Array.isArray(wanted)) {
    return Array.isArray(actual) && actual.length === wanted.length && wanted.every((w, i) => containsFields(actual[i], w));
  }
  if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return false;
  return Object.entries(wanted).every(([k, v]) => v === undefined || containsFields((actual as Record<string, unknown>)[k], v));
}

/** JSON with object keys sorted, so equal values compare equal whatever order the API server wrote them in. */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}
