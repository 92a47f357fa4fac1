/**
 * Immutable, versioned snapshots of encoded Envoy resources, shared by every xDS
 * stream. Each resource is encoded once per content (cached by the identity of
 * the translator's objects), straight into its type's response body; a type
 * whose resources did not change keeps its body and version from the previous
 * snapshot. Versions are hashes of content, so a restarted controller serves the
 * same versions and Envoy does not churn.
 */
import { hash } from 'node:crypto';
import { TypeUrl, type ResourceTypeUrl } from '../envoy/protos';
import { RouteTable, type EnvoyConfig, type EnvoyResource, type EnvoyVirtualHost } from '../envoy/translate';
import { encodeWith, varintSize, WireWriter } from '../envoy/wire';

/** One resource, encoded once and shared by every stream and snapshot that holds it. */
export class EncodedResource {
  private hashed?: string;

  constructor(
    readonly name: string,
    readonly typeUrl: ResourceTypeUrl,
    /** The resource as a DiscoveryResponse `resources` entry: field tag, length, then the Any. */
    readonly entry: Uint8Array,
    private readonly anyOffset: number,
    /** What was encoded (its JSON is for the debug endpoints). */
    readonly source: EnvoyResource,
    /** A content hash already known (a route table's, from its virtual hosts' hashes). */
    version?: string,
  ) {
    this.hashed = version;
  }

  /** A resource encoded on its own (not as part of a snapshot body). */
  static of(resource: EnvoyResource): EncodedResource {
    const entry = encodeWith((w) => {
      w.tag(RESOURCES_FIELD, 2);
      const mark = w.beginLength();
      writeAny(w, resource);
      w.endLength(mark);
    });
    return new EncodedResource(resource.name, resource.typeUrl, entry, 1 + readVarint(entry, 1).size, resource);
  }

  /** The resource as a google.protobuf.Any message (type_url + value). */
  get any(): Uint8Array {
    return this.entry.subarray(this.anyOffset);
  }

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

const RESOURCES_FIELD = 2; // DiscoveryResponse.resources
const VIRTUAL_HOSTS_FIELD = 2; // RouteConfiguration.virtual_hosts

/** Builds snapshots, reusing the encoding of every resource object it has seen before. */
export class SnapshotBuilder {
  private encoded = new WeakMap<EnvoyResource, EncodedResource>();
  /** Virtual hosts of the first table built, as views into it (one buffer, not thousands). */
  private tableViews = new WeakMap<EnvoyVirtualHost, Uint8Array>();
  /** Virtual hosts encoded since, with bytes of their own (so a table is not kept alive by one virtual host). */
  private ownBytes = new WeakMap<EnvoyVirtualHost, Uint8Array>();
  private virtualHostDigests = new WeakMap<EnvoyVirtualHost, string>();
  private tableWritten = false;
  private previous = new Map<ResourceTypeUrl, { input: readonly EnvoyResource[]; list: EncodedResource[]; snapshot: TypeSnapshot }>();

  /** Resources must come in name order (the translator emits them so); extra listeners are appended. */
  build(resources: EnvoyConfig, extraListeners: readonly EnvoyResource[] = []): Snapshot {
    const types = new Map<ResourceTypeUrl, TypeSnapshot>();
    types.set(TypeUrl.Cluster, this.typeSnapshot(TypeUrl.Cluster, resources.clusters));
    types.set(TypeUrl.ClusterLoadAssignment, this.typeSnapshot(TypeUrl.ClusterLoadAssignment, resources.clusterLoadAssignments));
    types.set(TypeUrl.Listener, this.typeSnapshot(TypeUrl.Listener, [...resources.listeners, ...extraListeners]));
    types.set(TypeUrl.RouteConfiguration, this.typeSnapshot(TypeUrl.RouteConfiguration, resources.routeConfigurations));
    return { version: contentVersion(TYPE_ORDER.map((t) => types.get(t)!.version).join('\n')), types };
  }

  private typeSnapshot(typeUrl: ResourceTypeUrl, list: readonly EnvoyResource[]): TypeSnapshot {
    const last = this.previous.get(typeUrl);
    if (last && last.input.length === list.length && last.input.every((resource, i) => resource === list[i])) return last.snapshot;
    // Sized from the last body of this type, so a 4 MiB route table is not grown by doubling each time.
    const writer = new WireWriter(Math.max(1024, list.length * 160, last ? last.snapshot.body.length + (last.snapshot.body.length >> 3) : 0));
    const fresh: { resource: EnvoyResource; start: number; end: number }[] = [];
    const slots: (EncodedResource | number)[] = [];
    for (const resource of list) {
      if (resource.typeUrl !== typeUrl) throw new Error(`${resource.typeUrl} resource "${resource.name}" given as a ${typeUrl}`);
      const known = this.encoded.get(resource);
      if (known) {
        slots.push(known);
        continue;
      }
      const start = writer.pos;
      writer.tag(RESOURCES_FIELD, 2);
      const mark = writer.beginLength();
      if (resource instanceof RouteTable) this.writeRouteTableAny(writer, resource);
      else writeAny(writer, resource);
      writer.endLength(mark);
      slots.push(fresh.length);
      fresh.push({ resource, start, end: writer.pos });
    }
    // Views are taken only now: the writer's buffer may have been reallocated while growing.
    const buffer = writer.buf;
    const encoded = slots.map((slot) => {
      if (typeof slot !== 'number') return slot;
      const { resource, start, end } = fresh[slot];
      const entry = buffer.subarray(start, end);
      const anyOffset = 1 + readVarint(entry, 1).size;
      let version: string | undefined;
      if (resource instanceof RouteTable) {
        if (!this.tableWritten) {
          this.rememberVirtualHosts(resource, entry.subarray(anyOffset));
          this.tableWritten = true;
        }
        version = this.routeTableVersion(resource);
      }
      const encoded = new EncodedResource(resource.name, typeUrl, entry, anyOffset, resource, version);
      this.encoded.set(resource, encoded);
      return encoded;
    });
    if (last && last.list.length === encoded.length && last.list.every((r, i) => r === encoded[i])) {
      this.previous.set(typeUrl, { ...last, input: list });
      return last.snapshot;
    }
    const body = fresh.length === encoded.length ? buffer.subarray(0, writer.pos) : Buffer.concat(encoded.map((r) => r.entry));
    const byName = new Map<string, EncodedResource>();
    for (const r of encoded) byName.set(r.name, r);
    // A single route table's version is known without hashing its megabytes again.
    const version = typeUrl === TypeUrl.RouteConfiguration && encoded.length === 1 ? encoded[0].version : contentVersion(body);
    const snapshot = { resources: byName, body, version };
    this.previous.set(typeUrl, { input: list, list: encoded, snapshot });
    return snapshot;
  }

