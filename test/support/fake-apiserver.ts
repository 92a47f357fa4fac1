/**
 * A small in-memory Kubernetes API server for tests, speaking enough of the real
 * protocol for @kubernetes/client-node to run unmodified against it over plain
 * HTTP on 127.0.0.1:
 * - list with a collection resourceVersion; label selectors (`k`, `k=v`);
 * - watch from a resourceVersion (history replay, then live events), BOOKMARK
 *   events when asked for, and 410 Gone (an ERROR event, as the real server
 *   sends) for a resourceVersion older than the last compaction;
 * - create, get, update (optimistic concurrency on resourceVersion), JSON merge
 *   patch (with a resourceVersion precondition), server-side apply
 *   (`application/apply-patch+yaml`, fieldManager required) and delete;
 * - the status subresource: writes to the object ignore status, writes to
 *   `/status` change only status; `generation` moves with spec changes only;
 * - garbage collection of dependents (ownerReferences) when an owner is deleted,
 *   which in a real cluster the garbage collector does shortly after.
 *
 * Server-side apply is simplified: the applied configuration's labels,
 * annotations, ownerReferences and top-level fields replace the stored ones
 * (there is no per-field ownership or conflict detection between managers).
 */
import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import * as YAML from 'yaml';

type Obj = Record<string, any>;

interface WatchEvent {
  rv: number;
  collection: string;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: Obj;
}

interface Watcher {
  collection: string;
  namespace?: string;
  selector: (o: Obj) => boolean;
  bookmarks: boolean;
  res: http.ServerResponse;
}

export interface WriteRecord {
  method: string;
  /** When it arrived (performance.now()). */
  at: number;
  path: string;
  contentType?: string;
  fieldManager?: string;
  body?: Obj;
}

/** Checks an object a client writes; returns problems (the write is refused with 422 when there are any). */
export type WriteValidator = (collection: string, object: Obj) => string[];

/** Resources that have a status subresource. */
const STATUS_SUBRESOURCE = new Set(['httptriggers', 'workloaddeployments', 'workloads', 'hosts']);

export class FakeApiServer {
  private readonly objects = new Map<string, Obj>();
  private history: WatchEvent[] = [];
  private readonly watchers = new Set<Watcher>();
  private readonly sockets = new Set<Socket>();
  private server?: http.Server;
  private rv = 100;
  private compactedRv = 0;
  port = 0;
  /** Every write a client made, in order. */
  readonly writes: WriteRecord[] = [];
  /** Every request a client made (`METHOD path?query`). */
  readonly requests: string[] = [];
  /** Called after every stored change (tests re-check what they wait for). */
  onChange: () => void = () => {};
  /** Writes refused because the validator found problems. */
  readonly invalidWrites: { path: string; problems: string[] }[] = [];
  /** The list requests (not watches) of a resource, by plural, each as its query. */
  lists(plural: string): URLSearchParams[] {
    return this.requests
      .map((r) => new URL(r.split(' ')[1], 'http://x'))
      .filter((u, i) => this.requests[i].startsWith('GET ') && u.pathname.split('/').pop() === plural && u.searchParams.get('watch') !== 'true')
      .map((u) => u.searchParams);
  }

  /** The writes a controller made as work: Lease renewals aside. */
  workWrites(): WriteRecord[] {
    return this.writes.filter((w) => !/\/leases(\/|$)/.test(w.path));
  }

  /** Resources (plurals) answered 404, as a server without their CRD answers. */
  readonly uninstalled = new Set<string>();
  /** How long each write takes to answer (a loaded API server), and the most ever in flight at once. */
  writeDelayMs = 0;
  maxWritesInFlight = 0;
  private writesInFlight = 0;

  constructor(private readonly validator: WriteValidator = () => []) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Listens on 127.0.0.1 (the same port again after stop(), when one was assigned). */
  async start(): Promise<void> {
    const server = http.createServer((req, res) => this.handle(req, res));
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  /** An outage: stops listening and drops every connection, watches included. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    for (const w of this.watchers) w.res.destroy();
    this.watchers.clear();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** A kubeconfig for this server; plain HTTP needs insecure-skip-tls-verify with client-node. */
  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromString(this.kubeConfigYaml());
    return kc;
  }

