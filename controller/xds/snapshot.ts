/**
 * Immutable, versioned snapshots of encoded Envoy resources, shared by every xDS
 * stream. Each resource is encoded once per content (a resource object that was
 * in the last snapshot keeps its encoding), straight into its type's response body; a type
 * whose resources did not change keeps its body and version from the previous
 * snapshot. Versions are hashes of content, so a restarted controller serves the
 * same versions and Envoy does not churn.
 *
 * Delta streams of Envoys that take VHDS over ADS read a variant (`deltaTypes`):
 * the route table without virtual hosts (VHDS enabled) and each virtual host as
 * a resource of its own, cut from the table's bytes.
 */
import { hash } from 'node:crypto';
import { TypeUrl, type ResourceTypeUrl } from '../envoy/protos';
import { framedMessageStart, writeVirtualHostEntry } from '../envoy/encode';
import { DEFAULT_VIRTUAL_HOST, RouteTable, VHDS_ROUTE_TABLE, virtualHostResource, type EnvoyConfig, type EnvoyResource, type EnvoyVirtualHost } from '../envoy/translate';
import { encodeWith, WireWriter } from '../envoy/wire';

/** One resource, encoded once and shared by every stream and snapshot that holds it. */
export class EncodedResource {
  constructor(
    readonly name: string,
    readonly typeUrl: ResourceTypeUrl,
    /** Holds the resource as a DiscoveryResponse `resources` entry (field tag, length, then the Any) at `start`..`end`. */
    private readonly buffer: Uint8Array,
    private readonly start: number,
    private readonly end: number,
    /** What was encoded (its JSON is for the debug endpoints). */
    readonly source: EnvoyResource,
    /** A content hash already known (a route table's, from its parts' hashes). */
    private hashed?: string,
  ) {}

  /** A resource encoded on its own (not as part of a snapshot body). */
  static of(resource: EnvoyResource): EncodedResource {
    return EncodedResource.framed(resource, (w) => writeAny(w, resource));
  }

  /** A resource whose message is already encoded. */
  static ofMessage(resource: EnvoyResource, message: Uint8Array): EncodedResource {
    return EncodedResource.framed(resource, (w) => {
      w.tag(1, 2);
      w.string(resource.typeUrl);
      w.tag(2, 2);
      w.bytes(message);
    });
  }

  private static framed(resource: EnvoyResource, writeAnyFields: (w: WireWriter) => void): EncodedResource {
    const entry = encodeWith((w) => {
      w.tag(RESOURCES_FIELD, 2);
      const mark = w.beginLength();
      writeAnyFields(w);
      w.endLength(mark);
    });
    return new EncodedResource(resource.name, resource.typeUrl, entry, 0, entry.length, resource);
  }

  /** The resource as a DiscoveryResponse `resources` entry. A view made on each use: snapshots hold tens of thousands. */
  get entry(): Uint8Array {
    return this.buffer.subarray(this.start, this.end);
  }

  /** The resource as a google.protobuf.Any message (type_url + value). */
  get any(): Uint8Array {
    return this.buffer.subarray(framedMessageStart(this.buffer, this.start), this.end);
  }

  /** Content hash of the encoded resource (delta xDS's per-resource version), computed on first use. */
  get version(): string {
    return (this.hashed ??= contentVersion(this.any));
  }
}

/** Resource types in the order make-before-break sends them (virtual hosts after the table that holds them). */
export const TYPE_ORDER: readonly ResourceTypeUrl[] = [TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment, TypeUrl.Listener, TypeUrl.RouteConfiguration, TypeUrl.VirtualHost];
/** The types a state-of-the-world snapshot has (VHDS is delta only). */
export const SOTW_TYPE_ORDER = TYPE_ORDER.filter((t) => t !== TypeUrl.VirtualHost);

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
  /** What state-of-the-world streams are served: the route table whole. */
  types: ReadonlyMap<ResourceTypeUrl, TypeSnapshot>;
  /**
   * What delta streams are served: the same, except that the route table comes
   * without virtual hosts and they come one by one as VirtualHost resources
   * (VHDS). Built on first use.
   */
  readonly deltaTypes: ReadonlyMap<ResourceTypeUrl, TypeSnapshot>;
}

const RESOURCES_FIELD = 2; // DiscoveryResponse.resources

