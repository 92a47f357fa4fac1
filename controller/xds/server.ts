/**
 * The Aggregated Discovery Service on @grpc/grpc-js: state of the world
 * (`StreamAggregatedResources`, here) and delta (`DeltaAggregatedResources`,
 * delta.ts).
 *
 * Every stream reads the same immutable Snapshot; responses are assembled from
 * pre-encoded resources and shared by every stream sent the same content
 * (shared.ts), so nothing is re-encoded per client. Protocol rules kept here (the
 * xDS protocol document's "ACK and NACK semantics"; go-control-plane, which never
 * reads `error_detail`, resends a rejected config at once: its issues #46, #962):
 * - a NACK (`error_detail` set) is recorded per stream and type, and the
 *   rejected version is not sent again until the snapshot changes;
 * - a request whose `response_nonce` is not the last one sent is stale and ignored;
 * - a change of subscribed names is answered at once, even at the same version
 *   (gRPC clients add cluster and endpoint names one at a time);
 * - make-before-break: types go out as clusters, endpoints, listeners, routes
 *   (and, over delta, virtual hosts), and removed clusters (and their endpoints)
 *   stay in what a client is sent until it has ACKed routes that no longer point
 *   at them.
 * - delta clients that are Envoys taking VHDS over ADS (1.38 and later, by the
 *   node's user agent) get the route table over VHDS (snapshot.ts `deltaTypes`);
 *   every other client gets it whole, as released Envoys refuse VHDS over ADS.
 *
 * An LDS request for a name that is not Envoy's listener (a proxyless gRPC client
 * dialing `xds:///<host>`) is answered with an `api_listener` Listener whose
 * connection manager carries, inline, the virtual host Envoy's table routes that
 * name with (translate.ts `apiListener`): the same routes, without sending a
 * client the whole table. It is rebuilt when that virtual host changes.
 */
import * as grpc from '@grpc/grpc-js';
import { messageType, TypeUrl, type ResourceTypeUrl } from '../envoy/protos';
import { apiListener, jsonResource, ROUTE_CONFIG_NAME, virtualHostLookup, type VirtualHostSource } from '../envoy/translate';
import { DeltaStream, type DeltaDiscoveryRequest } from './delta';
import { SendBudget, type SendBudgetOptions } from './send-budget';
import { NO_NAMES, SharedEncodings, type ResourceMap, type ResourceSet } from './shared';
import { EncodedResource, type Snapshot } from './snapshot';
import { DEFAULT_STREAM_LIMITS, HELD_TYPES, XdsStream, type AdsRequest, type ClientStatus, type StreamHost, type StreamLimits, type TypeRecord, type XdsServerEvents } from './stream';

export type { ClientStatus, XdsServerEvents } from './stream';

const ADS_SERVICE = 'envoy.service.discovery.v3.AggregatedDiscoveryService';
/** Response bytes in flight across streams before further writes wait (send-budget.ts). */
export const DEFAULT_SEND_BUDGET_BYTES = 64 * 1024 * 1024;

interface DiscoveryRequest {
  version_info?: string;
  node?: { id?: string; cluster?: string };
  resource_names?: string[];
  type_url?: string;
  response_nonce?: string;
  error_detail?: { code?: number; message?: string };
}

type AnyStream = XdsStream<AdsRequest, TypeRecord>;

/** How long close() waits for clients to hang up before cutting their connections. */
export const SHUTDOWN_GRACE_MS = 5000;

export class AdsServer implements StreamHost {
  private snapshot?: Snapshot;
  private readonly streams = new Set<AnyStream>();
  /**
   * API listeners by name, each with the virtual host it was built from: those
   * asked for since the current snapshot, and those of the snapshot before (a
   * name no stream asks for during a whole snapshot is dropped, so arbitrary
   * names from clients cannot pile up).
   */
  private apiListeners = new Map<string, { virtualHost?: VirtualHostSource; resource: EncodedResource }>();
  private previousApiListeners = new Map<string, { virtualHost?: VirtualHostSource; resource: EncodedResource }>();
  private routeLookup?: { snapshot: Snapshot; lookup: (host: string) => VirtualHostSource | undefined };
  private nextStreamId = 1;
  // Pings find half-open connections; a connection without a stream for 5 minutes is closed.
  readonly server = new grpc.Server({ 'grpc.keepalive_time_ms': 30_000, 'grpc.keepalive_timeout_ms': 10_000, 'grpc.max_connection_idle_ms': 300_000 });
  readonly limits: StreamLimits;
  readonly shared = new SharedEncodings();
  readonly sendBudget: SendBudget;

