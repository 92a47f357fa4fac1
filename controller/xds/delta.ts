/**
 * Delta (incremental) xDS: `DeltaAggregatedResources`.
 *
 * Each stream keeps, per type, what the client holds as a reference to a shared
 * resource map (`has`: usually the snapshot's own map) plus a few per-stream
 * exceptions (`overrides`: names subscribed but not yet sent, versions the client
 * reported in `initial_resource_versions`, API listeners, held removals). On a
 * snapshot change the streams at the same state share one diff and one encoded
 * response (shared.ts); only streams with exceptions walk their names.
 *
 * Rules: per-resource versions are content hashes (`EncodedResource.version`), so
 * a client reconnecting with `initial_resource_versions` after a restart is sent
 * nothing it already has; wildcard is `*` or an empty first request (legacy);
 * a subscribed name that does not exist is answered in `removed_resources`;
 * a type's first request is answered even when there is nothing to send;
 * a NACKed response is not sent again (the client is taken to hold what it was
 * sent, as in SotW, until the snapshot changes); an ACK or NACK carrying a stale
 * nonce is ignored, but its subscription changes are applied (delta requests are
 * not repeated, unlike SotW's); removed clusters and endpoints are announced only
 * after the client has ACKed routes that no longer use them.
 */
import type * as grpc from '@grpc/grpc-js';
import { TypeUrl, type ResourceTypeUrl } from '../envoy/protos';
import { ROUTE_CONFIG_NAME } from '../envoy/translate';
import { EMPTY_RESOURCES, NO_NAMES, type Diff, type ResourceMap } from './shared';
import type { EncodedResource, Snapshot, TypeSnapshot } from './snapshot';
import { awaitingAnswer, HELD_TYPES, XdsStream, type ClientStatus, type StreamHost, type TypeRecord } from './stream';

/** What Envoy says of itself in every stream's first request (source/server/server.cc). */
export interface NodeIdentity {
  id?: string;
  user_agent_name?: string;
  user_agent_build_version?: { version?: { major_number?: number; minor_number?: number; patch?: number } };
}

export interface DeltaDiscoveryRequest {
  node?: NodeIdentity;
  type_url?: string;
  resource_names_subscribe?: string[];
  resource_names_unsubscribe?: string[];
  initial_resource_versions?: Record<string, string>;
  response_nonce?: string;
  error_detail?: { code?: number; message?: string };
}

interface DeltaState extends TypeRecord {
  wildcard: boolean;
  /** Names subscribed explicitly; a set shared with streams that subscribed the same (shared.ts `names`). */
  names: ReadonlySet<string>;
  /** What the client holds, for subscribed names, unless `overrides` says otherwise. */
  has: ResourceMap;
  /** Per-stream exceptions to `has`: the version the client holds, or null for none. */
  overrides: Map<string, string | null>;
}

/**
 * The first Envoy release certain to take VHDS with an `ads` config source
 * (envoy PR #42812, merged in January 2026, between 1.37.0 and 1.38.0): older
 * ones refuse it ("vhds: only 'DELTA_GRPC' is supported as an api_type") and
 * NACK the route table.
 */
export const VHDS_OVER_ADS_SINCE = { major: 1, minor: 38 };

/** Whether this client takes the route table's virtual hosts over VHDS on the ADS stream. */
export function takesVhdsOverAds(node: NodeIdentity | undefined): boolean {
  if (node?.user_agent_name !== 'envoy') return false;
  const version = node.user_agent_build_version?.version;
  const major = Number(version?.major_number ?? 0);
  const minor = Number(version?.minor_number ?? 0);
  return major > VHDS_OVER_ADS_SINCE.major || (major === VHDS_OVER_ADS_SINCE.major && minor >= VHDS_OVER_ADS_SINCE.minor);
}

export class DeltaStream extends XdsStream<DeltaDiscoveryRequest, DeltaState> {
  /**
   * Decided by the stream's first request: Envoys that take VHDS over ADS get
   * the route table without virtual hosts and each virtual host on its own;
   * every other client (older Envoys, gRPC) gets the table whole, as in SotW.
   */
  private vhds?: boolean;

  constructor(id: number, call: grpc.ServerDuplexStream<DeltaDiscoveryRequest, Buffer>, host: StreamHost) {
    super(id, 'delta', call, host);
  }

  /** The resources this stream is served: the snapshot's VHDS variant, or its types as SotW has them. */
  private served(snapshot: Snapshot): ReadonlyMap<ResourceTypeUrl, TypeSnapshot> {
    return this.vhds ? snapshot.deltaTypes : snapshot.types;
  }

