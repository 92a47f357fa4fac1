/**
 * A raw ADS client for protocol tests and the xDS benchmark: it sends
 * DiscoveryRequest / DeltaDiscoveryRequest messages encoded with protobufjs
 * (through the Envoy protos the controller loads) and reads responses with a
 * small wire reader that leaves resources undecoded until asked, so 100 streams
 * receiving a 2 MB route table cost the client little.
 */
import * as http2 from 'node:http2';
import * as net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { messageType } from '../../controller/envoy/protos';
import type { NodeIdentity } from '../../controller/xds/delta';

const ADS = '/envoy.service.discovery.v3.AggregatedDiscoveryService';

/** The node an Envoy of release 1.<minor> sends (user agent and build version, as source/server/server.cc sets them). */
export function envoyNode(id: string, minor: number): NodeIdentity {
  return { id, user_agent_name: 'envoy', user_agent_build_version: { version: { major_number: 1, minor_number: minor, patch: 0 } } };
}

export interface SotwRequest {
  type_url: string;
  version_info?: string;
  resource_names?: string[];
  response_nonce?: string;
  node?: { id: string };
  error_detail?: { code?: number; message: string };
}

export interface DeltaRequest {
  type_url: string;
  resource_names_subscribe?: string[];
  resource_names_unsubscribe?: string[];
  initial_resource_versions?: Record<string, string>;
  response_nonce?: string;
  node?: NodeIdentity;
  error_detail?: { code?: number; message: string };
}

/** A resource as received: the Any's type and value, decoded on demand. */
export class RawResource {
  constructor(
    readonly typeUrl: string,
    readonly value: Uint8Array,
  ) {}

  /** The decoded resource (protobufjs object, `.proto` field names). */
  decode(): Record<string, unknown> {
    const type = messageType(this.typeUrl);
    return type.toObject(type.decode(this.value), { longs: String, enums: String }) as Record<string, unknown>;
  }

  /** `name`, or `cluster_name` for a ClusterLoadAssignment. */
  get name(): string {
    const decoded = this.decode();
    return String(decoded.name ?? decoded.cluster_name);
  }
}

export interface SotwResponse {
  version_info: string;
  type_url: string;
  nonce: string;
  resources: RawResource[];
  bytes: number;
}

export interface DeltaResource {
  name: string;
  version: string;
  resource: RawResource;
}

export interface DeltaResponse {
  system_version_info: string;
  type_url: string;
  nonce: string;
  resources: DeltaResource[];
  removed_resources: string[];
  bytes: number;
}

/** Length-delimited fields of a message in order, as [field number, view] (other wire types skipped). */
function fields(message: Uint8Array): [number, Uint8Array][] {
  const out: [number, Uint8Array][] = [];
  let at = 0;
  const varint = () => {
    let value = 0;
    let scale = 1;
    for (;;) {
      const b = message[at++];
      value += (b & 0x7f) * scale;
      if (b < 0x80) return value;
      scale *= 128;
    }
  };
  while (at < message.length) {
    const key = varint();
    const wire = key & 7;
    if (wire === 2) {
      const length = varint();
      out.push([Math.floor(key / 8), message.subarray(at, at + length)]);
      at += length;
    } else if (wire === 0) {
      varint();
    } else {
      at += wire === 1 ? 8 : 4;
    }
  }
  return out;
}

const text = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');

function anyOf(bytes: Uint8Array): RawResource {
  let typeUrl = '';
  let value: Uint8Array = new Uint8Array();
  for (const [n, v] of fields(bytes)) {
    if (n === 1) typeUrl = text(v);
    else if (n === 2) value = v;
  }
  return new RawResource(typeUrl.slice(typeUrl.lastIndexOf('/') + 1), value);
}

export function readSotwResponse(bytes: Uint8Array): SotwResponse {
  const r: SotwResponse = { version_info: '', type_url: '', nonce: '', resources: [], bytes: bytes.length };
  for (const [n, v] of fields(bytes)) {
    if (n === 1) r.version_info = text(v);
    else if (n === 2) r.resources.push(anyOf(v));
    else if (n === 4) r.type_url = text(v);
    else if (n === 5) r.nonce = text(v);
  }
  return r;
}

