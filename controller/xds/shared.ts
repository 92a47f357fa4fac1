/**
 * What every xDS stream shares: derived resource sets, diffs between sets and the
 * response bytes built from them. Streams hold references to these shared,
 * immutable objects instead of per-stream copies, so 100 streams at the same
 * state cost one diff and one encoded response, not 100 (go-control-plane
 * #597, java-control-plane #89: per-client copies are where memory and CPU go).
 *
 * Caches are keyed by the identity of the resource maps (WeakMaps), so they are
 * dropped with the snapshots that hold them.
 */
import { WireWriter } from '../envoy/wire';
import { contentVersion, responseBody, type EncodedResource } from './snapshot';

export type ResourceMap = ReadonlyMap<string, EncodedResource>;

/** Resources a response can carry: one type of a snapshot, or a set derived from one. */
export interface ResourceSet {
  readonly resources: ResourceMap;
  /** The SotW `resources` field bytes. */
  readonly body: Uint8Array;
  readonly version: string;
}

/** A derived set; its SotW body is only built if a SotW stream asks for it. */
class DerivedSet implements ResourceSet {
  private built?: Uint8Array;

  constructor(
    readonly resources: ResourceMap,
    readonly version: string,
    private readonly onBuild: (bytes: number) => void,
  ) {}

  get body(): Uint8Array {
    if (!this.built) {
      this.built = responseBody(this.resources.values());
      this.onBuild(this.built.length);
    }
    return this.built;
  }
}

export const EMPTY_RESOURCES: ResourceMap = new Map();
export const NO_NAMES: ReadonlySet<string> = new Set();

/** What changed from one resource map to another. */
export interface Diff {
  /** Added or changed, in name order. */
  readonly updated: readonly EncodedResource[];
  readonly removed: readonly string[];
}

/** A response ready to write: shared by every stream that is sent the same content. */
export interface Response {
  readonly nonce: string;
  readonly bytes: Buffer;
  /** The response without its nonce, to re-stamp it for a stream that already has this nonce. */
  readonly unstamped: Uint8Array;
}

export interface EncodeStats {
  /** Responses assembled (cache misses); each stream that reuses one adds nothing. */
  responsesBuilt: number;
  /** Bytes of response bodies and delta resource entries assembled. */
  bytesBuilt: number;
}

export class SharedEncodings {
  readonly stats: EncodeStats = { responsesBuilt: 0, bytesBuilt: 0 };
  private nonce = 0;
  private readonly held = new WeakMap<ResourceMap, WeakMap<ResourceMap, ResourceSet>>();
  private readonly diffs = new WeakMap<ResourceMap, WeakMap<ResourceMap, Diff>>();
  private readonly sotw = new WeakMap<ResourceSet, Response>();
  private readonly deltaEntries = new WeakMap<EncodedResource, Uint8Array>();
  private readonly deltaShared = new WeakMap<Diff, { systemVersion: string; response: Response }>();
  /** Named subsets by type and content version; cleared with every snapshot. */
  private subsets = new Map<string, ResourceSet>();
  private readonly countBuild = (bytes: number) => {
    this.stats.bytesBuilt += bytes;
  };

  /**
   * Subscribed name sets, by the set they were derived from and the change: every
   * Envoy subscribes to the same 10k cluster names for EDS, and then to the same
   * additions; sharing the sets keeps that one set, not one per stream. Held
   * weakly: a set no stream holds any more is dropped.
   */
  private readonly derivedNames = new WeakMap<ReadonlySet<string>, Map<string, WeakRef<ReadonlySet<string>>>>();
  private readonly forgetNames = new FinalizationRegistry<{ from: WeakRef<ReadonlySet<string>>; key: string }>(({ from, key }) => {
    const parent = from.deref();
    const byChange = parent && this.derivedNames.get(parent);
    if (byChange && !byChange.get(key)?.deref()) byChange.delete(key);
  });

  /** `from` with `add` added, then `remove` removed; streams making the same change to the same set share the result. */
  names(from: ReadonlySet<string>, add: readonly string[], remove: readonly string[]): ReadonlySet<string> {
    if (add.length === 0 && remove.length === 0) return from;
    const key = `${[...add].sort().join('\n')}\u0000${[...remove].sort().join('\n')}`;
    let byChange = this.derivedNames.get(from);
    if (!byChange) this.derivedNames.set(from, (byChange = new Map()));
    let next = byChange.get(key)?.deref();
    if (!next) {
      const set = new Set(from);
      for (const name of add) set.add(name);
      for (const name of remove) set.delete(name);
      next = set;
      byChange.set(key, new WeakRef(next));
      this.forgetNames.register(next, { from: new WeakRef(from), key });
    }
    return next;
  }

  /** Nonces are unique per server, so a response (and its nonce) can be shared by streams. */
  nextNonce(): string {
    return String(++this.nonce);
  }

  snapshotChanged(): void {
    this.subsets = new Map();
  }

  /**
   * `base` plus whatever `had` holds that `base` no longer does: the clusters a
   * client keeps until it has ACKed routes that no longer use them. `base`
   * itself when nothing was removed.
   */
  withHeld(base: ResourceSet, had: ResourceMap): ResourceSet {
    let byBase = this.held.get(had);
    if (!byBase) this.held.set(had, (byBase = new WeakMap()));
    let set = byBase.get(base.resources);
    if (!set) {
      const kept = [...had.values()].filter((r) => !base.resources.has(r.name));
      if (kept.length === 0) {
        set = base;
      } else {
        const resources = new Map(base.resources);
        for (const r of kept) resources.set(r.name, r);
        const version = contentVersion(`${base.version}\n${kept.map((r) => `${r.name}\u0000${r.version}`).join('\n')}`);
        set = new DerivedSet(new Map([...resources].sort(byName)), version, this.countBuild);
      }
      byBase.set(base.resources, set);
    }
    return set;
  }