/** A route table as written: its RouteConfiguration bytes and where each virtual host's entry starts in them. */
interface WrittenTable {
  table: RouteTable;
  /** Length of the RouteConfiguration bytes, which end where the resource's entry ends. */
  length: number;
  /** Each virtual host's entry's offset in those bytes, then their end. */
  offsets: Int32Array;
  /** Per bucket of HASH_BUCKET virtual hosts: whether any was written afresh (1) or all copied (0). */
  rewritten: Uint8Array;
}

/**
 * A route table's version hashes its virtual hosts in buckets of this many, then
 * the buckets' hashes: a change rehashes one bucket, not megabytes. Buckets go by
 * position, so the version depends on the content alone.
 */
const HASH_BUCKET = 64;

/** Builds snapshots, reusing the encoding of every resource object it has seen before. */
export class SnapshotBuilder {
  /** The last route table written, whose unchanged virtual hosts the next one copies. */
  private lastTable?: WrittenTable & { bytes: Uint8Array; bucketHashes: string[] };
  /** Each virtual host as a VHDS resource, made once per virtual host object. */
  private virtualHostResources = new WeakMap<EnvoyVirtualHost, EncodedResource>();
  private vhdsTable?: TypeSnapshot;
  private defaultVirtualHost?: EncodedResource;
  private previous = new Map<ResourceTypeUrl, { input: readonly EnvoyResource[]; list: EncodedResource[]; snapshot: TypeSnapshot }>();

  /** Resources must come in name order (the translator emits them so); extra listeners are appended. */
  build(resources: EnvoyConfig, extraListeners: readonly EnvoyResource[] = []): Snapshot {
    const builder = this;
    const types = new Map<ResourceTypeUrl, TypeSnapshot>();
    types.set(TypeUrl.Cluster, this.typeSnapshot(TypeUrl.Cluster, resources.clusters));
    types.set(TypeUrl.ClusterLoadAssignment, this.typeSnapshot(TypeUrl.ClusterLoadAssignment, resources.clusterLoadAssignments));
    types.set(TypeUrl.Listener, this.typeSnapshot(TypeUrl.Listener, [...resources.listeners, ...extraListeners]));
    types.set(TypeUrl.RouteConfiguration, this.typeSnapshot(TypeUrl.RouteConfiguration, resources.routeConfigurations));
    const [table, ...others] = resources.routeConfigurations;
    // VHDS splits the translator's own table; any other table (tests build some) is served whole.
    const written = table instanceof RouteTable && others.length === 0 && this.lastTable?.table === table ? this.lastTable : undefined;
    let deltaTypes: ReadonlyMap<ResourceTypeUrl, TypeSnapshot> | undefined;
    return {
      version: contentVersion(SOTW_TYPE_ORDER.map((t) => types.get(t)!.version).join('\n')),
      types,
      get deltaTypes() {
        return (deltaTypes ??= written ? builder.deltaTypes(types, written) : types);
      },
    };
  }

  private deltaTypes(types: ReadonlyMap<ResourceTypeUrl, TypeSnapshot>, written: WrittenTable & { bytes: Uint8Array }): ReadonlyMap<ResourceTypeUrl, TypeSnapshot> {
    const delta = new Map(types);
    this.vhdsTable ??= this.typeSnapshot(TypeUrl.RouteConfiguration, [VHDS_ROUTE_TABLE], { variant: true });
    delta.set(TypeUrl.RouteConfiguration, this.vhdsTable);
    // In name order: `ingress_http/*` sorts before every host's name.
    this.defaultVirtualHost ??= EncodedResource.of(DEFAULT_VIRTUAL_HOST);
    const resources = new Map<string, EncodedResource>([[DEFAULT_VIRTUAL_HOST.name, this.defaultVirtualHost]]);
    written.table.virtualHosts.forEach((vh, i) => {
      let resource = this.virtualHostResources.get(vh);
      if (!resource) {
        // The virtual host's message, cut from its entry in the table.
        const message = written.bytes.subarray(framedMessageStart(written.bytes, written.offsets[i]), written.offsets[i + 1]);
        resource = EncodedResource.ofMessage(virtualHostResource(vh), message);
        this.virtualHostResources.set(vh, resource);
      }
      resources.set(vh.name, resource);
    });
    delta.set(TypeUrl.VirtualHost, new VirtualHostType(resources, types.get(TypeUrl.RouteConfiguration)!.version));
    return delta;
  }

