/**
 * Immutable, versioned snapshots of encoded Envoy resources, shared by every xDS
 * stream. Each resource is encoded once per content (cached by the identity of
 * the translator's objects; the RouteConfiguration is concatenated from cached
 * per-virtual-host encodings), and its version is a hash of its bytes, so a
 * restarted controller serves the same versions and Envoy does not churn.
 */
import { hash } from 'node:crypto';
import type { EnvoyResources } from '../envoy/translate';
import { messageType, TypeUrl, type ProtoJson, type ResourceTypeUrl } from '../envoy/protos';
import { encodeMessage, varintSize, WireWriter } from '../envoy/wire';

/** One resource, encoded once and shared by every stream and snapshot that holds it. */
export class EncodedResource {
  private hashed?: string;

  constructor(
    readonly name: string,
    readonly typeUrl: ResourceTypeUrl,
    /** The resource as a google.protobuf.Any message (type_url + value). */
    readonly any: Uint8Array,
    /** The proto3 JSON the resource was encoded from (for the debug endpoints). */
    readonly json: ProtoJson,
  ) {}

  /** Content hash of the encoded resource (delta xDS's per-resource version), computed on first use. */
  get version(): string {
    return (this.hashed ??= contentVersion(this.any));
  }
}

/** Resource types in the order make-before-break sends them. */
export const TYPE_ORDER: readonly ResourceTypeUrl[] = [TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment, TypeUrl.Listener, TypeUrl.RouteConfiguration];

export interface TypeSnapshot {
  /** By name, in name order. */
  resources: ReadonlyMap<string, EncodedResource>;
  /**
   * Every resource as a DiscoveryResponse `resources` entry, concatenated in name
   * order: the body of a full state-of-the-world response, built once.
   */
  body: Uint8Array;
  /** SotW version of the type: the hash of `body`. */
  version: string;
}

export interface Snapshot {
  /** Hash over every type's version. */
  version: string;
  types: ReadonlyMap<ResourceTypeUrl, TypeSnapshot>;
}

/** Builds snapshots, reusing the encoding of every resource object it has seen before. */
export class SnapshotBuilder {
  private encoded = new WeakMap<object, EncodedResource>();
  private virtualHosts = new WeakMap<object, Uint8Array>();
  private readonly writer = new WireWriter();

  build(resources: EnvoyResources, extraListeners: readonly ProtoJson[] = []): Snapshot {
    const types = new Map<ResourceTypeUrl, TypeSnapshot>();
    const add = (typeUrl: ResourceTypeUrl, list: readonly ProtoJson[], encode: (json: ProtoJson) => EncodedResource) => {
      const byName = new Map<string, EncodedResource>();
      for (const json of list) {
        let resource = this.encoded.get(json);
        if (!resource) this.encoded.set(json, (resource = encode(json)));
        byName.set(resource.name, resource);
      }
      const sorted = new Map([...byName].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
      const body = responseBody(sorted.values());
      types.set(typeUrl, { resources: sorted, body, version: contentVersion(body) });
    };
    add(TypeUrl.Cluster, resources.clusters, (json) => this.encodeGeneric(TypeUrl.Cluster, json));
    add(TypeUrl.ClusterLoadAssignment, resources.clusterLoadAssignments, (json) => this.encodeGeneric(TypeUrl.ClusterLoadAssignment, json));
    add(TypeUrl.Listener, [...resources.listeners, ...extraListeners], (json) => this.encodeGeneric(TypeUrl.Listener, json));
    add(TypeUrl.RouteConfiguration, resources.routeConfigurations, (json) => this.encodeRouteConfiguration(json));
    return { version: contentVersion(TYPE_ORDER.map((t) => types.get(t)!.version).join('\n')), types };
  }

  private encodeGeneric(typeUrl: ResourceTypeUrl, json: ProtoJson): EncodedResource {
    const { '@type': _type, ...fields } = json;
    const value = encodeMessage(messageType(typeUrl), fields);
    return new EncodedResource(String(json.name ?? json.cluster_name), typeUrl, anyBytes(typeUrl, value), json);
  }

  /**
   * A RouteConfiguration is framed by hand around its virtual hosts' cached
   * encodings (a repeated field is the concatenation of its elements), so one
   * changed trigger re-encodes one virtual host, not the whole table.
   */
  private encodeRouteConfiguration(json: ProtoJson): EncodedResource {
    const { '@type': _type, virtual_hosts: virtualHosts = [], ...rest } = json as ProtoJson & { virtual_hosts?: ProtoJson[] };
    const vhostType = messageType('envoy.config.route.v3.VirtualHost');
    const parts = virtualHosts.map((vh) => {
      let part = this.virtualHosts.get(vh);
      if (!part) this.virtualHosts.set(vh, (part = encodeMessage(vhostType, vh)));
      return part;
    });
    const head = encodeMessage(messageType(TypeUrl.RouteConfiguration), rest);
    let size = head.length;
    for (const p of parts) size += 1 + varintSize(p.length) + p.length;
    const w = this.writer;
    w.reset();
    w.buf = w.buf.length >= size ? w.buf : Buffer.allocUnsafe(size);
    w.buf.set(head, 0);
    w.pos = head.length;
    for (const p of parts) {
      w.tag(2, 2); // RouteConfiguration.virtual_hosts
      w.bytes(p);
    }
    return new EncodedResource(String(json.name), TypeUrl.RouteConfiguration, anyBytes(TypeUrl.RouteConfiguration, w.finish()), json);
  }
}

/** A content hash as a version: equal content gives equal versions across restarts. */
export function contentVersion(content: string | Uint8Array): string {
  return hash('sha1', content, 'base64url').slice(0, 16);
}

/** DiscoveryResponse.resources entries (field 2, repeated Any), concatenated. */
export function responseBody(resources: Iterable<EncodedResource>): Uint8Array {
  const list = [...resources];
  let size = 0;
  for (const r of list) size += 1 + varintSize(r.any.length) + r.any.length;
  const w = new WireWriter(size);
  for (const r of list) {
    w.tag(2, 2);
    w.bytes(r.any);
  }
  return w.buf.subarray(0, w.pos);
}

const anyWriter = new WireWriter();

/** A google.protobuf.Any holding an encoded message. */
export function anyBytes(typeUrl: string, value: Uint8Array): Uint8Array {
  const w = anyWriter;
  w.reset();
  w.tag(1, 2);
  w.string(typeUrl);
  w.tag(2, 2);
  w.bytes(value);
  return w.finish();
}
