/**
 * What state-of-the-world and delta ADS streams have in common: identity, the
 * per-type ACK/NACK record shown by /debug/clients, and writing responses.
 */
import * as grpc from '@grpc/grpc-js';
import { TypeUrl, type ResourceTypeUrl } from '../envoy/protos';
import { TYPE_ORDER } from './snapshot';
import type { BudgetWaiter, SendBudget } from './send-budget';
import type { SharedEncodings } from './shared';
import type { EncodedResource, Snapshot } from './snapshot';
import { peerIdentity, type PeerIdentity } from './tls';

export interface ClientStatus {
  stream: number;
  /** `sotw` (StreamAggregatedResources) or `delta` (DeltaAggregatedResources). */
  mode: 'sotw' | 'delta';
  /** How the route table's virtual hosts reach the client: in the RouteConfiguration, or one by one over VHDS. */
  routes: 'inline' | 'vhds';
  nodeId: string;
  /** The peer's address, and its certificate's names over mTLS. */
  peer: PeerIdentity;
  connectedAt: Date;
  types: Record<string, { acked?: string; sent?: string; lastNack?: { version: string; message: string; at: string } }>;
}

/** What the ADS server tells its owner (the controller's metrics and logs); every hook is optional and synchronous. */
export interface XdsServerEvents {
  /**
   * A client rejected the last response of a type: `nodeId` is the client's
   * `node.id`, `version` the snapshot version it rejected (not sent again until
   * the routing changes), `message` its `error_detail.message`.
   */
  onNack?(nodeId: string, typeUrl: string, version: string, message: string): void;
  /** A response of `typeUrl` was queued to one stream; `bytes` is its encoded size (shared responses count once per stream). */
  onPush?(typeUrl: string, bytes: number): void;
  /** A stream opened or closed; `open` is how many are open now. */
  onStreamChange?(open: number): void;
  /** A stream's first request: who the client says it is (`node.id`) and who its connection says it is. */
  onClientConnected?(nodeId: string, mode: ClientStatus['mode'], peer: PeerIdentity): void;
  /** A client asked for a type this server does not serve (once per stream and type; the URL is truncated). */
  onUnknownType?(nodeId: string, typeUrl: string): void;
  /** A stream was closed for asking too much, or for reading nothing (`reason` says which, and the limit). */
  onRefused?(nodeId: string, reason: string): void;
}

/** Per-stream limits, so that no client can make the server hold unbounded state for it. */
export interface StreamLimits {
  /** Names one stream may subscribe per resource type (default 100,000: above a cluster's count of clusters). */
  maxNamesPerType: number;
  /** Listener names one stream may ask for: each one a proxyless gRPC client's API listener (default 1,000). */
  maxListenerNames: number;
  /** A stream whose client answers no response for this long is closed with UNAVAILABLE (default 30 s; Envoy reconnects). */
  stallTimeoutMs: number;
}

export const DEFAULT_STREAM_LIMITS: StreamLimits = { maxNamesPerType: 100_000, maxListenerNames: 1_000, stallTimeoutMs: 30_000 };