export function readDeltaResponse(bytes: Uint8Array): DeltaResponse {
  const r: DeltaResponse = { system_version_info: '', type_url: '', nonce: '', resources: [], removed_resources: [], bytes: bytes.length };
  for (const [n, v] of fields(bytes)) {
    if (n === 1) r.system_version_info = text(v);
    else if (n === 4) r.type_url = text(v);
    else if (n === 5) r.nonce = text(v);
    else if (n === 6) r.removed_resources.push(text(v));
    else if (n === 2) {
      const entry: DeltaResource = { name: '', version: '', resource: new RawResource('', new Uint8Array()) };
      for (const [m, w] of fields(v)) {
        if (m === 3) entry.name = text(w);
        else if (m === 1) entry.version = text(w);
        else if (m === 2) entry.resource = anyOf(w);
      }
      r.resources.push(entry);
    }
  }
  return r;
}

/** One ADS stream: send requests, await responses in arrival order. */
export class RawStream<Req, Res> {
  private readonly queue: Res[] = [];
  private waiter?: { resolve: (r: Res) => void; reject: (e: Error) => void };
  private failure?: Error;
  /** When set, takes every response as it arrives instead of `next` (the benchmark ACKs from here). */
  onResponse?: (response: Res) => void;
  readonly ended: Promise<void>;

  constructor(private readonly call: grpc.ClientDuplexStream<Req, Res>) {
    call.on('data', (response: Res) => {
      if (this.onResponse) {
        this.onResponse(response);
      } else if (this.waiter) {
        const w = this.waiter;
        this.waiter = undefined;
        w.resolve(response);
      } else {
        this.queue.push(response);
      }
    });
    this.ended = new Promise((resolve) => {
      const fail = (err: Error) => {
        this.failure = err;
        this.waiter?.reject(err);
        this.waiter = undefined;
        resolve();
      };
      call.on('error', fail);
      call.on('end', () => fail(new Error('stream ended')));
    });
  }

  send(request: Req): void {
    this.call.write(request);
  }

  /** The next response not yet returned; rejects after `ms` or if the stream fails. */
  next(ms = 5000): Promise<Res> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`no response within ${ms} ms`));
      }, ms);
      this.waiter = {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
    });
  }

  /** Responses received but not yet returned by `next`. */
  get pending(): number {
    return this.queue.length;
  }

  /** Half-closes the stream and waits for the server to end it. */
  async close(): Promise<void> {
    this.call.end();
    await this.ended;
  }

  cancel(): void {
    this.call.cancel();
  }
}

function encoder<T extends object>(typeName: string): (request: T) => Buffer {
  const type = messageType(typeName);
  return (request) => Buffer.from(type.encode(type.fromObject(request)).finish());
}

export type SotwStream = RawStream<SotwRequest, SotwResponse>;
export type DeltaStream = RawStream<DeltaRequest, DeltaResponse>;

export interface AdsClientOptions {
  /** Its own HTTP/2 connection (real Envoys each have one) instead of grpc-js's shared one. */
  ownConnection?: boolean;
  /** HTTP/2 flow-control window (grpc-js's default is 64 KiB; Envoy's is far larger). */
  flowControlWindow?: number;
  /** Largest response accepted (grpc-js's default is 4 MiB; Envoy has no such default). */
  maxReceiveMessageLength?: number;
  /** TLS (e.g. grpc.credentials.createSsl with a client certificate); default plaintext. */
  credentials?: grpc.ChannelCredentials;
  /** The name the server certificate is checked against over TLS (default: the address, 127.0.0.1). */
  serverName?: string;
}

export class AdsClient {
  readonly client: grpc.Client;

  constructor(port: number, options: AdsClientOptions = {}) {
    this.client = new grpc.Client(`127.0.0.1:${port}`, options.credentials ?? grpc.credentials.createInsecure(), {
      ...(options.ownConnection ? { 'grpc.use_local_subchannel_pool': 1 } : {}),
      ...(options.flowControlWindow ? { 'grpc-node.flow_control_window': options.flowControlWindow } : {}),
      ...(options.maxReceiveMessageLength ? { 'grpc.max_receive_message_length': options.maxReceiveMessageLength } : {}),
      ...(options.serverName ? { 'grpc.ssl_target_name_override': options.serverName, 'grpc.default_authority': options.serverName } : {}),
    });
  }

  sotw(): SotwStream {
    const encode = encoder<SotwRequest>('envoy.service.discovery.v3.DiscoveryRequest');
    return new RawStream(this.client.makeBidiStreamRequest(`${ADS}/StreamAggregatedResources`, encode, readSotwResponse));
  }

  delta(): DeltaStream {
    const encode = encoder<DeltaRequest>('envoy.service.discovery.v3.DeltaDiscoveryRequest');
    return new RawStream(this.client.makeBidiStreamRequest(`${ADS}/DeltaAggregatedResources`, encode, readDeltaResponse));
  }

  close(): void {
    this.client.close();
  }
}