  protected override routeDelivery(): ClientStatus['routes'] {
    return this.vhds ? 'vhds' : 'inline';
  }

  protected handleType(typeUrl: ResourceTypeUrl, request: DeltaDiscoveryRequest): void {
    this.vhds ??= takesVhdsOverAds(request.node);
    let state = this.types.get(typeUrl);
    const first = !state;
    if (!state) this.types.set(typeUrl, (state = { acked: true, wildcard: false, names: NO_NAMES, has: EMPTY_RESOURCES, overrides: new Map() }));

    let answered = false;
    if (request.response_nonce && request.response_nonce === state.sentNonce && awaitingAnswer(state)) {
      this.record(typeUrl, state, request.error_detail, undefined);
      answered = true;
    }

    const subscribe = request.resource_names_subscribe ?? [];
    const unsubscribe = request.resource_names_unsubscribe ?? [];
    const fresh = new Set<string>();
    const initial = request.initial_resource_versions ?? {};
    // What a client says it holds is bounded like what it subscribes (it is kept until answered).
    if (first && !this.withinLimits(typeUrl, Object.keys(initial).length)) return;
    if (first && subscribe.length === 0 && !unsubscribe.includes('*')) state.wildcard = true; // legacy wildcard
    for (const name of subscribe) {
      if (isWildcardName(typeUrl, name)) {
        state.wildcard = true;
      } else if (!state.names.has(name) && !fresh.has(name)) {
        fresh.add(name);
        if (!state.wildcard) state.overrides.set(name, initial[name] ?? null);
      }
    }
    if (first) {
      // What the client kept from an earlier stream: not sent again if unchanged.
      for (const [name, version] of Object.entries(initial)) state.overrides.set(name, version);
    }
    const dropped: string[] = [];
    for (const name of unsubscribe) {
      if (isWildcardName(typeUrl, name)) state.wildcard = false;
      else if ((state.names.has(name) || fresh.has(name)) && !dropped.includes(name)) {
        dropped.push(name);
        if (!state.wildcard) state.overrides.delete(name);
      }
    }
    if (!this.withinLimits(typeUrl, state.names.size + fresh.size - dropped.length)) return;
    state.names = this.host.shared.names(state.names, [...fresh], dropped);

    if (first || fresh.size > 0 || unsubscribe.length > 0 || subscribe.some((n) => isWildcardName(typeUrl, n))) this.pushType(typeUrl, state, fresh);
    // An answer releases whatever waited for it (newer content, later types, routes held for new
    // clusters, removals held back for the old routes); a NACKed version itself is not resent.
    if (answered) this.push();
  }

  /**
   * Sends what the client lacks or holds in another version, and what it holds
   * that no longer exists. `fresh` names were just subscribed: one that does not
   * exist is reported removed so the client need not wait for a timeout.
   */
  /** Conservative: a stream with per-name exceptions is taken to have something newer. */
  protected hasNewer(typeUrl: ResourceTypeUrl, state: DeltaState): boolean {
    if (state.overrides.size > 0) return true;
    const snapshot = this.host.currentSnapshot();
    const current = snapshot && this.served(snapshot).get(typeUrl)?.resources;
    if (!current || current === state.has) return false;
    const diff = this.host.shared.diff(state.has, current);
    return diff.updated.length > 0 || diff.removed.length > 0;
  }