  /** `variant`: a delta variant of the type, which the next build must not take for the type's last snapshot to reuse. */
  private typeSnapshot(typeUrl: ResourceTypeUrl, list: readonly EnvoyResource[], options: { variant?: boolean } = {}): TypeSnapshot {
    const last = options.variant ? undefined : this.previous.get(typeUrl);
    if (last && last.input.length === list.length && last.input.every((resource, i) => resource === list[i])) return last.snapshot;
    // Sized from the last body of this type, so a 4 MiB route table is not grown by doubling each time.
    const writer = new WireWriter(Math.max(1024, list.length * 160, last ? last.snapshot.body.length + (last.snapshot.body.length >> 3) : 0));
    // Resources encoded now, with where each lies in the body (parallel arrays: tens of thousands of them).
    const fresh: EnvoyResource[] = [];
    const bounds: number[] = [];
    const slots: (EncodedResource | number)[] = [];
    let table: (WrittenTable & { end: number }) | undefined;
    const typeUrlField = anyTypeUrlField(typeUrl);
    for (let i = 0; i < list.length; i++) {
      const resource = list[i];
      if (resource.typeUrl !== typeUrl) throw new Error(`${resource.typeUrl} resource "${resource.name}" given as a ${typeUrl}`);
      const known = last && encodedBefore(last, resource, i);
      if (known) {
        slots.push(known);
        continue;
      }
      const start = writer.pos;
      writer.tag(RESOURCES_FIELD, 2);
      const mark = writer.beginLength();
      if (resource instanceof RouteTable) table = { ...this.writeRouteTableAny(writer, resource), end: 0 };
      else writeAny(writer, resource, typeUrlField);
      writer.endLength(mark);
      if (table?.table === resource) table.end = writer.pos;
      slots.push(fresh.length);
      fresh.push(resource);
      bounds.push(start, writer.pos);
    }
    // Views are taken only now: the writer's buffer may have been reallocated while growing.
    const buffer = writer.buf;
    let tableVersion: string | undefined;
    if (table) {
      const written = { ...table, bytes: buffer.subarray(table.end - table.length, table.end) };
      const bucketHashes = this.bucketHashes(written);
      tableVersion = contentVersion([contentVersion(written.bytes.subarray(0, written.offsets[0])), ...bucketHashes].join('\n'));
      this.lastTable = { ...written, bucketHashes };
    }
    const encoded = slots.map((slot) => {
      if (typeof slot !== 'number') return slot;
      const resource = fresh[slot];
      return new EncodedResource(resource.name, typeUrl, buffer, bounds[2 * slot], bounds[2 * slot + 1], resource, resource === table?.table ? tableVersion : undefined);
    });
    if (last && last.list.length === encoded.length && last.list.every((r, i) => r === encoded[i])) {
      this.previous.set(typeUrl, { ...last, input: list });
      return last.snapshot;
    }
    const body = fresh.length === encoded.length ? buffer.subarray(0, writer.pos) : Buffer.concat(encoded.map((r) => r.entry));
    const byName = new Map<string, EncodedResource>();
    for (const r of encoded) byName.set(r.name, r);
    // A single resource's version is the type's: the megabytes of a route table are hashed once.
    const version = encoded.length === 1 ? encoded[0].version : contentVersion(body);
    const snapshot = { resources: byName, body, version };
    if (!options.variant) this.previous.set(typeUrl, { input: list, list: encoded, snapshot });
    return snapshot;
  }