/** A delta ACK of a response. */
export function deltaAck(response: DeltaResponse): DeltaRequest {
  return { type_url: response.type_url, response_nonce: response.nonce };
}

/** The ACK of a SotW response, keeping the subscription as it was. */
export function sotwAck(response: SotwResponse, names: string[] = []): SotwRequest {
  return { type_url: response.type_url, version_info: response.version_info, response_nonce: response.nonce, resource_names: names };
}

/** The NACK of a SotW response: the last accepted version and an error. */
export function sotwNack(response: SotwResponse, lastAccepted: string, names: string[] = []): SotwRequest {
  return { ...sotwAck(response, names), version_info: lastAccepted, error_detail: { code: 3, message: 'rejected by test' } };
}

/**
 * A client that opens an ADS stream, asks for `typeUrl`, and never reads the answer: a raw HTTP/2
 * stream, paused. HTTP/2 flow control keeps what does not fit its 64 KiB window queued in the server.
 */
export function stalledClient(port: number, typeUrl: string, nodeId: string): http2.ClientHttp2Session {
  const session = http2.connect(`http://127.0.0.1:${port}`, { settings: { initialWindowSize: 65_535 } });
  session.on('error', () => undefined);
  const request = session.request({
    ':method': 'POST',
    ':path': '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources',
    'content-type': 'application/grpc',
    te: 'trailers',
  });
  request.on('error', () => undefined);
  const type = messageType('envoy.service.discovery.v3.DiscoveryRequest');
  const message = Buffer.from(type.encode(type.fromObject({ type_url: typeUrl, node: { id: nodeId } })).finish());
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  message.copy(frame, 5);
  request.write(frame);
  request.pause();
  return session;
}

/**
 * A client that stops reading at the TCP level, as a wedged Envoy or a proxy in front of one does,
 * with Envoy's wide flow-control windows: raw HTTP/2 frames that open the stream and connection
 * windows to 2^31-1 before the server's SETTINGS arrive, one ADS stream asking for `requests`, then
 * the socket is no longer read. The server may send as much as the kernel's buffers take; the
 * rest waits in the server.
 */
export async function tcpStalledClient(port: number, requests: SotwRequest[]): Promise<net.Socket> {
  const frame = (type: number, flags: number, stream: number, payload: Buffer) => {
    const header = Buffer.alloc(9);
    header.writeUIntBE(payload.length, 0, 3);
    header[3] = type;
    header[4] = flags;
    header.writeUInt32BE(stream, 5);
    return Buffer.concat([header, payload]);
  };
  const SETTINGS = 0x4;
  const settings = Buffer.alloc(12);
  settings.writeUInt16BE(0x2, 0); // ENABLE_PUSH
  settings.writeUInt32BE(0, 2);
  settings.writeUInt16BE(0x4, 6); // INITIAL_WINDOW_SIZE
  settings.writeUInt32BE(0x7fffffff, 8);
  const increment = Buffer.alloc(4);
  increment.writeUInt32BE(0x7fffffff - 65_535);
  // HPACK: every header a literal without indexing, new name, no Huffman coding (all shorter than 127 bytes).
  const literal = (name: string, value: string) => Buffer.concat([Buffer.from([0, name.length]), Buffer.from(name), Buffer.from([value.length]), Buffer.from(value)]);
  const headers = Buffer.concat([
    literal(':method', 'POST'),
    literal(':scheme', 'http'),
    literal(':path', `${ADS}/StreamAggregatedResources`),
    literal(':authority', `127.0.0.1:${port}`),
    literal('content-type', 'application/grpc'),
    literal('te', 'trailers'),
  ]);
  const encode = encoder<SotwRequest>('envoy.service.discovery.v3.DiscoveryRequest');
  const messages = requests.map((r) => {
    const message = encode(r);
    const grpcFrame = Buffer.alloc(5 + message.length);
    grpcFrame.writeUInt32BE(message.length, 1);
    message.copy(grpcFrame, 5);
    return frame(0x0, 0, 1, grpcFrame);
  });
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.write(Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), frame(SETTINGS, 0, 0, settings), frame(0x8, 0, 0, increment), frame(0x1, 0x4, 1, headers), ...messages]));
  // Acknowledge the server's SETTINGS (its first frame), then read no more.
  await new Promise<void>((resolve) => {
    let received = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length >= 9 && received[3] === SETTINGS) {
        socket.off('data', onData);
        socket.pause();
        socket.write(frame(SETTINGS, 0x1, 0, Buffer.alloc(0)));
        resolve();
      }
    };
    socket.on('data', onData);
  });
  return socket;
}