/**
 * Which hosts serve each trigger: the Workloads labelled with the trigger's name
 * whose Ready condition is True, on a Host whose Ready condition is True. A
 * Workload or Host that is not Ready contributes nothing (Envoy's panic threshold
 * would still send traffic to an endpoint merely marked unhealthy).
 */
import { isIP } from 'node:net';
import { conditionIsTrue, objectKey, splitObjectKey, TRIGGER_LABEL, type Host, type Workload } from '../api/types';
import type { Diagnostic } from '../api/validate';

export interface Endpoint {
  /** IP address of the host (Host.hostname; the runtime chart sets it to the pod IP). */
  address: string;
  port: number;
  hostId: string;
}

/**
 * Each trigger's endpoints, by namespace then name: tens of thousands of lookups
 * per build need no `namespace/name` string each.
 */
export class EndpointsByTrigger {
  private readonly byNamespace = new Map<string, Map<string, Endpoint[]>>();

  /** From `namespace/name` keys, each list as given. */
  static of(entries: Iterable<readonly [string, readonly Endpoint[]]>): EndpointsByTrigger {
    const out = new EndpointsByTrigger();
    for (const [key, endpoints] of entries) {
      const [namespace, name] = splitObjectKey(key);
      for (const endpoint of endpoints) out.add(namespace, name, endpoint);
    }
    return out;
  }

  get(namespace: string, name: string): readonly Endpoint[] | undefined {
    return this.byNamespace.get(namespace)?.get(name);
  }

  add(namespace: string, name: string, endpoint: Endpoint): void {
    let byName = this.byNamespace.get(namespace);
    if (!byName) this.byNamespace.set(namespace, (byName = new Map()));
    const endpoints = byName.get(name);
    if (endpoints) endpoints.push(endpoint);
    else byName.set(name, [endpoint]);
  }

  /** Sorts each trigger's endpoints by address and port, keeping one per address and port (the last added). */
  sortEach(): void {
    // forEach, not for-of over entries: no [key, value] array per entry.
    this.byNamespace.forEach((byName) => {
      byName.forEach((endpoints, name) => {
        if (endpoints.length > 1) byName.set(name, sortedUnique(endpoints));
      });
    });
  }

  /** The triggers that have endpoints, as `namespace/name`. */
  keys(): string[] {
    const keys: string[] = [];
    this.byNamespace.forEach((byName, namespace) => byName.forEach((_, name) => keys.push(objectKey({ namespace, name }))));
    return keys;
  }
}

export interface TriggerEndpoints {
  /** Sorted by address and port, without duplicates. */
  byTrigger: EndpointsByTrigger;
  diagnostics: Diagnostic[];
}

export function triggerEndpoints(workloads: readonly Workload[], hosts: readonly Host[]): TriggerEndpoints {
  // Each Ready host once: its endpoint (one object, shared by every workload on it), or why it cannot have one.
  const readyHosts = new Map<string, Endpoint>();
  const unusableHosts = new Map<string, string>();
  for (const host of hosts) {
    if (!conditionIsTrue(host.status, 'Ready')) continue;
    const problem = endpointProblem(host);
    if (problem) unusableHosts.set(host.hostId, problem);
    else readyHosts.set(host.hostId, { address: host.hostname!, port: host.httpPort!, hostId: host.hostId });
  }
  const byTrigger = new EndpointsByTrigger();
  const diagnostics: Diagnostic[] = [];
  for (const workload of workloads) {
    const triggerName = workload.metadata.labels?.[TRIGGER_LABEL];
    const hostId = workload.status?.hostId;
    if (!triggerName || !hostId || !conditionIsTrue(workload.status, 'Ready')) continue;
    const host = readyHosts.get(hostId);
    if (!host) {
      const problem = unusableHosts.get(hostId);
      if (problem) {
        const trigger = objectKey({ namespace: workload.metadata.namespace, name: triggerName });
        diagnostics.push({ trigger, reason: 'EndpointIgnored', message: `Workload ${objectKey(workload.metadata)} runs on ${problem}` });
      }
      continue;
    }
    byTrigger.add(workload.metadata.namespace ?? 'default', triggerName, host);
  }
  byTrigger.sortEach();
  return { byTrigger, diagnostics };
}

/** By address then port; two replicas on one host are one endpoint (the last one seen). */
function sortedUnique(endpoints: Endpoint[]): Endpoint[] {
  const sorted = sortInPlace(endpoints.reverse(), compareEndpoints);
  for (let i = 1; i < sorted.length; i++) {
    if (compareEndpoints(sorted[i - 1], sorted[i]) === 0) return sorted.filter((e, j) => j === 0 || compareEndpoints(sorted[j - 1], e) !== 0);
  }
  return sorted;
}

function compareEndpoints(a: Endpoint, b: Endpoint): number {
  return compareStrings(a.address, b.address) || a.port - b.port;
}

function endpointProblem(host: Host): string | undefined {
  const name = `Host ${host.metadata.name} (${host.hostId})`;
  if (!host.httpPort) return `${name}, which has no HTTP port (its host was started without --http-addr)`;
  if (!host.hostname || isIP(host.hostname) === 0) {
    return `${name}, whose hostname "${host.hostname ?? ''}" is not an IP address (Envoy endpoints must be IPs)`;
  }
  return undefined;
}

/** The same endpoints in the same order: with the same hosts, or (`addresses`) only at the same addresses and ports, all Envoy sees. */
export function sameEndpoints(a: readonly Endpoint[], b: readonly Endpoint[], compare: 'hosts' | 'addresses' = 'hosts'): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (a[i].address !== b[i].address || a[i].port !== b[i].port || (compare === 'hosts' && a[i].hostId !== b[i].hostId)) return false;
  }
  return true;
}

/**
 * Sorts stably in place. Short arrays (a trigger's few routes or endpoints,
 * sorted thousands of times per build) by insertion: Array.prototype.sort
 * allocates its work space on every call.
 */
export function sortInPlace<T>(array: T[], compare: (a: T, b: T) => number): T[] {
  if (array.length > 16) return array.sort(compare);
  for (let i = 1; i < array.length; i++) {
    const item = array[i];
    let j = i - 1;
    for (; j >= 0 && compare(array[j], item) > 0; j--) array[j + 1] = array[j];
    array[j + 1] = item;
  }
  return array;
}

export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
