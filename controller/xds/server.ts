/**
 * The Aggregated Discovery Service (state of the world) on @grpc/grpc-js.
 *
 * Every stream reads the same immutable Snapshot; responses are assembled from
 * each type's pre-encoded body, so nothing is re-encoded per client. Protocol
 * rules kept here (and broken by go-control-plane, see xds-notes §1.2):
 * - a NACK (`error_detail` set) is recorded per stream and type, and the
 *   rejected version is not sent again until the snapshot changes;
 * - a request whose `response_nonce` is not the last one sent is stale and ignored;
 * - a change of subscribed names is answered at once, even at the same version
 *   (gRPC clients add cluster and endpoint names one at a time);
 * - types go out in make-before-break order: clusters, endpoints, listeners, routes.
 *
 * An LDS request for a name that is not Envoy's listener (a proxyless gRPC client
 * dialing `xds:///<host>`) is answered with an `api_listener` Listener whose
 * connection manager reads the same routes.
 */
import * as grpc from '@grpc/grpc-js';
import { messageType, TypeUrl, type ProtoJson, type ResourceTypeUrl } from '../envoy/protos';
import { httpConnectionManager } from '../envoy/translate';
import { encodeMessage, WireWriter } from '../envoy/wire';
import { contentVersion, EncodedResource, responseBody, TYPE_ORDER, type Snapshot, type TypeSnapshot } from './snapshot';

const ADS_SERVICE = 'envoy.service.discovery.v3.AggregatedDiscoveryService';

interface DiscoveryRequest {
  version_info?: string;
  node?: { id?: string; cluster?: string };
  resource_names?: string[];
  type_url?: string;
  response_nonce?: string;
  error_detail?: { code?: number; message?: string };
}

/** What one stream has asked for and been sent, per type. */
interface TypeState {
  /** undefined = wildcard (everything of the type). */
  names?: Set<string>;
  sentVersion?: string;
  sentNonce?: string;
  ackedVersion?: string;
  /** The version the client rejected, while the snapshot still holds it. */
  nacked?: { version: string; message: string; at: Date };
}

export interface ClientStatus {
  stream: number;
  nodeId: string;
  connectedAt: Date;
  types: Record<string, { acked?: string; sent?: string; lastNack?: { version: string; message: string; at: string } }>;
}

export interface XdsServerEvents {
  onNack?(nodeId: string, typeUrl: string, version: string, message: string): void;
  onPush?(typeUrl: string, bytes: number): void;
  onStreamChange?(open: number): void;
}

export class AdsServer {
  private snapshot?: Snapshot;
  private readonly streams = new Set<AdsStream>();
  private readonly apiListeners = new Map<string, EncodedResource>();
  private nextStreamId = 1;
  readonly server = new grpc.Server();

  constructor(private readonly events: XdsServerEvents = {}) {
    const requestType = messageType('envoy.service.discovery.v3.DiscoveryRequest');
    const service: grpc.ServiceDefinition = {
      StreamAggregatedResources: {
        path: `/${ADS_SERVICE}/StreamAggregatedResources`,
        requestStream: true,
        responseStream: true,
        requestSerialize: (v: Buffer) => v,
        requestDeserialize: (bytes: Buffer) =>
          requestType.toObject(requestType.decode(bytes), { longs: String, enums: String, defaults: false }) as DiscoveryRequest,
        responseSerialize: (v: Buffer) => v,
        responseDeserialize: (v: Buffer) => v,
      },
    };
    this.server.addService(service, {
      StreamAggregatedResources: (call: grpc.ServerDuplexStream<DiscoveryRequest, Buffer>) => this.openStream(call),
    });
  }

  /** Binds `host:port` (port 0 picks one); returns the bound port. */
  listen(address: string): Promise<number> {
    return new Promise((resolve, reject) =>
      this.server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
    );
  }

  /** Publishes a new snapshot to every stream (in make-before-break type order). */
  setSnapshot(snapshot: Snapshot): void {
    if (this.snapshot?.version === snapshot.version) return;
    this.snapshot = snapshot;
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

  /** Stops accepting, ends every stream cleanly, and waits for the server to close. */
  async close(): Promise<void> {
    for (const stream of this.streams) stream.end();
    await new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
  }

  /** The Listener a proxyless gRPC client gets for `name`, built once per name. */
  apiListener(name: string): EncodedResource {
    let listener = this.apiListeners.get(name);
    if (!listener) {
      const json: ProtoJson = {
        '@type': TypeUrl.Listener,
        name,
        api_listener: { api_listener: httpConnectionManager(name, false) },
      };
      const { '@type': _t, ...fields } = json;
      listener = EncodedResource.fromMessage(name, TypeUrl.Listener, encodeMessage(messageType(TypeUrl.Listener), fields), json);
      this.apiListeners.set(name, listener);
    }
    return listener;
  }

  private openStream(call: grpc.ServerDuplexStream<DiscoveryRequest, Buffer>): void {
    const stream = new AdsStream(this.nextStreamId++, call, this, this.events);
    this.streams.add(stream);
    this.events.onStreamChange?.(this.streams.size);
    const close = () => {
      if (this.streams.delete(stream)) this.events.onStreamChange?.(this.streams.size);
    };
    call.on('data', (request: DiscoveryRequest) => stream.handle(request));
    call.on('end', () => {
      close();
      call.end();
    });
    call.on('error', close);
    call.on('close', close);
  }
}

class AdsStream {
  private nodeId = '';
  private readonly connectedAt = new Date();
  private readonly types = new Map<ResourceTypeUrl, TypeState>();
  private nonce = 0;

