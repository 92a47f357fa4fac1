/**
 * Route resolution: from HTTPTriggers and the endpoints serving them to a routing
 * model (virtual hosts with ordered routes, clusters with endpoints) plus
 * diagnostics. Pure: no I/O, no gRPC, no Kubernetes client.
 *
 * Rules (Kubernetes Ingress semantics, Gateway API tie-breaks):
 * - one virtual host per distinct host; exact hosts and `*.suffix` wildcards
 *   (one label) are separate virtual hosts;
 * - within a virtual host, Exact routes come first, then Prefix routes by
 *   descending path length, so the first match is the most specific;
 * - triggers are admitted oldest first (ties by `namespace/name`); one that
 *   claims a (host, path, pathType) an admitted trigger holds is skipped whole.
 *
 * A resolver remembers what it built per input object, so that when one trigger
 * changes among thousands, unchanged virtual hosts and clusters are the very same
 * objects as before and later stages can reuse their encodings.
 */
import { checkHTTPTrigger, type Diagnostic, type TriggerCheck, type ValidPath, type ValidTrigger } from '../api/validate';
import { compareStrings, type Endpoint } from './endpoints';

export interface RouteModel {
  match: ValidPath;
  trigger: ValidTrigger;
  cluster: string;
}

export interface VirtualHostModel {
  host: string;
  wildcard: boolean;
  routes: RouteModel[];
}

export interface ClusterModel {
  name: string;
  trigger: ValidTrigger;
  endpoints: readonly Endpoint[];
}

export interface RoutingModel {
  /** Sorted by host. */
  virtualHosts: VirtualHostModel[];
  /** One per admitted trigger, sorted by name. */
  clusters: ClusterModel[];
  /** Admitted triggers, oldest first. */
  admitted: ValidTrigger[];
  diagnostics: Diagnostic[];
}

export interface ResolveInput {
  /** HTTPTrigger manifests as read; malformed ones become diagnostics. Keys (`namespace/name`) should be unique. */
  triggers: readonly unknown[];
  /** Endpoints by trigger `namespace/name`. */
  endpoints: ReadonlyMap<string, readonly Endpoint[]>;
}

/**
 * The cluster (and EDS service) name of a trigger: its `namespace/name`, kept
 * short since every route repeats it.
 */
export function clusterName(trigger: { namespace: string; name: string }): string {
  return `${trigger.namespace}/${trigger.name}`;
}

const NO_ENDPOINTS: readonly Endpoint[] = [];

export class Resolver {
  private readonly checks = new WeakMap<object, TriggerCheck>();
  private readonly triggerIds = new WeakMap<ValidTrigger, number>();
  private nextTriggerId = 0;
  private virtualHosts = new Map<string, VirtualHostModel>();
  private clusters = new Map<ValidTrigger, ClusterModel>();

  resolve(input: ResolveInput): RoutingModel {
    const diagnostics: Diagnostic[] = [];
    const valid: ValidTrigger[] = [];
    for (const object of input.triggers) {
      const check = this.check(object);
      if (check.ok) valid.push(check.trigger);
      else diagnostics.push(check.diagnostic);
    }
    valid.sort(compareAdmissionOrder);

    const claims = new Map<string, ValidTrigger>();
    const admitted: ValidTrigger[] = [];
    const seenKeys = new Set<string>();
    for (const trigger of valid) {
      if (seenKeys.has(trigger.key)) {
        diagnostics.push({ trigger: trigger.key, reason: 'Invalid', message: `HTTPTrigger ${trigger.key} is defined more than once; only the oldest is used` });
        continue;
      }
      seenKeys.add(trigger.key);
      const taken = trigger.paths.map((p) => ({ p, holder: claims.get(claimKey(trigger.host, p)) })).filter((c) => c.holder);
      if (taken.length > 0) {
        const winner = taken[0].holder!;
        diagnostics.push({
          trigger: trigger.key,
          reason: 'Conflict',
          winner: winner.key,
          message: `host ${trigger.host} path ${taken.map((c) => `${c.p.path} (${c.p.type})`).join(', ')} is already routed to HTTPTrigger ${winner.key}, which is older; change this trigger's host or paths (the whole trigger is skipped)`,
        });
        continue;
      }
      for (const p of trigger.paths) claims.set(claimKey(trigger.host, p), trigger);
      admitted.push(trigger);
    }

    return {
      virtualHosts: this.buildVirtualHosts(admitted),
      clusters: this.buildClusters(admitted, input.endpoints),
      admitted,
      diagnostics,
    };
  }

