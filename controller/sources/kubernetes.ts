/**
 * Kubernetes mode: informers (list, then watch from the list's resourceVersion,
 * with bookmarks) for HTTPTriggers, WorkloadDeployments, Workloads and Hosts,
 * feeding the same pipeline as file mode.
 *
 * @kubernetes/client-node's ListWatch relists on 410 Gone and reconnects a
 * watch that ends; on any other error it stops, and this source restarts it
 * with exponential backoff, resuming from the last resourceVersion. Its cache
 * keeps every object (and its identity) while the API server is unreachable,
 * so the controller keeps serving the last snapshot.
 *
 * What is cached is trimmed to what the controller reads (no `managedFields`, no
 * annotations but the applied-hash one), as controller-runtime's default cache
 * transform does: on a real API server `managedFields` are most of an object.
 * Changes that cannot change a route (a trigger's status, any WorkloadDeployment)
 * go to `onStoredChange` for the reconciler instead of causing a resolve.
 */
import { CoreV1Api, CustomObjectsApi, KubeConfig, ListWatch, Watch, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { HOST_POLICY_KIND } from '../api/host-policy';
import { HOSTPOLICY_CRD_PATH, validateSchema, type SchemaKind } from '../api/schema';
import { APPLIED_HASH_ANNOTATION, objectKey, TRIGGER_LABEL, type HTTPTrigger, type Host, type Workload, type WorkloadDeployment } from '../api/types';
import { addHostPolicy, NO_LABELS, type ManifestDiagnostic } from './manifests';
import type { Source, SourceObjects } from './source';

interface Resource {
  kind: 'HTTPTrigger' | SchemaKind | 'Namespace';
  /**
   * A CRD an install from before it may lack: while the server answers 404, the kind counts as
   * listed and empty (with a warning naming the file to apply), so the controller still serves.
   */
  optionalCrd?: string;
  /** Empty for the core group. */
  group: string;
  version: string;
  plural: string;
  /** Watched in the configured namespaces only (Hosts live in the operator's namespace). */
  namespaced: boolean;
  labelSelector?: string;
}

/** Objects per list request (client-go's reflector pages by 500 too). */
const LIST_PAGE_SIZE = 500;

export const RESOURCES: readonly Resource[] = [
  { kind: 'HTTPTrigger', group: 'control.cosmonic.io', version: 'v1alpha1', plural: 'httptriggers', namespaced: true },
  { kind: 'WorkloadDeployment', group: 'runtime.wasmcloud.dev', version: 'v1alpha1', plural: 'workloaddeployments', namespaced: true },
  // Only a trigger's Workloads become endpoints.
  { kind: 'Workload', group: 'runtime.wasmcloud.dev', version: 'v1alpha1', plural: 'workloads', namespaced: true, labelSelector: TRIGGER_LABEL },
  { kind: 'Host', group: 'runtime.wasmcloud.dev', version: 'v1alpha1', plural: 'hosts', namespaced: false },
  { kind: HOST_POLICY_KIND, group: 'control.cosmonic.io', version: 'v1alpha1', plural: 'hostpolicies', namespaced: false, optionalCrd: HOSTPOLICY_CRD_PATH },
  // Their labels, which HostPolicy selectors match.
  { kind: 'Namespace', group: '', version: 'v1', plural: 'namespaces', namespaced: false },
];

export interface KubernetesSourceOptions {
  kubeConfig: KubeConfig;
  /** Namespaces to watch; empty or absent means all. */
  namespaces?: readonly string[];
  log: Logger;
  /** Restart delay after an error: doubles from `initialMs` up to `maxMs` (defaults 500 ms, 30 s). */
  backoff?: { initialMs: number; maxMs: number };
  /**
   * A stored HTTPTrigger or WorkloadDeployment changed in a way no route depends on (a status, a
   * WorkloadDeployment's anything): the reconciler's business only, so no resolve follows.
   */
  onStoredChange?: (kind: 'HTTPTrigger' | 'WorkloadDeployment', key: string) => void;
}

/**
 * A watch that asks for bookmarks, so a quiet resource's resourceVersion stays
 * fresh and a reconnect does not hit 410; and that opens nothing once the source
 * is closed (ListWatch starts one more watch after its reconnect delay even when
 * stopped meanwhile).
 */
class BookmarkWatch extends Watch {
  constructor(
    kubeConfig: KubeConfig,
    private readonly isClosed: () => boolean,
  ) {
    super(kubeConfig);
  }

  override async watch(path: string, queryParams: Record<string, string | number | boolean | undefined>, callback: Parameters<Watch['watch']>[2], done: Parameters<Watch['watch']>[3]) {
    if (this.isClosed()) return new AbortController();
    return super.watch(path, { ...queryParams, allowWatchBookmarks: true }, (phase, object, watchObject) => callback(phase, trimmed(object), watchObject), done);
  }
}

interface Informer {
  resource: Resource;
  path: string;
  namespace?: string;
  listWatch: ListWatch<KubernetesObject>;
  synced: boolean;
  failures: number;
  retry?: NodeJS.Timeout;
}

export class KubernetesSource implements Source {
  private readonly informers: Informer[] = [];
  /** Validated copies of runtime objects, by the raw object they came from (keeps identity across reads). */
  private readonly validated = new WeakMap<object, { ok: true; value: unknown } | { ok: false; diagnostic: ManifestDiagnostic }>();
  /**
   * Each trigger as the pipeline last read it. A trigger stored anew with the same uid and
   * generation (its status written) routes the same: the pipeline keeps the object it has, so
   * nothing is validated or resolved again.
   */
  private routed = new Map<string, KubernetesObject>();
  /** Each namespace's labels as the last read gave them. */
  private namespaceLabels = new Map<string, Readonly<Record<string, string>>>();
  /** WorkloadDeployments whose diagnostic the last reads reported. */
  private readonly invalidDeployments = new Set<string>();
  private closed = false;
  private markSynced = () => {};
  /** Pending reconnect delays, cut short by close() so no timer outlives the source. */
  private readonly delays = new Set<() => void>();

  constructor(private readonly options: KubernetesSourceOptions) {}

  async start(onChange: () => void): Promise<void> {
    const { kubeConfig, log } = this.options;
    const api = kubeConfig.makeApiClient(CustomObjectsApi);
    const core = kubeConfig.makeApiClient(CoreV1Api);
    const namespaces = this.options.namespaces?.length ? this.options.namespaces : [undefined];
    const allSynced = new Promise<void>((resolve) => (this.markSynced = resolve));
    const checkSynced = () => {
      if (this.informers.every((i) => i.synced)) this.markSynced();
    };
    for (const resource of RESOURCES) {
      for (const namespace of resource.namespaced ? namespaces : [undefined]) {
        const { group, version, plural, labelSelector } = resource;
        const path = `${group ? `/apis/${group}` : '/api'}/${version}${namespace ? `/namespaces/${namespace}` : ''}/${plural}`;
        // In pages, as client-go's reflector lists: a 10k-object list in one response held the
        // whole body and every untrimmed object at once.
        const list = async () => {
          const items: KubernetesObject[] = [];
          // Custom objects come back as plain JSON, their token in `continue`; a typed list (Namespaces) has it in `_continue`.
          let page: { metadata?: { resourceVersion?: string; continue?: string; _continue?: string }; items: KubernetesObject[] } | undefined;
          let token: string | undefined;
          do {
            const options = { group, version, plural, labelSelector, limit: LIST_PAGE_SIZE, _continue: token };
            page = await (resource.kind === 'Namespace'
              ? core.listNamespace({ labelSelector, limit: LIST_PAGE_SIZE, _continue: token })
              : namespace
                ? api.listNamespacedCustomObject({ ...options, namespace })
                : api.listClusterCustomObject(options));
            for (const item of page!.items) items.push(trimmed(item));
            token = page!.metadata?.continue ?? page!.metadata?._continue;
          } while (token);
          return { metadata: { resourceVersion: page!.metadata?.resourceVersion }, items } as KubernetesListObject<KubernetesObject>;
        };
        const listWatch = new ListWatch<KubernetesObject>(path, new BookmarkWatch(kubeConfig, () => this.closed), list, false, labelSelector, undefined, {
          delayFn: (ms: number) => this.delay(ms),
        });
        const informer: Informer = { resource, path, namespace, listWatch, synced: false, failures: 0 };
        this.informers.push(informer);
        for (const verb of ['add', 'update', 'delete'] as const) listWatch.on(verb, (object: KubernetesObject) => this.changed(resource.kind, verb, object, onChange));
        listWatch.on('error', (err: unknown) => this.restartLater(informer, path, err, checkSynced));
      }
    }
    log.info({ informers: this.informers.length }, 'listing and watching the Kubernetes API');
    await Promise.all(this.informers.map((i) => this.startInformer(i, checkSynced)));
    // Serving before every kind is listed would push a partial routing table to Envoy.
    await allSynced;
  }

  private changed(kind: Resource['kind'], verb: 'add' | 'update' | 'delete', object: KubernetesObject, onChange: () => void): void {
    const key = objectKey({ namespace: object.metadata?.namespace, name: object.metadata?.name ?? '' });
    if (kind === 'WorkloadDeployment') {
      this.options.onStoredChange?.(kind, key);
      // No route depends on one; only an invalid one's diagnostic does, which a resolve reports or withdraws.
      const invalid = verb !== 'delete' && !this.validate(kind, object).ok;
      if (invalid === this.invalidDeployments.has(key)) return;
      if (invalid) this.invalidDeployments.add(key);
      else this.invalidDeployments.delete(key);
    } else if (kind === 'HTTPTrigger' && verb === 'update' && sameRoutes(this.routed.get(key), object)) {
      this.options.onStoredChange?.(kind, key);
      return;
    } else if (kind === 'Namespace' && verb === 'update') {
      // Of a namespace, only its labels reach a route (through HostPolicy selectors).
      const last = this.namespaceLabels.get(object.metadata?.name ?? '');
      if (last && sameLabels(last, object.metadata?.labels ?? NO_LABELS)) return;
    }
    onChange();
  }

  private async startInformer(informer: Informer, checkSynced: () => void): Promise<void> {
    if (this.closed) return;
    try {
      await informer.listWatch.start();
    } catch (err) {
      // start() resolves after the list; errors are reported through `error`, but be safe.
      this.restartLater(informer, 'start', err, checkSynced);
      return;
    }
    if (informer.retry) return; // this attempt failed; restartLater has it
    if (informer.failures > 0) this.options.log.info({ path: informer.path }, 'Kubernetes API reachable again');
    informer.failures = 0;
    if (!informer.synced) {
      informer.synced = true;
      checkSynced();
    }
  }

  private restartLater(informer: Informer, path: string, err: unknown, checkSynced: () => void): void {
    if (this.closed || informer.retry) return;
    const { initialMs, maxMs } = this.options.backoff ?? { initialMs: 500, maxMs: 30_000 };
    const delay = Math.min(maxMs, initialMs * 2 ** informer.failures);
    informer.failures++;
    const reason = err instanceof Error ? err.message : String((err as { message?: unknown })?.message ?? err);
    const status = (err as { code?: unknown })?.code;
    const { optionalCrd, plural, group } = informer.resource;
    if (status === 404 && optionalCrd) {
      // Said once; the retries keep looking for it.
      if (!informer.synced) {
        this.options.log.warn({ path }, `${plural}.${group} is not installed, so none apply; apply ${optionalCrd} (it is picked up without a restart)`);
        informer.synced = true;
        checkSynced();
      }
    } else {
      const fix = status === 403 ? { fix: `the controller's RBAC (controller/rbac.yaml) must allow get, list and watch on ${plural}${group ? `.${group}` : ''}` } : {};
      this.options.log.warn({ path, reason, ...fix, retryInMs: delay, failures: informer.failures }, 'Kubernetes API watch failed; serving the last known objects');
    }
    informer.retry = setTimeout(() => {
      informer.retry = undefined;
      void this.startInformer(informer, checkSynced);
    }, delay);
  }

  read(): SourceObjects {
    const objects: SourceObjects = { triggers: [], workloadDeployments: [], workloads: [], hosts: [], hostPolicies: [], namespaces: [], diagnostics: [] };
    const routed = new Map<string, KubernetesObject>();
    for (const informer of this.informers) {
      for (const raw of informer.listWatch.list()) {
        const kind = informer.resource.kind;
        if (kind === 'HTTPTrigger') {
          const key = objectKey({ namespace: raw.metadata?.namespace, name: raw.metadata?.name ?? '' });
          const last = this.routed.get(key);
          const trigger = last && sameRoutes(last, raw) ? last : raw;
          routed.set(key, trigger);
          objects.triggers.push(trigger);
          continue;
        }
        if (kind === 'Namespace') {
          const name = raw.metadata?.name ?? '';
          objects.namespaces.push({ name, labels: this.labelsOf(name, raw) });
          continue;
        }
        if (kind === HOST_POLICY_KIND) {
          addHostPolicy(objects, 'kubernetes', raw);
          continue;
        }
        // WorkloadDeployments are the reconciler's (workloadDeployments()); only their diagnostics are read here.
        const checked = this.validate(kind, raw);
        if (!checked.ok) objects.diagnostics.push(checked.diagnostic);
        else if (kind === 'Workload') objects.workloads.push(checked.value as Workload);
        else if (kind === 'Host') objects.hosts.push(checked.value as Host);
      }
    }
    this.routed = routed;
    this.namespaceLabels = new Map(objects.namespaces.map((n) => [n.name, n.labels]));
    return objects;
  }

  /** A namespace's labels, as the same object while they are equal: host verdicts made with them stay valid. */
  private labelsOf(name: string, raw: KubernetesObject): Readonly<Record<string, string>> {
    const labels = raw.metadata?.labels ?? NO_LABELS;
    const last = this.namespaceLabels.get(name);
    return last && sameLabels(last, labels) ? last : labels;
  }

  /** The HTTPTrigger as stored (with status and resourceVersion), for the reconciler. */
  trigger(namespace: string, name: string): HTTPTrigger | undefined {
    return this.find('HTTPTrigger', namespace, name) as HTTPTrigger | undefined;
  }

  /** The WorkloadDeployment as stored (valid or not: a foreign one of a trigger's name is reported either way), for the reconciler. */
  workloadDeployment(namespace: string, name: string): WorkloadDeployment | undefined {
    return this.find('WorkloadDeployment', namespace, name) as WorkloadDeployment | undefined;
  }

  /** Every valid WorkloadDeployment as stored now (the reconciler's placement check of plain ones). */
  workloadDeployments(): WorkloadDeployment[] {
    const found: WorkloadDeployment[] = [];
    for (const informer of this.informers) {
      if (informer.resource.kind !== 'WorkloadDeployment') continue;
      for (const raw of informer.listWatch.list()) {
        const checked = this.validate('WorkloadDeployment', raw);
        if (checked.ok) found.push(checked.value as WorkloadDeployment);
      }
    }
    return found;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.markSynced();
    for (const wake of this.delays) wake();
    for (const informer of this.informers) {
      clearTimeout(informer.retry);
      await informer.listWatch.stop();
    }
  }

  private delay(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.delays.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.delays.add(wake);
    });
  }

  private find(kind: Resource['kind'], namespace: string, name: string): KubernetesObject | undefined {
    for (const informer of this.informers) {
      if (informer.resource.kind !== kind || (informer.namespace && informer.namespace !== namespace)) continue;
      const found = informer.listWatch.get(name, namespace);
      if (found) return found;
    }
    return undefined;
  }

  private validate(kind: SchemaKind, raw: KubernetesObject) {
    let checked = this.validated.get(raw);
    if (!checked) {
      const result = validateSchema(kind, raw);
      const label = `${kind} ${objectKey({ namespace: raw.metadata?.namespace, name: raw.metadata?.name ?? '(unnamed)' })}`;
      checked = result.ok
        ? { ok: true, value: result.value }
        : { ok: false, diagnostic: { file: 'kubernetes', object: label, reason: 'Invalid', message: `${label} is skipped: ${result.errors.join('; ')}` } };
      this.validated.set(raw, checked);
    }
    return checked;
  }
}

/**
 * What the cache keeps of an object: no `managedFields` (on a real API server, most of an
 * object's bytes) and, of the annotations, only the applied hash the reconciler compares.
 */
export function trimmed<T extends KubernetesObject>(object: T): T {
  const metadata = object.metadata;
  if (!metadata) return object;
  const { managedFields: _managedFields, annotations, ...kept } = metadata;
  const hash = annotations?.[APPLIED_HASH_ANNOTATION];
  return { ...object, metadata: hash === undefined ? kept : { ...kept, annotations: { [APPLIED_HASH_ANNOTATION]: hash } } };
}

function sameLabels(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

/** The same trigger at the same generation: its spec, name and creation time, all a route depends on, are unchanged. */
export function sameRoutes(last: KubernetesObject | undefined, now: KubernetesObject): boolean {
  const [a, b] = [last?.metadata, now.metadata];
  return a?.uid !== undefined && a.uid === b?.uid && a.generation !== undefined && a.generation === b.generation;
}
