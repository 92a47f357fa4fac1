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
 * - a trigger whose namespace may not claim its host (HostPolicy) is skipped
 *   before anything else, so it never takes part in a conflict;
 * - triggers are admitted oldest first (ties by `namespace/name`); one that
 *   claims a (host, path, pathType) an admitted trigger holds is skipped whole.
 *
 * A resolver remembers what it built per input object, so that when one trigger
 * changes among thousands, unchanged virtual hosts and clusters are the very same
 * objects as before and later stages can reuse their encodings.
 */
import type { HostOwnership, HostVerdict } from '../api/host-policy';
import { checkedHTTPTrigger, type Diagnostic, type ValidPath, type ValidTrigger } from '../api/validate';
import { Admission, claimKey } from './admission';
import { compareStrings, sameEndpoints, sortInPlace, type Endpoint, type EndpointsByTrigger } from './endpoints';

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
  endpoints: EndpointsByTrigger;
  /** Who may claim which host; absent: anyone may claim any host. */
  hostOwnership?: HostOwnership;
}

/**
 * The cluster (and EDS service) name of a trigger: its `namespace/name`, kept
 * short since every route repeats it.
 */
export function clusterName(trigger: { namespace: string; name: string; key?: string }): string {
  // A validated trigger's key is this very string, already built (and hashed by the maps that used it).
  return trigger.key ?? `${trigger.namespace}/${trigger.name}`;
}

const NO_ENDPOINTS: readonly Endpoint[] = [];

export class Resolver {
  private readonly admission = new Admission();
  /** Last run's valid triggers in input order, and in admission order with each one's position. */
  private lastValid: ValidTrigger[] = [];
  private lastSorted: ValidTrigger[] = [];
  /** Each of lastSorted's positions, made when an edit first needs it (a first build never does). */
  private sortedIndexCache?: Map<ValidTrigger, number>;
  private hosts = new Map<string, { triggers: readonly ValidTrigger[]; model: VirtualHostModel; index: number }>();
  private hostOrder: string[] = [];
  private clusters = new Map<string, ClusterModel & { index: number }>();
  private clusterOrder: string[] = [];
  private last?: { admitted: ValidTrigger[]; endpoints: EndpointsByTrigger; model: RoutingModel };
  /** Each trigger's host verdict under one HostOwnership: a resolve after one edit checks one trigger. */
  private verdicts?: { ownership: HostOwnership; byTrigger: WeakMap<ValidTrigger, HostVerdict> };

  resolve(input: ResolveInput): RoutingModel {
    const diagnostics: Diagnostic[] = [];
    const valid: ValidTrigger[] = [];
    const ownership = input.hostOwnership?.allowsEverything ? undefined : input.hostOwnership;
    for (const object of input.triggers) {
      const check = checkedHTTPTrigger(object);
      if (!check.ok) {
        diagnostics.push(check.diagnostic);
        continue;
      }
      const verdict = ownership && this.verdict(ownership, check.trigger);
      if (verdict && verdict.allowed === false) diagnostics.push({ trigger: check.trigger.key, reason: 'HostNotAllowed', message: verdict.message });
      else valid.push(check.trigger);
    }
    const { sorted, replaced } = this.admissionOrder(valid);
    const admission = replaced
      ? this.admission.update(sorted, replaced, (t) => this.sortedIndex.get(t)!)
      : this.admission.admitAll(sorted);
    const admitted = admission.admitted;
    diagnostics.push(...admission.diagnostics);

    const model = this.patched(admitted, input.endpoints, diagnostics) ?? {
      virtualHosts: this.buildVirtualHosts(),
      clusters: this.buildClusters(admitted, input.endpoints),
      admitted,
      diagnostics,
    };
    this.last = { admitted, endpoints: input.endpoints, model };
    return model;
  }

  private verdict(ownership: HostOwnership, trigger: ValidTrigger): HostVerdict {
    if (this.verdicts?.ownership !== ownership) this.verdicts = { ownership, byTrigger: new WeakMap() };
    let verdict = this.verdicts.byTrigger.get(trigger);
    if (!verdict) {
      verdict = ownership.check(trigger.namespace, trigger.host);
      this.verdicts.byTrigger.set(trigger, verdict);
    }
    return verdict;
  }

  /**
   * The usual change — a few admitted triggers edited in place (same name and
   * host), the rest and the endpoints untouched — patches last run's virtual
   * hosts and clusters instead of regrouping and re-sorting thousands.
   */
  private patched(admitted: ValidTrigger[], endpoints: EndpointsByTrigger, diagnostics: Diagnostic[]): RoutingModel | undefined {
    const last = this.last;
    if (!last || last.endpoints !== endpoints || last.admitted.length !== admitted.length) return undefined;
    const replaced: [ValidTrigger, ValidTrigger][] = [];
    for (let i = 0; i < admitted.length; i++) {
      const [before, now] = [last.admitted[i], admitted[i]];
      if (before === now) continue;
      if (before.key !== now.key || before.host !== now.host || replaced.length >= 64) return undefined;
      replaced.push([before, now]);
    }
    const virtualHosts = last.model.virtualHosts.slice();
    const clusters = last.model.clusters.slice();
    for (const [before, now] of replaced) {
      const group = this.hosts.get(now.host)!;
      const triggers = group.triggers.map((t) => (t === before ? now : t));
      const vh = { triggers, model: virtualHost(now.host, triggers), index: group.index };
      this.hosts.set(now.host, vh);
      virtualHosts[vh.index] = vh.model;
      const name = clusterName(now);
      const cluster = { name, trigger: now, endpoints: endpoints.get(now.namespace, now.name) ?? NO_ENDPOINTS, index: this.clusters.get(name)!.index };
      this.clusters.set(name, cluster);
      clusters[cluster.index] = cluster;
    }
    return { virtualHosts, clusters, admitted, diagnostics };
  }