/** Client-supplied text as logs and /debug/clients show it: at most `max` characters. */
function truncated(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more characters)`;
}

const MAX_NODE_ID = 256;
const MAX_NACK_MESSAGE = 2048;
const MAX_TYPE_URL = 256;

/** What a stream needs from its server. */
export interface StreamHost {
  readonly events: XdsServerEvents;
  readonly shared: SharedEncodings;
  readonly sendBudget: SendBudget;
  readonly limits: StreamLimits;
  currentSnapshot(): Snapshot | undefined;
  /** The Listener a proxyless gRPC client gets for `name`. */
  apiListener(name: string): EncodedResource;
}

/** The ACK/NACK record of one type on one stream. */
export interface TypeRecord {
  sentVersion?: string;
  sentNonce?: string;
  ackedVersion?: string;
  /** The last response sent was ACKed. */
  acked: boolean;
  /** What the client rejected in the last response sent, until another is sent (a rejected version is never sent again). */
  nacked?: { version: string; message: string; at: Date };
}

/** Clusters and endpoints a client keeps until routes that no longer use them are ACKed. */
export const HELD_TYPES: ReadonlySet<ResourceTypeUrl> = new Set([TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment]);

/** Routes, which name clusters: sent only once the clusters and endpoints sent before them are answered. */
const ROUTE_TYPES: ReadonlySet<ResourceTypeUrl> = new Set([TypeUrl.RouteConfiguration, TypeUrl.VirtualHost]);

/** What every ADS request carries. */
export interface AdsRequest {
  node?: { id?: string };
  type_url?: string;
  response_nonce?: string;
}

/** A response of this type was sent and the client has answered neither ACK nor NACK. */
export function awaitingAnswer(state: TypeRecord): boolean {
  return state.sentNonce !== undefined && !state.acked && !state.nacked;
}

export abstract class XdsStream<Request extends AdsRequest, State extends TypeRecord> implements BudgetWaiter {
  protected nodeId = '';
  private readonly connectedAt = new Date();
  private readonly peer: PeerIdentity;
  /** Whether onClientConnected was called for this stream. */
  private announced = false;
  protected readonly types = new Map<ResourceTypeUrl, State>();
  /** Responses sent (as far as the protocol goes) but waiting for the server's send budget, in order. */
  private readonly outbox: Buffer[] = [];
  /** Budget held by writes not yet done, released when they are or when the stream closes. */
  private readonly held = new Set<() => void>();
  private isClosed = false;
  private readonly unknownTypes = new Set<string>();
  /** No write has completed for the send budget's stalled time: takes no budget until one does. */
  private stuck = false;
  private progressTimer?: NodeJS.Timeout;
  private answerTimer?: NodeJS.Timeout;
  /** Its client has read a whole response: woken first when budget frees up. */
  proven = false;

  constructor(
    readonly id: number,
    private readonly mode: ClientStatus['mode'],
    private readonly call: grpc.ServerDuplexStream<Request, Buffer>,
    protected readonly host: StreamHost,
  ) {
    this.peer = peerIdentity(call);
  }

  handle(request: Request): void {
    if (this.isClosed) return;
    if (request.node?.id) this.nodeId = truncated(request.node.id, MAX_NODE_ID);
    if (!this.announced) {
      this.announced = true;
      this.host.events.onClientConnected?.(this.nodeId, this.mode, this.peer);
    }
    const typeUrl = request.type_url as ResourceTypeUrl;
    if (TYPE_ORDER.includes(typeUrl)) {
      this.handleType(typeUrl, request);
    } else {
      // Secrets, runtime, …: not served; said once, so a client waiting for them can be found.
      const shown = truncated(String(request.type_url ?? ''), MAX_TYPE_URL);
      if (!this.unknownTypes.has(shown) && this.unknownTypes.size < 16) {
        this.unknownTypes.add(shown);
        this.host.events.onUnknownType?.(this.nodeId, shown);
      }
    }
  }

  /**
   * Whether `count` names of `typeUrl` are within this stream's limits; if not, the stream is
   * ended with RESOURCE_EXHAUSTED, saying which limit, and false is returned.
   */
  protected withinLimits(typeUrl: ResourceTypeUrl, count: number): boolean {
    const { maxNamesPerType, maxListenerNames } = this.host.limits;
    const limit = typeUrl === TypeUrl.Listener ? Math.min(maxListenerNames, maxNamesPerType) : maxNamesPerType;
    if (count <= limit) return true;
    this.refuse(grpc.status.RESOURCE_EXHAUSTED, `subscribed ${count} names of ${typeUrl.split('.').pop()}, over this server's limit of ${limit} per stream`);
    return false;
  }

  protected abstract handleType(typeUrl: ResourceTypeUrl, request: Request): void;

  /**
   * Sends what the current snapshot changed, in make-before-break type order,
   * with one response in flight per type: a client that has not answered the last
   * response of a type gets the newest state when it does (a slow client is not
   * sent every intermediate 4 MB table). While such a type has newer content
   * waiting, the types after it wait too, so routes never overtake the clusters
   * they use.
   */
  push(): void {
    for (const typeUrl of TYPE_ORDER) {
      const state = this.types.get(typeUrl);
      if (!state) continue; // not subscribed
      if (!awaitingAnswer(state)) this.pushType(typeUrl, state);
      else if (this.hasNewer(typeUrl, state)) return;
    }
  }

  /**
   * Make-before-break for additions: while the client has not answered clusters
   * or endpoints it was sent (a new cluster, the endpoints it then subscribed),
   * routes wait, since they may name that cluster; an Envoy would answer
   * requests on such a route with 503 until the endpoints land. Every answer to
   * clusters or endpoints calls push(), which sends the routes then.
   */
  protected routesMustWait(typeUrl: ResourceTypeUrl): boolean {
    if (!ROUTE_TYPES.has(typeUrl)) return false;
    for (const held of HELD_TYPES) {
      const state = this.types.get(held);
      if (state && awaitingAnswer(state)) return true;
    }
    return false;
  }

  protected abstract pushType(typeUrl: ResourceTypeUrl, state: State): void;

  /** Whether the current snapshot holds content for this type that the client was not sent. */
  protected abstract hasNewer(typeUrl: ResourceTypeUrl, state: State): boolean;

  end(): void {
    this.closed();
    this.call.end();
  }

  /** The stream is gone: drop what waits and give back the budget its writes held. */
  closed(): void {
    this.isClosed = true;
    clearTimeout(this.progressTimer);
    clearTimeout(this.answerTimer);
    this.outbox.length = 0;
    this.host.sendBudget.forget(this);
    for (const release of this.held) release();
    this.held.clear();
  }

  protected send(typeUrl: ResourceTypeUrl, state: State, bytes: Buffer, nonce: string, version: string): void {
    state.sentVersion = version;
    state.sentNonce = nonce;
    state.acked = false;
    // A new response supersedes a rejected one: the client will answer it.
    state.nacked = undefined;
    if (!this.answerTimer) this.watchAnswers();
    this.outbox.push(bytes);
    if (!this.flush()) this.host.sendBudget.wait(this);
    this.host.events.onPush?.(typeUrl, bytes.length);
  }

  flush(): boolean {
    while (this.outbox.length > 0 && !this.isClosed) {
      // Stuck: it goes on when a write completes (progress), not when budget frees up.
      if (this.stuck) return true;
      const bytes = this.outbox[0];
      const release = this.host.sendBudget.take(bytes.length);
      if (!release) return false;
      this.outbox.shift();
      this.held.add(release);
      if (this.held.size === 1) this.watchProgress();
      this.call.write(bytes, () => {
        this.held.delete(release);
        this.proven = true;
        this.watchProgress();
        release();
        // A stuck stream waits for this, not for budget: it goes on now.
        if (!this.flush()) this.host.sendBudget.wait(this);
      });
    }
    return true;
  }

  /**
   * While writes are pending, each completed write restarts the clock: after the send budget's
   * stalled time without one (the socket is not draining) the stream is stuck and takes no more
   * budget until one completes.
   */
  private watchProgress(): void {
    clearTimeout(this.progressTimer);
    this.stuck = false;
    if (this.held.size === 0 || this.isClosed) return;
    this.progressTimer = setTimeout(() => (this.stuck = true), this.host.sendBudget.stalledMs);
    this.progressTimer.unref();
  }

  /**
   * Every client answers every response (ACK or NACK). One that answers nothing for the stall
   * timeout stopped reading (at the socket or at its end of the stream, where HTTP/2 flow control
   * keeps the rest queued in the server): it is closed with UNAVAILABLE, which a live Envoy
   * answers by reconnecting, and what was queued for it is freed.
   */
  private watchAnswers(): void {
    clearTimeout(this.answerTimer);
    this.answerTimer = undefined;
    if (this.isClosed) return;
    let waiting = false;
    for (const state of this.types.values()) waiting ||= awaitingAnswer(state);
    if (!waiting) return;
    const { stallTimeoutMs } = this.host.limits;
    this.answerTimer = setTimeout(() => this.refuse(grpc.status.UNAVAILABLE, `stalled: the client answered no response for ${stallTimeoutMs / 1000} s`), stallTimeoutMs);
    this.answerTimer.unref();
  }

  /** Ends the stream with a gRPC status, telling the owner why. */
  private refuse(code: grpc.status, reason: string): void {
    this.host.events.onRefused?.(this.nodeId, reason);
    this.closed();
    this.call.emit('error', { code, details: reason });
  }

  /** Records an ACK or NACK of the last response: an answer, so the stall clock starts again (a stale nonce is none). */
  protected record(typeUrl: ResourceTypeUrl, state: State, errorDetail: { message?: string } | undefined | null, version: string | undefined): void {
    this.recordAnswer(typeUrl, state, errorDetail, version);
    this.watchAnswers();
  }

  private recordAnswer(typeUrl: ResourceTypeUrl, state: State, errorDetail: { message?: string } | undefined | null, version: string | undefined): void {
    if (errorDetail) {
      // The same rejection repeated (the last response's nonce again) is one NACK: logged and counted once.
      if (state.nacked) return;
      const message = truncated(errorDetail.message ?? '', MAX_NACK_MESSAGE);
      state.nacked = { version: state.sentVersion ?? '', message, at: new Date() };
      state.ackedVersion = version || state.ackedVersion;
      this.host.events.onNack?.(this.nodeId, typeUrl, state.nacked.version, message);
      return;
    }
    state.acked = true;
    state.ackedVersion = version ?? state.sentVersion;
    state.nacked = undefined;
  }

  status(): ClientStatus {
    const types: ClientStatus['types'] = {};
    for (const [typeUrl, s] of this.types) {
      types[typeUrl] = {
        acked: s.ackedVersion,
        sent: s.sentVersion,
        lastNack: s.nacked && { version: s.nacked.version, message: s.nacked.message, at: s.nacked.at.toISOString() },
      };
    }
    return { stream: this.id, mode: this.mode, routes: this.routeDelivery(), nodeId: this.nodeId, peer: this.peer, connectedAt: this.connectedAt, types };
  }

  protected routeDelivery(): ClientStatus['routes'] {
    return 'inline';
  }
}