  /** Resources added, changed and removed from `from` to `to` (computed once per pair). */
  diff(from: ResourceMap, to: ResourceMap): Diff {
    let byTo = this.diffs.get(from);
    if (!byTo) this.diffs.set(from, (byTo = new WeakMap()));
    let diff = byTo.get(to);
    if (!diff) {
      const updated: EncodedResource[] = [];
      const removed: string[] = [];
      for (const [name, r] of to) {
        const old = from.get(name);
        // Identity first: the builder reuses unchanged resources, so hashing is rarely needed.
        if (old !== r && old?.version !== r.version) updated.push(r);
      }
      for (const name of from.keys()) if (!to.has(name)) removed.push(name);
      diff = { updated, removed };
      byTo.set(to, diff);
    }
    return diff;
  }

  /** A named subset of a type (gRPC clients name what they want), shared by streams asking for the same. */
  subset(typeUrl: string, resources: readonly EncodedResource[]): ResourceSet {
    const version = contentVersion(resources.map((r) => `${r.name}\u0000${r.version}`).join('\n'));
    const key = `${typeUrl}\n${version}`;
    let set = this.subsets.get(key);
    if (!set) this.subsets.set(key, (set = new DerivedSet(new Map(resources.map((r) => [r.name, r])), version, this.countBuild)));
    return set;
  }

  /** A state-of-the-world DiscoveryResponse carrying `set`, built once per set. */
  sotwResponse(typeUrl: string, set: ResourceSet, avoidNonce: string | undefined): Response {
    let response = this.sotw.get(set);
    if (!response) {
      const body = set.body;
      const w = new WireWriter(body.length + set.version.length + typeUrl.length + 16);
      w.tag(1, 2); // version_info
      w.string(set.version);
      w.buf.set(body, w.pos); // resources (field 2), pre-framed
      w.pos += body.length;
      w.tag(4, 2); // type_url
      w.string(typeUrl);
      response = this.stamp(w.buf.subarray(0, w.pos));
      this.sotw.set(set, response);
    }
    return response.nonce === avoidNonce ? this.restamp(response) : response;
  }

  /**
   * A DeltaDiscoveryResponse. With `shareAs` (the diff it was computed from, when
   * every stream at that diff gets exactly these resources) it is built once.
   */
  deltaResponse(
    typeUrl: string,
    systemVersion: string,
    updated: readonly EncodedResource[],
    removed: readonly string[],
    avoidNonce: string | undefined,
    shareAs?: Diff,
  ): Response {
    const cached = shareAs && this.deltaShared.get(shareAs);
    if (cached && cached.systemVersion === systemVersion) {
      return cached.response.nonce === avoidNonce ? this.restamp(cached.response) : cached.response;
    }
    const entries = updated.map((r) => this.deltaEntry(r));
    let size = systemVersion.length + typeUrl.length + 16;
    for (const e of entries) size += e.length;
    for (const name of removed) size += name.length + 8;
    const w = new WireWriter(size);
    w.tag(1, 2); // system_version_info
    w.string(systemVersion);
    for (const e of entries) {
      w.buf.set(e, w.pos); // resources (field 2), pre-framed
      w.pos += e.length;
    }
    w.tag(4, 2); // type_url
    w.string(typeUrl);
    for (const name of removed) {
      w.tag(6, 2); // removed_resources
      w.string(name);
    }
    const response = this.stamp(w.buf.subarray(0, w.pos));
    if (shareAs) this.deltaShared.set(shareAs, { systemVersion, response });
    return response;
  }

  /** `resources` entry of a DeltaDiscoveryResponse: Resource{name, version, resource: Any}, framed once per resource. */
  private deltaEntry(r: EncodedResource): Uint8Array {
    let entry = this.deltaEntries.get(r);
    if (!entry) {
      const w = new WireWriter(r.any.length + r.name.length + 48);
      w.tag(2, 2); // DeltaDiscoveryResponse.resources
      const mark = w.beginLength();
      w.tag(3, 2); // Resource.name
      w.string(r.name);
      w.tag(1, 2); // Resource.version
      w.string(r.version);
      w.tag(2, 2); // Resource.resource (Any)
      w.bytes(r.any);
      w.endLength(mark);
      entry = w.finish();
      this.deltaEntries.set(r, entry);
      this.stats.bytesBuilt += entry.length;
    }
    return entry;
  }

  private stamp(unstamped: Uint8Array): Response {
    const nonce = this.nextNonce();
    const tail = new WireWriter(nonce.length + 2);
    tail.tag(5, 2); // nonce (the same field number in both response messages)
    tail.string(nonce);
    const bytes = Buffer.concat([unstamped, tail.buf.subarray(0, tail.pos)]);
    this.stats.responsesBuilt++;
    this.stats.bytesBuilt += bytes.length;
    return { nonce, bytes, unstamped: bytes.subarray(0, unstamped.length) };
  }

  /** The same content under a fresh nonce: a stream must never see one nonce twice. */
  private restamp(response: Response): Response {
    return this.stamp(response.unstamped);
  }
}

function byName(a: [string, unknown], b: [string, unknown]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}