  kubeConfigYaml(): string {
    return YAML.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'fake', cluster: { server: this.url, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'tester', user: { token: 'test-token' } }],
      contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'tester', namespace: 'default' } }],
      'current-context': 'fake',
    });
  }

  // ---- direct access, as a user with kubectl (or another controller) would change things

  /** Creates or replaces an object (status included), like a user or the runtime operator would. */
  put(object: Obj): Obj {
    const { collection, namespace, name } = this.locate(object);
    const key = objectKeyOf(collection, namespace, name);
    const existing = this.objects.get(key);
    const next = structuredClone(object);
    if (existing) {
      next.metadata = { ...existing.metadata, ...next.metadata, uid: existing.metadata.uid, creationTimestamp: existing.metadata.creationTimestamp };
      next.metadata.generation = specChanged(existing, next) ? existing.metadata.generation + 1 : existing.metadata.generation;
      return this.store(collection, key, next, 'MODIFIED');
    }
    return this.store(collection, key, this.initialMetadata(next), 'ADDED');
  }

  get(apiVersion: string, kind: string, namespace: string, name: string): Obj | undefined {
    const o = this.objects.get(objectKeyOf(collectionOf(apiVersion, pluralOf(kind)), namespace, name));
    return o && structuredClone(o);
  }

  list(apiVersion: string, kind: string): Obj[] {
    const collection = collectionOf(apiVersion, pluralOf(kind));
    return [...this.objects.entries()].filter(([k]) => k.startsWith(`${collection}|`)).map(([, o]) => structuredClone(o));
  }

  /** Deletes an object (and, like the garbage collector, its dependents). */
  remove(apiVersion: string, kind: string, namespace: string, name: string): boolean {
    return this.deleteKey(objectKeyOf(collectionOf(apiVersion, pluralOf(kind)), namespace, name));
  }

  /** Forgets watch history: a watch resuming from an older resourceVersion gets 410 Gone. */
  compact(): void {
    this.compactedRv = this.rv;
    this.history = [];
  }

  /** Ends every open watch (as the API server does on its timeout); clients reconnect from their last resourceVersion. */
  closeWatches(): void {
    for (const w of this.watchers) w.res.end();
    this.watchers.clear();
  }

  /** Sends a BOOKMARK with the current resourceVersion to the watches (of a resource) that asked for bookmarks; returns how many. */
  sendBookmarks(plural?: string): number {
    let sent = 0;
    for (const w of this.watchers) {
      if (!w.bookmarks || (plural && pluralName(w.collection) !== plural)) continue;
      const [apiVersion, kind] = [apiVersionOf(w.collection), 'Bookmark'];
      w.res.write(`${JSON.stringify({ type: 'BOOKMARK', object: { apiVersion, kind, metadata: { resourceVersion: String(this.rv) } } })}\n`);
      sent++;
    }
    return sent;
  }

  openWatches(): number {
    return this.watchers.size;
  }

  // ---- HTTP

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', this.url);
      this.requests.push(`${req.method} ${url.pathname}${url.search}`);
      const isWrite = req.method !== 'GET';
      if (isWrite) this.maxWritesInFlight = Math.max(this.maxWritesInFlight, ++this.writesInFlight);
      const answer = () => {
        if (isWrite) this.writesInFlight--;
        try {
          this.route(req, res, url, Buffer.concat(chunks).toString('utf8'));
        } catch (err) {
          if (err instanceof HttpError) status(res, err.code, err.reason, err.message);
          else status(res, 500, 'InternalError', String(err));
        }
      };
      if (isWrite && this.writeDelayMs > 0) setTimeout(answer, this.writeDelayMs);
      else answer();
    });
  }

  private route(req: http.IncomingMessage, res: http.ServerResponse, url: URL, text: string): void {
    const m =
      /^\/api\/(v1)(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?(?:\/(status))?$/.exec(url.pathname) ??
      /^\/apis\/([^/]+\/[^/]+)(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?(?:\/(status))?$/.exec(url.pathname);
    if (!m) throw new HttpError(404, 'NotFound', `no route for ${url.pathname}`);
    const [, groupVersion, namespace, plural, name, sub] = m;
    if (this.uninstalled.has(plural)) throw new HttpError(404, 'NotFound', 'the server could not find the requested resource');
    const collection = collectionOf(groupVersion, plural);
    const method = req.method ?? 'GET';
    if (!name) {
      if (method === 'GET' && url.searchParams.get('watch') === 'true') return this.watch(res, collection, namespace, url.searchParams);
      if (method === 'GET') return json(res, 200, this.listResponse(collection, namespace, url.searchParams));
      if (method === 'POST') return this.create(res, collection, namespace, text, url, req);
      throw new HttpError(405, 'MethodNotAllowed', method);
    }
    if (!namespace) throw new HttpError(404, 'NotFound', 'only namespaced objects are served');
    const key = objectKeyOf(collection, namespace, name);
    if (method === 'GET') {
      const o = this.objects.get(key);
      if (!o) throw notFound(plural, name);
      return json(res, 200, o);
    }
    const contentType = (req.headers['content-type'] ?? '').split(';')[0];
    const fieldManager = url.searchParams.get('fieldManager') ?? undefined;
    const body = text ? (contentType.includes('yaml') ? YAML.parse(text) : JSON.parse(text)) : undefined;
    this.writes.push({ method, at: performance.now(), path: url.pathname, contentType, fieldManager, body });
    if (method === 'DELETE') {
      const o = this.objects.get(key);
      if (!o) throw notFound(plural, name);
      this.deleteKey(key);
      return json(res, 200, o);
    }
    if (method === 'PUT') return json(res, 200, this.update(collection, key, plural, name, body, sub === 'status'));
    if (method === 'PATCH') {
      if (contentType === 'application/apply-patch+yaml') {
        if (!fieldManager) throw new HttpError(400, 'BadRequest', 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch');
        return json(res, 200, this.apply(collection, key, namespace, name, body, fieldManager, sub === 'status'));
      }
      if (contentType === 'application/merge-patch+json') return json(res, 200, this.mergePatch(collection, key, plural, name, body, sub === 'status'));
      throw new HttpError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/merge-patch+json, application/apply-patch+yaml (got ${contentType})`);
    }
    throw new HttpError(405, 'MethodNotAllowed', method);
  }

  private listResponse(collection: string, namespace: string | undefined, params: URLSearchParams): Obj {
    const selector = labelSelector(params.get('labelSelector'));
    const items = [...this.objects.entries()]
      .filter(([k, o]) => k.startsWith(`${collection}|`) && (!namespace || o.metadata.namespace === namespace) && selector(o))
      .map(([, o]) => o);
    // Pages as a real server cuts them: `limit` items, and a `continue` token for the rest.
    const limit = Number(params.get('limit') ?? 0);
    const from = Number(params.get('continue') ?? 0);
    const page = limit > 0 ? items.slice(from, from + limit) : items;
    const more = limit > 0 && from + limit < items.length;
    return { apiVersion: apiVersionOf(collection), kind: 'List', metadata: { resourceVersion: String(this.rv), ...(more ? { continue: String(from + limit) } : {}) }, items: page };
  }

  private watch(res: http.ServerResponse, collection: string, namespace: string | undefined, params: URLSearchParams): void {
    const selector = labelSelector(params.get('labelSelector'));
    const from = params.get('resourceVersion') ?? '';
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    const send = (type: string, object: Obj) => res.write(`${JSON.stringify({ type, object })}\n`);
    const matches = (o: Obj) => (!namespace || o.metadata.namespace === namespace) && selector(o);
    if (from === '' || from === '0') {
      for (const [k, o] of this.objects) if (k.startsWith(`${collection}|`) && matches(o)) send('ADDED', o);
    } else if (Number(from) < this.compactedRv) {
      send('ERROR', { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `too old resource version: ${from} (${this.compactedRv})`, reason: 'Expired', code: 410 });
      res.end();
      return;
    } else {
      for (const e of this.history) if (e.collection === collection && e.rv > Number(from) && matches(e.object)) send(e.type, e.object);
    }
    const watcher: Watcher = { collection, namespace, selector, bookmarks: params.get('allowWatchBookmarks') === 'true', res };
    this.watchers.add(watcher);
    res.on('close', () => this.watchers.delete(watcher));
  }

  private create(res: http.ServerResponse, collection: string, namespace: string | undefined, text: string, url: URL, req: http.IncomingMessage): void {
    const body = JSON.parse(text);
    this.writes.push({ method: 'POST', at: performance.now(), path: url.pathname, contentType: req.headers['content-type'], fieldManager: url.searchParams.get('fieldManager') ?? undefined, body });
    const ns = namespace ?? body.metadata?.namespace;
    const name = body.metadata?.name ?? (body.metadata?.generateName ? `${body.metadata.generateName}${randomUUID().slice(0, 5)}` : undefined);
    if (!name) throw new HttpError(422, 'Invalid', 'metadata.name: Required value');
    const key = objectKeyOf(collection, ns, name);
    if (this.objects.has(key)) throw new HttpError(409, 'AlreadyExists', `${pluralName(collection)} "${name}" already exists`);
    const object = this.initialMetadata({ ...body, metadata: { ...body.metadata, name, namespace: ns } });
    if (STATUS_SUBRESOURCE.has(pluralName(collection))) delete object.status;
    this.checkValid(collection, url.pathname, object);
    json(res, 201, this.store(collection, key, object, 'ADDED'));
  }

  private update(collection: string, key: string, plural: string, name: string, body: Obj, toStatus: boolean): Obj {
    const existing = this.objects.get(key);
    if (!existing) throw notFound(plural, name);
    checkResourceVersion(existing, body?.metadata?.resourceVersion, plural, name);
    return this.write(collection, key, existing, body, toStatus);
  }

  private mergePatch(collection: string, key: string, plural: string, name: string, patch: Obj, toStatus: boolean): Obj {
    const existing = this.objects.get(key);
    if (!existing) throw notFound(plural, name);
    checkResourceVersion(existing, patch?.metadata?.resourceVersion, plural, name);
    return this.write(collection, key, existing, mergePatch(structuredClone(existing), patch), toStatus);
  }

  private apply(collection: string, key: string, namespace: string, name: string, applied: Obj, manager: string, toStatus: boolean): Obj {
    const existing = this.objects.get(key);
    const entry = { manager, operation: 'Apply', apiVersion: applied.apiVersion, time: new Date().toISOString(), fieldsType: 'FieldsV1' };
    if (!existing) {
      if (toStatus) throw notFound(pluralName(collection), name);
      const object = this.initialMetadata({ ...structuredClone(applied), metadata: { ...applied.metadata, name, namespace, managedFields: [entry] } });
      if (STATUS_SUBRESOURCE.has(pluralName(collection))) delete object.status;
      this.checkValid(collection, key, object);
      return this.store(collection, key, object, 'ADDED');
    }
    const next = structuredClone(existing);
    for (const [field, value] of Object.entries(applied)) if (field !== 'metadata') next[field] = structuredClone(value);
    for (const field of ['labels', 'annotations', 'ownerReferences']) {
      if (applied.metadata?.[field] !== undefined) next.metadata[field] = structuredClone(applied.metadata[field]);
    }
    next.metadata.managedFields = [...(existing.metadata.managedFields ?? []).filter((m: Obj) => m.manager !== manager), entry];
    return this.write(collection, key, existing, next, toStatus);
  }

  /** Stores `next` over `existing`, honouring the status subresource; a write that changes nothing keeps the resourceVersion. */
  private write(collection: string, key: string, existing: Obj, proposed: Obj, toStatus: boolean): Obj {
    let next: Obj;
    if (toStatus) {
      next = { ...structuredClone(existing), status: proposed.status };
    } else {
      next = { ...proposed, metadata: { ...proposed.metadata, uid: existing.metadata.uid, creationTimestamp: existing.metadata.creationTimestamp, name: existing.metadata.name, namespace: existing.metadata.namespace } };
      if (STATUS_SUBRESOURCE.has(pluralName(collection))) next.status = existing.status;
      if (next.status === undefined) delete next.status;
      next.metadata.generation = specChanged(existing, next) ? existing.metadata.generation + 1 : existing.metadata.generation;
    }
    next.metadata.resourceVersion = existing.metadata.resourceVersion;
    this.checkValid(collection, key, next);
    if (JSON.stringify(withoutManagedFields(next)) === JSON.stringify(withoutManagedFields(existing))) return existing;
    return this.store(collection, key, next, 'MODIFIED');
  }

  private checkValid(collection: string, path: string, object: Obj): void {
    const problems = this.validator(pluralName(collection), object);
    if (problems.length === 0) return;
    this.invalidWrites.push({ path, problems });
    throw new HttpError(422, 'Invalid', problems.join('; '));
  }

  private initialMetadata(object: Obj): Obj {
    object.metadata = { ...object.metadata, uid: randomUUID(), creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), generation: 1 };
    return object;
  }

  private store(collection: string, key: string, object: Obj, type: 'ADDED' | 'MODIFIED'): Obj {
    object.metadata.resourceVersion = String(++this.rv);
    this.objects.set(key, object);
    this.publish({ rv: this.rv, collection, type, object });
    return object;
  }

  private deleteKey(key: string): boolean {
    const object = this.objects.get(key);
    if (!object) return false;
    this.objects.delete(key);
    const collection = key.split('|')[0];
    this.publish({ rv: ++this.rv, collection, type: 'DELETED', object: { ...object, metadata: { ...object.metadata, resourceVersion: String(this.rv) } } });
    // The garbage collector: dependents of the deleted owner go too.
    for (const [k, o] of [...this.objects]) {
      if ((o.metadata.ownerReferences ?? []).some((r: Obj) => r.uid === object.metadata.uid)) this.deleteKey(k);
    }
    return true;
  }

  private publish(event: WatchEvent): void {
    this.history.push(event);
    queueMicrotask(() => this.onChange());
    for (const w of this.watchers) {
      if (w.collection !== event.collection || (w.namespace && event.object.metadata.namespace !== w.namespace)) continue;
      if (!w.selector(event.object)) continue;
      w.res.write(`${JSON.stringify({ type: event.type, object: event.object })}\n`);
    }
  }

  private locate(object: Obj): { collection: string; namespace: string; name: string } {
    return { collection: collectionOf(object.apiVersion, pluralOf(object.kind)), namespace: object.metadata.namespace ?? 'default', name: object.metadata.name };
  }
}

class HttpError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

function notFound(plural: string, name: string): HttpError {
  return new HttpError(404, 'NotFound', `${plural} "${name}" not found`);
}

function checkResourceVersion(existing: Obj, wanted: string | undefined, plural: string, name: string): void {
  if (wanted !== undefined && wanted !== existing.metadata.resourceVersion) {
    throw new HttpError(409, 'Conflict', `Operation cannot be fulfilled on ${plural} "${name}": the object has been modified; please apply your changes to the latest version and try again`);
  }
}

function json(res: http.ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function status(res: http.ServerResponse, code: number, reason: string, message: string): void {
  json(res, code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
}

/** RFC 7386. */
function mergePatch(target: Obj, patch: Obj): Obj {
  for (const [k, v] of Object.entries(patch ?? {})) {
    if (v === null) delete target[k];
    else if (typeof v === 'object' && !Array.isArray(v) && typeof target[k] === 'object' && target[k] !== null && !Array.isArray(target[k])) mergePatch(target[k], v);
    else target[k] = structuredClone(v);
  }
  return target;
}

function specChanged(before: Obj, after: Obj): boolean {
  const strip = (o: Obj) => JSON.stringify(Object.fromEntries(Object.entries(o).filter(([k]) => k !== 'metadata' && k !== 'status')));
  return strip(before) !== strip(after);
}

function withoutManagedFields(o: Obj): Obj {
  return { ...o, metadata: { ...o.metadata, managedFields: undefined } };
}

function labelSelector(text: string | null): (o: Obj) => boolean {
  if (!text) return () => true;
  const terms = text.split(',').map((t) => t.split('='));
  return (o) => terms.every(([k, v]) => (v === undefined ? k in (o.metadata.labels ?? {}) : o.metadata.labels?.[k] === v));
}

/** The resource name of a kind, as the API server derives it (HostPolicy → hostpolicies). */
export function pluralOf(kind: string): string {
  const lower = kind.toLowerCase();
  return /[^aeiou]y$/.test(lower) ? `${lower.slice(0, -1)}ies` : `${lower}s`;
}

function collectionOf(apiVersion: string, plural: string): string {
  return `${apiVersion.includes('/') ? apiVersion : `core/${apiVersion}`}/${plural}`;
}

function apiVersionOf(collection: string): string {
  const [group, version] = collection.split('/');
  return group === 'core' ? version : `${group}/${version}`;
}

function pluralName(collection: string): string {
  return collection.split('/')[2];
}

function objectKeyOf(collection: string, namespace: string | undefined, name: string): string {
  return `${collection}|${namespace ?? ''}|${name}`;
}