  constructor(
    readonly events: XdsServerEvents = {},
    options: { sendBudget?: SendBudgetOptions; limits?: Partial<StreamLimits> } = {},
  ) {
    this.sendBudget = new SendBudget(options.sendBudget ?? { limitBytes: DEFAULT_SEND_BUDGET_BYTES });
    this.limits = { ...DEFAULT_STREAM_LIMITS, ...options.limits };
    const method = (name: string, requestTypeName: string) => {
      const requestType = messageType(requestTypeName);
      return {
        path: `/${ADS_SERVICE}/${name}`,
        requestStream: true,
        responseStream: true,
        requestSerialize: (v: Buffer) => v,
        requestDeserialize: (bytes: Buffer) => requestType.toObject(requestType.decode(bytes), { longs: String, enums: String, defaults: false }),
        responseSerialize: (v: Buffer) => v,
        responseDeserialize: (v: Buffer) => v,
      };
    };
    const service: grpc.ServiceDefinition = {
      StreamAggregatedResources: method('StreamAggregatedResources', 'envoy.service.discovery.v3.DiscoveryRequest'),
      DeltaAggregatedResources: method('DeltaAggregatedResources', 'envoy.service.discovery.v3.DeltaDiscoveryRequest'),
    };
    this.server.addService(service, {
      StreamAggregatedResources: (call: grpc.ServerDuplexStream<DiscoveryRequest, Buffer>) =>
        this.openStream(call, new SotwStream(this.nextStreamId++, call, this)),
      DeltaAggregatedResources: (call: grpc.ServerDuplexStream<DeltaDiscoveryRequest, Buffer>) =>
        this.openStream(call, new DeltaStream(this.nextStreamId++, call, this)),
    });
  }

  /** Binds `host:port` (port 0 picks one), in plaintext unless given credentials (tls.ts); returns the bound port. */
  listen(address: string, credentials = grpc.ServerCredentials.createInsecure()): Promise<number> {
    return new Promise((resolve, reject) => this.server.bindAsync(address, credentials, (err, port) => (err ? reject(err) : resolve(port))));
  }

  /** Publishes a new snapshot to every stream (in make-before-break type order). */
  setSnapshot(snapshot: Snapshot): void {
    if (this.snapshot?.version === snapshot.version) return;
    this.snapshot = snapshot;
    this.shared.snapshotChanged();
    this.previousApiListeners = this.apiListeners;
    this.apiListeners = new Map();
    for (const stream of this.streams) stream.push();
  }

  currentSnapshot(): Snapshot | undefined {
    return this.snapshot;
  }

  clients(): ClientStatus[] {
    return [...this.streams].map((s) => s.status());
  }

  get openStreams(): number {
    return this.streams.size;
  }

  /**
   * Stops accepting and ends every stream cleanly; connections a client keeps
   * open after that (a gRPC xDS client whose channel was closed keeps its
   * HTTP/2 session) are cut after SHUTDOWN_GRACE_MS, so shutdown has a deadline.
   */
  async close(): Promise<void> {
    for (const stream of this.streams) stream.end();
    await new Promise<void>((resolve) => {
      const deadline = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, SHUTDOWN_GRACE_MS);
      this.server.tryShutdown(() => {
        clearTimeout(deadline);
        resolve();
      });
    });
  }

  /** How many API listeners the server holds: names asked for during this snapshot or the one before. */
  get apiListenersHeld(): number {
    return new Set([...this.apiListeners.keys(), ...this.previousApiListeners.keys()]).size;
  }

  /** The Listener a proxyless gRPC client gets for `name`, built once per name and routing. */
  apiListener(name: string): EncodedResource {
    const snapshot = this.snapshot!;
    if (this.routeLookup?.snapshot !== snapshot) {
      const table = snapshot.types.get(TypeUrl.RouteConfiguration)!.resources.get(ROUTE_CONFIG_NAME)?.source;
      this.routeLookup = { snapshot, lookup: virtualHostLookup(table) };
    }
    const virtualHost = this.routeLookup.lookup(name);
    const cached = this.apiListeners.get(name) ?? this.previousApiListeners.get(name);
    if (cached && cached.virtualHost === virtualHost) {
      this.apiListeners.set(name, cached);
      return cached.resource;
    }
    const resource = EncodedResource.of(jsonResource(apiListener(name, virtualHost)));
    this.apiListeners.set(name, { virtualHost, resource });
    return resource;
  }

  private openStream<R extends AdsRequest>(call: grpc.ServerDuplexStream<R, Buffer>, stream: XdsStream<R, TypeRecord>): void {
    const entry = stream as unknown as AnyStream;
    this.streams.add(entry);
    this.events.onStreamChange?.(this.streams.size);
    const close = () => {
      stream.closed();
      if (this.streams.delete(entry)) this.events.onStreamChange?.(this.streams.size);
    };
    call.on('data', (request: R) => stream.handle(request));
    call.on('end', () => {
      close();
      call.end();
    });
    call.on('error', close);
    call.on('close', close);
  }
}

/** What one state-of-the-world stream has asked for and been sent, per type. */
interface SotwState extends TypeRecord {
  /** undefined = wildcard (everything of the type); a set shared with streams that asked for the same (shared.ts `names`). */
  names?: ReadonlySet<string>;
  /** What the last response carried (a shared set). */
  sent?: ResourceSet;
  /** Whether `names` covers every resource of `map` (cached: checked once per map and name set). */
  coverage?: { map: ResourceMap; names: ReadonlySet<string>; covers: boolean };
}

class SotwStream extends XdsStream<DiscoveryRequest, SotwState> {
  constructor(id: number, call: grpc.ServerDuplexStream<DiscoveryRequest, Buffer>, host: StreamHost) {
    super(id, 'sotw', call, host);
  }