  protected pushType(typeUrl: ResourceTypeUrl, state: DeltaState, fresh?: ReadonlySet<string>): void {
    const snapshot = this.host.currentSnapshot();
    if (!snapshot || this.routesMustWait(typeUrl)) return;
    const base = this.served(snapshot).get(typeUrl);
    if (!base) return;
    const hold = HELD_TYPES.has(typeUrl) && !this.routesSettled();
    const shared = this.host.shared;
    // Nothing to send is still an answer to a type's first request: a client
    // (Envoy) otherwise waits out its initial fetch timeout (15 s) before its
    // clusters, and so its listeners, can finish initialising.
    const mustAnswer = state.sentNonce === undefined;
    if (state.overrides.size === 0 && !fresh?.size) {
      // The common case: the client holds exactly a shared map. One diff per pair of maps, one response for all.
      const target = hold ? shared.withHeld(base, state.has).resources : base.resources;
      if (target === state.has && !mustAnswer) return;
      const diff = shared.diff(state.has, target);
      const all = state.wildcard || (diff.updated.every((r) => state.names.has(r.name)) && diff.removed.every((n) => state.names.has(n)));
      const updated = all ? diff.updated : diff.updated.filter((r) => state.names.has(r.name));
      const removed = all ? diff.removed : diff.removed.filter((n) => state.names.has(n));
      state.has = target;
      if (updated.length === 0 && removed.length === 0 && !mustAnswer) return;
      this.sendDelta(typeUrl, state, updated, removed, all ? diff : undefined);
      return;
    }
    // A stream with exceptions: walk its names.
    const candidates = new Set<string>(state.names);
    if (state.wildcard) {
      for (const name of base.resources.keys()) candidates.add(name);
      for (const name of state.has.keys()) candidates.add(name);
    }
    for (const name of state.overrides.keys()) candidates.add(name);
    const updated: EncodedResource[] = [];
    const removed: string[] = [];
    const overrides = new Map<string, string | null>();
    for (const name of candidates) {
      if (!state.wildcard && !state.names.has(name)) continue;
      const holds = state.overrides.has(name) ? state.overrides.get(name)! : (state.has.get(name)?.version ?? null);
      const want = base.resources.get(name) ?? (typeUrl === TypeUrl.Listener && state.names.has(name) ? this.host.apiListener(name) : undefined);
      if (want) {
        if (want.version !== holds) updated.push(want);
        if (want !== base.resources.get(name)) overrides.set(name, want.version);
      } else if (holds !== null && hold) {
        overrides.set(name, holds); // kept until the routes have moved off it
      } else if (holds !== null || fresh?.has(name)) {
        removed.push(name);
      }
    }
    state.has = base.resources;
    state.overrides = overrides;
    if (updated.length === 0 && removed.length === 0 && !mustAnswer) return;
    if (removed.length === 0 && overrides.size === 0 && updated.length === base.resources.size) {
      // The whole type (Envoy's first request names every cluster's endpoints): one response for every such stream.
      const whole = shared.diff(EMPTY_RESOURCES, base.resources);
      this.sendDelta(typeUrl, state, whole.updated, [], whole);
      return;
    }
    updated.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    this.sendDelta(typeUrl, state, updated, removed);
  }

  private sendDelta(typeUrl: ResourceTypeUrl, state: DeltaState, updated: readonly EncodedResource[], removed: readonly string[], shareAs?: Diff): void {
    const version = this.host.currentSnapshot()!.version;
    const response = this.host.shared.deltaResponse(typeUrl, version, updated, removed, state.sentNonce, shareAs);
    this.send(typeUrl, state, response.bytes, response.nonce, version);
  }

  /** The client has ACKed the routes (and virtual hosts) of the current snapshot, or does not use them. */
  private routesSettled(): boolean {
    return this.typeSettled(TypeUrl.RouteConfiguration) && this.typeSettled(TypeUrl.VirtualHost);
  }

  private typeSettled(typeUrl: ResourceTypeUrl): boolean {
    const routes = this.types.get(typeUrl);
    if (!routes) return true;
    if (!routes.acked || routes.nacked) return false;
    const current = this.served(this.host.currentSnapshot()!).get(typeUrl)?.resources;
    if (!current) return true;
    if (routes.overrides.size === 0) {
      if (routes.has === current) return true;
      // The shared diff (one per pair of maps), not a walk over every name on every stream.
      const diff = this.host.shared.diff(routes.has, current);
      const names = routes.names;
      return routes.wildcard
        ? diff.updated.length === 0 && diff.removed.length === 0
        : !diff.updated.some((r) => names.has(r.name)) && !diff.removed.some((n) => names.has(n));
    }
    const names = routes.wildcard ? new Set([...current.keys(), ...routes.has.keys()]) : routes.names;
    for (const name of names) {
      const holds = routes.overrides.has(name) ? routes.overrides.get(name) : (routes.has.get(name)?.version ?? null);
      if ((current.get(name)?.version ?? null) !== holds) return false;
    }
    return true;
  }
}

/**
 * `*`, or, for virtual hosts, the route configuration's name: Envoy's VHDS
 * subscribes to it as a namespace (every virtual host named `<route
 * configuration>/…`), and ours is the only route configuration, so that
 * namespace is every VirtualHost resource.
 */
function isWildcardName(typeUrl: ResourceTypeUrl, name: string): boolean {
  return name === '*' || (typeUrl === TypeUrl.VirtualHost && name === ROUTE_CONFIG_NAME);
}
