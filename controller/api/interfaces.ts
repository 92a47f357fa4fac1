/**
 * Interface-aware placement: does a host provide every interface a workload
 * declares? The same rule the wasmCloud host applies when it starts a workload
 * (namespace and package equal, every interface name present in one entry of
 * that package, versions equal when both sides give one). Shared by the
 * controller (NATS heartbeats) and the Pulumi components (host groups).
 */
import type { HostInterface } from './types';

/** An interface a host advertises (HostHeartbeat imports/exports, or a host group's declared set). */
export interface AdvertisedInterface {
  namespace: string;
  package: string;
  version?: string;
  interfaces: string[];
}

/** `wasi:http/incoming-handler,outgoing-handler@0.2.0` */
export function formatInterface(i: { namespace: string; package: string; version?: string; interfaces: readonly string[] }): string {
  return `${i.namespace}:${i.package}/${i.interfaces.join(',')}${i.version ? `@${i.version}` : ''}`;
}

/** The declared interfaces (or the parts of them) that no advertised entry provides. */
export function missingInterfaces(declared: readonly HostInterface[], advertised: readonly AdvertisedInterface[]): HostInterface[] {
  const missing: HostInterface[] = [];
  for (const wanted of declared) {
    const candidates = advertised.filter(
      (a) => a.namespace === wanted.namespace && a.package === wanted.package && (!a.version || !wanted.version || a.version === wanted.version),
    );
    const absent = wanted.interfaces.filter((name) => !candidates.some((a) => a.interfaces.includes(name)));
    if (absent.length > 0) missing.push({ ...wanted, interfaces: absent });
  }
  return missing;
}

/** What to do about missing interfaces, in words a user can act on. */
export function placementFix(missing: readonly HostInterface[]): string {
  if (missing.some((m) => m.namespace === 'wasi' && m.package === 'webgpu')) {
    return 'wasi:webgpu needs a GPU host group (hostgroup chart gpu=true, or a HostGroup with gpu: true) selected by hostSelector';
  }
  return 'select a host group that provides them (hostSelector), or remove the interfaces the components do not import: a declared interface the host lacks blocks placement even if unused';
}