  /**
   * A route table is written around its previous version: runs of virtual hosts
   * that are the same objects as last time are copied from the last table's
   * bytes at once (a repeated field is the concatenation of its elements), so one
   * changed trigger encodes one virtual host and copies the rest.
   */
  private writeRouteTableAny(w: WireWriter, table: RouteTable): WrittenTable {
    w.tag(1, 2);
    w.string(TypeUrl.RouteConfiguration);
    w.tag(2, 2);
    const valueMark = w.beginLength();
    const start = w.pos;
    table.writeHead(w);
    const virtualHosts = table.virtualHosts;
    const offsets = new Int32Array(virtualHosts.length + 1);
    const last = this.lastTable && this.lastTable.table.virtualHosts.length === virtualHosts.length ? this.lastTable : undefined;
    const rewritten = new Uint8Array(Math.ceil(virtualHosts.length / HASH_BUCKET)).fill(last ? 0 : 1);
    let runFrom = -1;
    const copyRun = (to: number) => {
      if (!last || runFrom < 0) return;
      const shift = w.pos - start - last.offsets[runFrom];
      for (let j = runFrom; j < to; j++) offsets[j] = last.offsets[j] + shift;
      w.raw(last.bytes.subarray(last.offsets[runFrom], last.offsets[to]));
      runFrom = -1;
    };
    for (let i = 0; i < virtualHosts.length; i++) {
      const vh = virtualHosts[i];
      if (last && last.table.virtualHosts[i] === vh) {
        if (runFrom < 0) runFrom = i;
        continue;
      }
      copyRun(i);
      rewritten[Math.floor(i / HASH_BUCKET)] = 1;
      offsets[i] = w.pos - start;
      writeVirtualHostEntry(w, vh);
    }
    copyRun(virtualHosts.length);
    const length = w.pos - start;
    offsets[virtualHosts.length] = length;
    w.endLength(valueMark);
    return { table, length, offsets, rewritten };
  }

  /** Hashes of the table's buckets of virtual hosts, reusing the last table's for buckets copied whole. */
  private bucketHashes(written: WrittenTable & { bytes: Uint8Array }): string[] {
    const last = this.lastTable;
    const count = written.table.virtualHosts.length;
    const hashes: string[] = [];
    for (let b = 0; b * HASH_BUCKET < count; b++) {
      const reuse = !written.rewritten[b] && last && last.table.virtualHosts.length === count;
      hashes.push(reuse ? last.bucketHashes[b] : contentVersion(written.bytes.subarray(written.offsets[b * HASH_BUCKET], written.offsets[Math.min(count, (b + 1) * HASH_BUCKET)])));
    }
    return hashes;
  }
}

/** The VHDS virtual hosts of a snapshot. Only delta streams read them, so the SotW body is built only if asked for. */
class VirtualHostType implements TypeSnapshot {
  private built?: Uint8Array;

  constructor(
    readonly resources: ReadonlyMap<string, EncodedResource>,
    /** The route table's: the same content. */
    readonly version: string,
  ) {}

  get body(): Uint8Array {
    return (this.built ??= responseBody(this.resources.values()));
  }
}

/**
 * The encoding of the last snapshot's that is for this very resource object: at
 * the same position (an edit in place), else under the same name (positions
 * shifted by an addition or removal).
 */
function encodedBefore(last: { list: EncodedResource[]; snapshot: TypeSnapshot }, resource: EnvoyResource, position: number): EncodedResource | undefined {
  const same = last.list[position];
  if (same?.source === resource) return same;
  const named = last.snapshot.resources.get(resource.name);
  return named?.source === resource ? named : undefined;
}

const typeUrlFields = new Map<string, Uint8Array>();

/** Any.type_url as an encoded field: written once per type, copied into tens of thousands of resources. */
function anyTypeUrlField(typeUrl: string): Uint8Array {
  let field = typeUrlFields.get(typeUrl);
  if (!field) {
    // Its own writer: this may run inside an encodeWith (EncodedResource.of), whose scratch buffer is in use.
    const w = new WireWriter(typeUrl.length + 8);
    w.tag(1, 2);
    w.string(typeUrl);
    typeUrlFields.set(typeUrl, (field = w.buf.subarray(0, w.pos)));
  }
  return field;
}

/** Writes a google.protobuf.Any holding the resource. */
function writeAny(w: WireWriter, resource: EnvoyResource, typeUrlField = anyTypeUrlField(resource.typeUrl)): void {
  w.raw(typeUrlField);
  w.tag(2, 2);
  const mark = w.beginLength();
  resource.write(w);
  w.endLength(mark);
}

/** A content hash as a version: equal content gives equal versions across restarts. */
export function contentVersion(content: string | Uint8Array): string {
  return hash('sha256', content, 'base64url').slice(0, 16);
}

/** DiscoveryResponse.resources entries, concatenated. */
export function responseBody(resources: Iterable<EncodedResource>): Uint8Array {
  return Buffer.concat([...resources].map((r) => r.entry));
}