  /**
   * A RouteConfiguration is framed by hand around its virtual hosts' cached
   * encodings (a repeated field is the concatenation of its elements), so one
   * changed trigger re-encodes one virtual host, not the whole table.
   */
  private writeRouteTableAny(w: WireWriter, table: RouteTable): void {
    w.tag(1, 2);
    w.string(TypeUrl.RouteConfiguration);
    w.tag(2, 2);
    const valueMark = w.beginLength();
    table.writeHead(w);
    // Unchanged virtual hosts still lie side by side, framed, in the first table:
    // copy each such run at once instead of one virtual host at a time.
    let run: { buffer: ArrayBufferLike; start: number; end: number } | undefined;
    const flush = () => {
      if (run) w.raw(new Uint8Array(run.buffer, run.start, run.end - run.start));
      run = undefined;
    };
    for (const vh of table.virtualHosts) {
      const view = this.tableViews.get(vh);
      if (view) {
        const start = view.byteOffset - 1 - varintSize(view.length); // its field tag and length precede it
        if (run && run.buffer === view.buffer && run.end === start) run.end = view.byteOffset + view.length;
        else {
          flush();
          run = { buffer: view.buffer, start, end: view.byteOffset + view.length };
        }
        continue;
      }
      flush();
      w.tag(VIRTUAL_HOSTS_FIELD, 2);
      let bytes = this.ownBytes.get(vh);
      if (!bytes && this.tableWritten) this.ownBytes.set(vh, (bytes = encodeWith((own) => vh.write(own))));
      if (bytes) {
        w.bytes(bytes);
      } else {
        const mark = w.beginLength();
        vh.write(w);
        w.endLength(mark);
      }
    }
    flush();
    w.endLength(valueMark);
  }

  /** The first table's virtual hosts are cached as views into it (one buffer, not thousands). */
  private rememberVirtualHosts(table: RouteTable, any: Uint8Array): void {
    const value = lengthDelimitedFields(any).get(2)![0]; // Any.value
    const views = lengthDelimitedFields(value).get(VIRTUAL_HOSTS_FIELD) ?? [];
    table.virtualHosts.forEach((vh, i) => this.tableViews.set(vh, views[i]));
  }

  /**
   * A route table's version: a hash of its other fields and of each virtual
   * host's own hash (taken once per virtual host), so one changed trigger does not
   * cost a hash of the whole multi-megabyte table.
   */
  private routeTableVersion(table: RouteTable): string {
    const parts = [contentVersion(encodeWith((w) => table.writeHead(w)))];
    for (const vh of table.virtualHosts) {
      let digest = this.virtualHostDigests.get(vh);
      if (!digest) {
        digest = contentVersion((this.tableViews.get(vh) ?? this.ownBytes.get(vh))!);
        this.virtualHostDigests.set(vh, digest);
      }
      parts.push(digest);
    }
    return contentVersion(parts.join('\n'));
  }
}

/** Writes a google.protobuf.Any holding the resource. */
function writeAny(w: WireWriter, resource: EnvoyResource): void {
  w.tag(1, 2);
  w.string(resource.typeUrl);
  w.tag(2, 2);
  const mark = w.beginLength();
  resource.write(w);
  w.endLength(mark);
}

function readVarint(bytes: Uint8Array, at: number): { value: number; size: number } {
  let value = 0;
  let multiplier = 1;
  let size = 0;
  for (;;) {
    const b = bytes[at + size++];
    value += (b & 0x7f) * multiplier;
    if (b < 0x80) return { value, size };
    multiplier *= 128;
  }
}

/** The length-delimited fields of a message, by field number, as views (other wire types skipped). */
function lengthDelimitedFields(message: Uint8Array): Map<number, Uint8Array[]> {
  const fields = new Map<number, Uint8Array[]>();
  let at = 0;
  while (at < message.length) {
    const key = readVarint(message, at);
    at += key.size;
    const wire = key.value & 7;
    if (wire === 2) {
      const length = readVarint(message, at);
      at += length.size;
      const list = fields.get(Math.floor(key.value / 8)) ?? [];
      list.push(message.subarray(at, at + length.value));
      fields.set(Math.floor(key.value / 8), list);
      at += length.value;
    } else if (wire === 0) {
      at += readVarint(message, at).size;
    } else {
      at += wire === 1 ? 8 : 4;
    }
  }
  return fields;
}

/** A content hash as a version: equal content gives equal versions across restarts. */
export function contentVersion(content: string | Uint8Array): string {
  return hash('sha256', content, 'base64url').slice(0, 16);
}

/** DiscoveryResponse.resources entries, concatenated. */
export function responseBody(resources: Iterable<EncodedResource>): Uint8Array {
  return Buffer.concat([...resources].map((r) => r.entry));
}