  private check(object: unknown): TriggerCheck {
    if (object === null || typeof object !== 'object') return checkHTTPTrigger(object);
    let check = this.checks.get(object);
    if (!check) {
      check = checkHTTPTrigger(object);
      this.checks.set(object, check);
    }
    return check;
  }

  private triggerId(trigger: ValidTrigger): number {
    let id = this.triggerIds.get(trigger);
    if (id === undefined) this.triggerIds.set(trigger, (id = this.nextTriggerId++));
    return id;
  }

  /** Virtual hosts are rebuilt only when the set of triggers on their host changed. */
  private buildVirtualHosts(admitted: ValidTrigger[]): VirtualHostModel[] {
    const byHost = new Map<string, ValidTrigger[]>();
    for (const trigger of admitted) {
      const list = byHost.get(trigger.host);
      if (list) list.push(trigger);
      else byHost.set(trigger.host, [trigger]);
    }
    const previous = this.virtualHosts;
    const next = new Map<string, VirtualHostModel>();
    for (const [host, triggers] of byHost) {
      const memoKey = `${host}\n${triggers.map((t) => this.triggerId(t)).join(',')}`;
      next.set(memoKey, previous.get(memoKey) ?? virtualHost(host, triggers));
    }
    this.virtualHosts = next;
    return [...next.values()].sort((a, b) => compareStrings(a.host, b.host));
  }

  /** Clusters are rebuilt only when their trigger or its endpoints changed. */
  private buildClusters(admitted: ValidTrigger[], endpointsByTrigger: ReadonlyMap<string, readonly Endpoint[]>): ClusterModel[] {
    const previous = this.clusters;
    const next = new Map<ValidTrigger, ClusterModel>();
    for (const trigger of admitted) {
      const endpoints = endpointsByTrigger.get(trigger.key) ?? NO_ENDPOINTS;
      const before = previous.get(trigger);
      next.set(
        trigger,
        before && sameEndpoints(before.endpoints, endpoints) ? before : { name: clusterName(trigger), trigger, endpoints },
      );
    }
    this.clusters = next;
    return [...next.values()].sort((a, b) => compareStrings(a.name, b.name));
  }
}

/** Resolves with a fresh resolver (no reuse across calls). */
export function resolveRoutes(input: ResolveInput): RoutingModel {
  return new Resolver().resolve(input);
}

function virtualHost(host: string, triggers: ValidTrigger[]): VirtualHostModel {
  const routes: RouteModel[] = [];
  for (const trigger of triggers) {
    const cluster = clusterName(trigger);
    for (const match of trigger.paths) routes.push({ match, trigger, cluster });
  }
  routes.sort((a, b) => compareRoutePrecedence(a.match, b.match));
  return { host, wildcard: host.startsWith('*.'), routes };
}

/** Exact before Prefix; longer Prefix first; then by path for a stable order. */
export function compareRoutePrecedence(a: ValidPath, b: ValidPath): number {
  if (a.type !== b.type) return a.type === 'Exact' ? -1 : 1;
  if (a.type === 'Prefix' && a.path.length !== b.path.length) return prefixLength(b.path) - prefixLength(a.path);
  return compareStrings(a.path, b.path);
}

/** "/" matches everything, so it sorts after every other prefix. */
function prefixLength(path: string): number {
  return path === '/' ? 0 : path.length;
}

function compareAdmissionOrder(a: ValidTrigger, b: ValidTrigger): number {
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? -1 : 1;
  return compareStrings(a.key, b.key) || compareStrings(JSON.stringify(a.source), JSON.stringify(b.source));
}

/**
 * Every (host, path, pathType) claimed by more than one trigger, with all the
 * claimants: what can be reported before the triggers exist (and so before
 * "oldest wins" can decide).
 */
export function routeClaimCollisions(triggers: readonly ValidTrigger[]): { host: string; match: ValidPath; triggers: string[] }[] {
  const claims = new Map<string, { host: string; match: ValidPath; triggers: string[] }>();
  for (const t of triggers) {
    for (const p of t.paths) {
      const key = claimKey(t.host, p);
      const claim = claims.get(key) ?? { host: t.host, match: p, triggers: [] };
      claim.triggers.push(t.key);
      claims.set(key, claim);
    }
  }
  return [...claims.values()].filter((c) => c.triggers.length > 1);
}

function claimKey(host: string, p: ValidPath): string {
  return `${host} ${p.type} ${p.path}`;
}

function sameEndpoints(a: readonly Endpoint[], b: readonly Endpoint[]): boolean {
  return a === b || (a.length === b.length && a.every((e, i) => e.address === b[i].address && e.port === b[i].port && e.hostId === b[i].hostId));
}