  constructor(
    readonly id: number,
    private readonly call: grpc.ServerDuplexStream<DiscoveryRequest, Buffer>,
    private readonly server: AdsServer,
    private readonly events: XdsServerEvents,
  ) {}

  handle(request: DiscoveryRequest): void {
    if (request.node?.id) this.nodeId = request.node.id;
    const typeUrl = request.type_url as ResourceTypeUrl;
    if (!TYPE_ORDER.includes(typeUrl)) return;
    const state = this.types.get(typeUrl) ?? {};
    this.types.set(typeUrl, state);
    if (request.response_nonce && request.response_nonce !== state.sentNonce) return; // stale
    const names = request.resource_names ?? [];
    const wildcard = names.length === 0 || names.includes('*');
    const namesChanged = wildcard ? state.names !== undefined : !sameNames(state.names, names);
    if (namesChanged || state.sentNonce === undefined) state.names = wildcard ? undefined : new Set(names);
    if (request.error_detail) {
      const message = request.error_detail.message ?? '';
      state.nacked = { version: state.sentVersion ?? '', message, at: new Date() };
      state.ackedVersion = request.version_info || undefined;
      this.events.onNack?.(this.nodeId, typeUrl, state.nacked.version, message);
      if (!namesChanged) return;
    } else if (request.response_nonce) {
      state.ackedVersion = request.version_info;
      state.nacked = undefined;
    }
    this.pushType(typeUrl, state, namesChanged || state.sentNonce === undefined);
  }

  /** Sends every subscribed type whose version changed, in make-before-break order. */
  push(): void {
    for (const typeUrl of TYPE_ORDER) {
      const state = this.types.get(typeUrl);
      if (state?.sentNonce !== undefined) this.pushType(typeUrl, state, false);
    }
  }

  private pushType(typeUrl: ResourceTypeUrl, state: TypeState, force: boolean): void {
    const snapshot = this.server.currentSnapshot();
    if (!snapshot) return;
    const typeSnapshot = snapshot.types.get(typeUrl)!;
    const { body, version } = this.responseFor(typeUrl, typeSnapshot, state);
    if (!force && version === state.sentVersion) return;
    if (state.nacked?.version === version) return; // never resend what the client rejected
    const nonce = String(this.nonce++);
    const w = new WireWriter(body.length + version.length + typeUrl.length + 32);
    w.tag(1, 2);
    w.string(version);
    const bytes = Buffer.concat([w.finish(), body, tail(typeUrl, nonce)]);
    state.sentVersion = version;
    state.sentNonce = nonce;
    this.call.write(bytes);
    this.events.onPush?.(typeUrl, bytes.length);
  }

  /**
   * The whole type for wildcard subscriptions (the pre-built body); otherwise
   * the requested names. Listeners requested by a name the snapshot lacks are
   * proxyless gRPC targets and get an API listener.
   */
  private responseFor(typeUrl: ResourceTypeUrl, typeSnapshot: TypeSnapshot, state: TypeState): { body: Uint8Array; version: string } {
    const all = typeSnapshot.resources;
    if (!state.names || (state.names.size === all.size && [...all.keys()].every((n) => state.names!.has(n)))) {
      return { body: typeSnapshot.body, version: typeSnapshot.version };
    }
    const resources: EncodedResource[] = [];
    for (const name of [...state.names].sort()) {
      const resource = typeSnapshot.resources.get(name) ?? (typeUrl === TypeUrl.Listener ? this.server.apiListener(name) : undefined);
      if (resource) resources.push(resource);
    }
    // The version of a subset is its content's: an unchanged subset is not resent.
    return { body: responseBody(resources), version: contentVersion(resources.map((r) => `${r.name}\u0000${r.version}`).join('\n')) };
  }

  end(): void {
    this.call.end();
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
    return { stream: this.id, nodeId: this.nodeId, connectedAt: this.connectedAt, types };
  }
}

function tail(typeUrl: string, nonce: string): Uint8Array {
  const w = new WireWriter(typeUrl.length + nonce.length + 8);
  w.tag(4, 2);
  w.string(typeUrl);
  w.tag(5, 2);
  w.string(nonce);
  return w.finish();
}

function sameNames(current: Set<string> | undefined, names: string[]): boolean {
  if (!current) return false;
  const next = new Set(names);
  return next.size === current.size && [...next].every((n) => current.has(n));
}