  /**
   * Valid triggers, oldest first. When the input is last run's with a few
   * triggers replaced by edits that keep their name and creation time (the usual
   * change), the previous order is patched instead of sorting again.
   */
  private admissionOrder(valid: ValidTrigger[]): { sorted: ValidTrigger[]; replaced?: [ValidTrigger, ValidTrigger][] } {
    const last = this.lastValid;
    this.lastValid = valid;
    if (valid.length === last.length && !this.admission.hasDuplicateKeys) {
      const replaced: [ValidTrigger, ValidTrigger][] = [];
      let patchable = true;
      for (let i = 0; i < valid.length && patchable; i++) {
        if (valid[i] === last[i]) continue;
        const at = this.sortedIndex.get(last[i]);
        patchable = at !== undefined && valid[i].key === last[i].key && valid[i].createdAt === last[i].createdAt && replaced.length < 64;
        replaced.push([last[i], valid[i]]);
      }
      if (patchable) {
        const sorted = this.lastSorted.slice();
        for (const [before, now] of replaced) {
          const at = this.sortedIndex.get(before)!;
          sorted[at] = now;
          this.sortedIndex.delete(before);
          this.sortedIndex.set(now, at);
        }
        this.lastSorted = sorted;
        return { sorted, replaced };
      }
    }
    const sorted = valid.slice().sort(compareAdmissionOrder);
    this.sortedIndexCache = undefined;
    this.lastSorted = sorted;
    return { sorted };
  }

  private get sortedIndex(): Map<ValidTrigger, number> {
    if (!this.sortedIndexCache) {
      const index = new Map<ValidTrigger, number>();
      this.lastSorted.forEach((t, i) => index.set(t, i));
      this.sortedIndexCache = index;
    }
    return this.sortedIndexCache;
  }

  /** Virtual hosts are rebuilt only when the triggers on their host changed; host order is kept while the set of hosts is. */
  private buildVirtualHosts(): VirtualHostModel[] {
    const previous = this.hosts;
    let sameHosts = true;
    this.hosts = new Map();
    this.admission.forEachAdmittedHost((triggers, host) => {
      const before = previous.get(host);
      if (!before) sameHosts = false;
      const unchanged = before && (before.triggers === triggers || (before.triggers.length === triggers.length && before.triggers.every((t, i) => t === triggers[i])));
      this.hosts.set(host, unchanged ? before : { triggers, model: virtualHost(host, triggers), index: -1 });
    });
    // The default sort compares UTF-16 code units, like compareStrings, without a call per comparison.
    if (!sameHosts || this.hosts.size !== previous.size) this.hostOrder = [...this.hosts.keys()].sort();
    return this.hostOrder.map((host, index) => {
      const entry = this.hosts.get(host)!;
      entry.index = index;
      return entry.model;
    });
  }

  /** Clusters are rebuilt only when their trigger or its endpoints changed; name order is kept while the set of names is. */
  private buildClusters(admitted: ValidTrigger[], endpointsByTrigger: EndpointsByTrigger): ClusterModel[] {
    const previous = this.clusters;
    let sameNames = admitted.length === previous.size;
    this.clusters = new Map();
    for (const trigger of admitted) {
      const name = clusterName(trigger);
      const endpoints = endpointsByTrigger.get(trigger.namespace, trigger.name) ?? NO_ENDPOINTS;
      const before = previous.get(name);
      if (!before) sameNames = false;
      this.clusters.set(
        name,
        before && before.trigger === trigger && sameEndpoints(before.endpoints, endpoints) ? before : { name, trigger, endpoints, index: -1 },
      );
    }
    if (!sameNames) this.clusterOrder = [...this.clusters.keys()].sort();
    return this.clusterOrder.map((name, index) => {
      const entry = this.clusters.get(name)!;
      entry.index = index;
      return entry;
    });
  }
}

/** Resolves with a fresh resolver (no reuse across calls). */
export function resolveRoutes(input: ResolveInput): RoutingModel {
  return new Resolver().resolve(input);
}

function virtualHost(host: string, triggers: readonly ValidTrigger[]): VirtualHostModel {
  // Mapped to size when the host has one trigger (nearly always): a pushed-to array keeps room for 17.
  const routes: RouteModel[] =
    triggers.length === 1 ? triggers[0].paths.map((match) => ({ match, trigger: triggers[0], cluster: clusterName(triggers[0]) })) : [];
  if (triggers.length > 1) {
    for (const trigger of triggers) {
      const cluster = clusterName(trigger);
      for (const match of trigger.paths) routes.push({ match, trigger, cluster });
    }
  }
  sortInPlace(routes, compareRoutes);
  return { host, wildcard: host.startsWith('*.'), routes };
}

function compareRoutes(a: RouteModel, b: RouteModel): number {
  return compareRoutePrecedence(a.match, b.match);
}

/** Exact before Prefix; longer Prefix first; then by path for a stable order. */
function compareRoutePrecedence(a: ValidPath, b: ValidPath): number {
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