  protected handleType(typeUrl: ResourceTypeUrl, request: DiscoveryRequest): void {
    let state = this.types.get(typeUrl);
    if (!state) this.types.set(typeUrl, (state = { acked: true }));
    // Stale: an answer to an older response. The client repeats its full request
    // when it answers the latest one, so nothing is lost by ignoring it.
    if (state.sentNonce !== undefined && request.response_nonce !== state.sentNonce) return;
    const first = state.sentNonce === undefined;
    const names = request.resource_names ?? [];
    const wildcard = names.length === 0 || names.includes('*');
    const requested = wildcard ? undefined : new Set(names);
    if (requested && !this.withinLimits(typeUrl, requested.size)) return;
    const namesChanged = requested ? !sameNames(state.names, requested) : state.names !== undefined;
    if (namesChanged || first) state.names = requested && this.sharedNames(state.names ?? NO_NAMES, requested);
    if (!first) this.record(typeUrl, state, request.error_detail, request.version_info);
    // A new subscription is answered at once; an answer releases whatever waited for
    // it (newer content, later types, routes held for new clusters, clusters held
    // back for the old routes); a NACKed version itself is not resent.
    if (namesChanged || first) this.pushType(typeUrl, state, true);
    else this.push();
  }

  protected hasNewer(typeUrl: ResourceTypeUrl, state: SotwState): boolean {
    const set = this.responseSet(typeUrl, state);
    return !!set && !(state.sent && this.sameContent(set, state.sent));
  }

  protected pushType(typeUrl: ResourceTypeUrl, state: SotwState, force = false): void {
    if (this.routesMustWait(typeUrl)) return;
    const set = this.responseSet(typeUrl, state);
    if (!set) return;
    if (!force && state.sent && this.sameContent(set, state.sent)) return;
    if (state.nacked?.version === set.version) return; // never resend what the client rejected
    const response = this.host.shared.sotwResponse(typeUrl, set, state.sentNonce);
    state.sent = set;
    this.send(typeUrl, state, response.bytes, response.nonce, set.version);
  }

  /**
   * The whole type for wildcard subscriptions (shared by every such stream);
   * otherwise the requested names. Listeners requested by a name the snapshot
   * lacks are proxyless gRPC targets and get an API listener. Clusters and
   * endpoints the client was sent keep being sent until its routes have moved off them.
   */
  private responseSet(typeUrl: ResourceTypeUrl, state: SotwState): ResourceSet | undefined {
    const snapshot = this.host.currentSnapshot();
    if (!snapshot) return undefined;
    const type = snapshot.types.get(typeUrl);
    if (!type) return undefined; // VirtualHost: VHDS is delta only
    let set: ResourceSet = type;
    if (HELD_TYPES.has(typeUrl) && state.sent && !this.routesSettled()) set = this.host.shared.withHeld(set, state.sent.resources);
    if (!state.names || (typeUrl !== TypeUrl.Listener && this.covers(state, state.names, set.resources))) return set;
    const resources: EncodedResource[] = [];
    for (const name of [...state.names].sort()) {
      const resource = set.resources.get(name) ?? (typeUrl === TypeUrl.Listener ? this.host.apiListener(name) : undefined);
      if (resource) resources.push(resource);
    }
    return this.host.shared.subset(typeUrl, resources);
  }

  /** The requested names as a set shared with streams that went from `current` to the same names. */
  private sharedNames(current: ReadonlySet<string>, requested: ReadonlySet<string>): ReadonlySet<string> {
    return this.host.shared.names(
      current,
      [...requested].filter((n) => !current.has(n)),
      [...current].filter((n) => !requested.has(n)),
    );
  }

  private covers(state: SotwState, names: ReadonlySet<string>, map: ResourceMap): boolean {
    if (state.coverage?.map !== map || state.coverage.names !== names) {
      let covers = true;
      for (const name of map.keys()) {
        if (!names.has(name)) {
          covers = false;
          break;
        }
      }
      state.coverage = { map, names, covers };
    }
    return state.coverage.covers;
  }

  /** The client has ACKed the routes of the current snapshot (or does not use routes). */
  private routesSettled(): boolean {
    const routes = this.types.get(TypeUrl.RouteConfiguration);
    if (!routes || routes.sentNonce === undefined) return true;
    if (!routes.acked || routes.nacked) return false;
    const set = this.responseSet(TypeUrl.RouteConfiguration, routes);
    return !set || !routes.sent || this.sameContent(set, routes.sent);
  }

  /** Equal versions, or the same resources under another version (a subset vs the whole type, held clusters). */
  private sameContent(a: ResourceSet, b: ResourceSet): boolean {
    if (a === b || a.version === b.version) return true;
    const diff = this.host.shared.diff(a.resources, b.resources);
    return diff.updated.length === 0 && diff.removed.length === 0;
  }
}

function sameNames(current: ReadonlySet<string> | undefined, next: ReadonlySet<string>): boolean {
  return !!current && next.size === current.size && [...next].every((n) => current.has(n));
}
