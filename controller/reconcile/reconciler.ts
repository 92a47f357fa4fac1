/**
 * The HTTPTrigger reconciler. It brings the cluster in line with what the pipeline
 * decided, writing only what differs:
 * - the WorkloadDeployment behind each valid trigger (server-side apply, our own
 *   field manager, owned by the trigger);
 * - the trigger's status (merge patch of the status subresource, guarded by the
 *   resourceVersion it was computed from);
 * - Events: Warning per conflict or other rejection, per placement problem, and
 *   for plain WorkloadDeployments no host can run (their status is not ours).
 * Only the leader writes; every replica resolves and serves xDS.
 *
 * Work is per trigger, as in controller-runtime: a resolve (or the resync) sweeps
 * every trigger and queues those whose stored objects or verdict changed since they
 * were last found in line; a stored change (a status, a WorkloadDeployment) queues
 * its one trigger. A bounded pool of workers takes keys from the queue, decides
 * from the freshest stored objects and writes through the optional rate limit; a
 * key whose writes fail retries after its own backoff.
 */
import { createHash } from 'node:crypto';
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { APPLIED_HASH_ANNOTATION, objectKey, splitObjectKey, TRIGGER_API_VERSION, TRIGGER_LABEL, type Host, type HTTPTrigger, type HTTPTriggerStatus, type WorkloadDeployment } from '../api/types';
import { REJECTION_REASONS, type Diagnostic } from '../api/validate';
import type { PipelineOutput } from '../pipeline';
import { checkPlacement, type PlacementRequest } from '../placement/hosts';
import type { HeartbeatMonitor } from '../placement/heartbeats';
import { sameRoutes, trimmed } from '../sources/kubernetes';
import type { SourceObjects } from '../sources/source';
import { decideTrigger, placementRequest } from './decide';
import { containsFields, FIELD_MANAGER, stableJson } from './desired';
import { errorText } from './leader';
import { statusFingerprint } from './status';
import { TokenBucket } from './token-bucket';

/** What the reconciler reads the stored objects from (the Kubernetes source). */
export interface ObjectStore {
  trigger(namespace: string, name: string): HTTPTrigger | undefined;
  workloadDeployment(namespace: string, name: string): WorkloadDeployment | undefined;
  workloadDeployments(): WorkloadDeployment[];
}

export interface ReconcilerOptions {
  kubeConfig: KubeConfig;
  store: ObjectStore;
  isLeader: () => boolean;
  log: Logger;
  /** Names this replica in Events (`reportingInstance`). */
  identity: string;
  /** Host heartbeats; without them the placement check is off. */
  heartbeats?: HeartbeatMonitor;
  /** Re-check everything this often, for changes no watch reports (hosts going silent); default 30 s. */
  resyncMs?: number;
  /** Triggers worked on at once (default 16; controller-runtime's MaxConcurrentReconciles). */
  workers?: number;
  /** Client-side limit on API writes: `qps` per second in bursts of up to `burst` (default none, as controller-runtime: the API server's priority and fairness limits us). */
  rateLimit?: { qps: number; burst: number };
}

export const DEFAULT_WORKERS = 16;
/** Logged (with the writes made and the keys waiting to retry) when the work queue empties after writes, and first in a leadership term. */
export const RECONCILED = 'reconcile queue drained';

const RUNTIME = { group: 'runtime.wasmcloud.dev', version: 'v1alpha1' };
const CONTROL = { group: 'control.cosmonic.io', version: 'v1alpha1' };
/** Queue entries for plain WorkloadDeployments (placement Events), next to trigger keys. */
const PLAIN_DEPLOYMENT = 'WorkloadDeployment ';

/** What a trigger's decision was made from: the same objects and verdicts decide the same. */
interface Inputs {
  trigger: HTTPTrigger;
  deployment?: WorkloadDeployment;
  verdict: Verdict;
}

/** The pipeline's verdict on one trigger. */
interface Verdict {
  rejection?: Diagnostic;
  endpoints: number;
  ignored: string[];
}

export class Reconciler {
  private readonly custom: CustomObjectsApi;
  private readonly core: CoreV1Api;
  private readonly limiter?: TokenBucket;
  private readonly workers: number;
  /** Each trigger as the pipeline last read it, and the pipeline's verdict on it. */
  private routed = new Map<string, HTTPTrigger>();
  private verdicts = new Map<string, Verdict>();
  private hosts: Host[] = [];
  /** Triggers found in line, and what from: skipped until one of their inputs changes. */
  private readonly inLine = new Map<string, Inputs>();
  /** Writes not yet seen back through the informers: key → what was written and the resourceVersion it replaced. */
  private readonly applied = new Map<string, { hash: string; rv: string; deployment: WorkloadDeployment }>();
  private readonly statusWritten = new Map<string, { fingerprint: string; rv: string }>();
  private readonly eventsSent = new Set<string>();
  /** Work waiting (insertion order), being done, and touched again while being done. */
  private readonly queue = new Set<string>();
  private readonly active = new Set<string>();
  private readonly again = new Set<string>();
  private readonly retries = new Map<string, { failures: number; timer?: NodeJS.Timeout }>();
  private readonly idleWaiters = new Set<() => void>();
  private sweepDue?: NodeJS.Immediate;
  private resync?: NodeJS.Timeout;
  private closed = false;
  /** Writes since the reconciler was last idle, for the log line that says so. */
  private writesSinceIdle = 0;
  /** Say so at the first idle of a leadership term too, writes or not (after the first resolve). */
  private announce = false;
  private resolvedOnce = false;
  /** Sweeps over every trigger completed, and keys worked on (for tests and metrics). */
  passes = 0;
  worked = 0;

  constructor(private readonly options: ReconcilerOptions) {
    this.custom = options.kubeConfig.makeApiClient(CustomObjectsApi);
    this.core = options.kubeConfig.makeApiClient(CoreV1Api);
    this.workers = options.workers ?? DEFAULT_WORKERS;
    if (options.rateLimit) this.limiter = new TokenBucket(options.rateLimit.qps, options.rateLimit.burst);
    this.resync = setInterval(() => this.kick(), options.resyncMs ?? 30_000);
  }

  /** The Controller's onResolved: the pipeline's verdicts changed (or may have), so every trigger is checked. */
  update(objects: SourceObjects, output: PipelineOutput): void {
    const routed = new Map<string, HTTPTrigger>();
    for (const raw of objects.triggers) {
      const trigger = raw as HTTPTrigger;
      routed.set(objectKey({ namespace: trigger.metadata?.namespace ?? 'default', name: trigger.metadata?.name ?? '?' }), trigger);
    }
    const verdicts = new Map<string, Verdict>();
    const verdict = (key: string) => {
      let v = verdicts.get(key);
      if (!v) verdicts.set(key, (v = { endpoints: 0, ignored: [] }));
      return v;
    };
    for (const d of output.diagnostics) {
      if (REJECTION_REASONS.has(d.reason) && !verdict(d.trigger).rejection) verdict(d.trigger).rejection = d;
      if (d.reason === 'EndpointIgnored') verdict(d.trigger).ignored.push(d.message);
    }
    for (const c of output.model.clusters) verdict(c.trigger.key).endpoints = c.endpoints.length;
    // An unchanged verdict keeps its identity, so a trigger found in line stays so (a resolve for another trigger re-decides nothing here).
    for (const [key, v] of verdicts) {
      const last = this.verdicts.get(key);
      if (last && sameVerdict(last, v)) verdicts.set(key, last);
    }
    // Forget triggers that are gone.
    for (const map of [this.inLine, this.applied, this.statusWritten]) for (const key of map.keys()) if (!routed.has(key)) map.delete(key);
    this.routed = routed;
    this.verdicts = verdicts;
    this.hosts = objects.hosts;
    this.resolvedOnce = true;
    this.kick();
  }

  /** A stored trigger or WorkloadDeployment of this key changed: check that one trigger (and a deployment's placement). */
  touch(kind: 'HTTPTrigger' | 'WorkloadDeployment', key: string): void {
    if (this.routed.has(key)) this.enqueue(key);
    if (kind === 'WorkloadDeployment' && this.options.heartbeats) this.enqueue(PLAIN_DEPLOYMENT + key);
  }

  /** Leadership changed: forget what the previous term wrote (another leader may have written since). */
  leadershipChanged(): void {
    this.applied.clear();
    this.statusWritten.clear();
    this.eventsSent.clear();
    this.inLine.clear();
    this.announce = this.options.isLeader();
    this.kick();
  }

  /** Checks every trigger soon (once for any number of kicks before it runs). */
  kick(): void {
    if (this.closed || this.sweepDue) return;
    this.sweepDue = setImmediate(() => {
      this.sweepDue = undefined;
      this.sweep();
    });
  }

  /** Resolves once no check is due and no work is waiting or being done (retries waiting for their backoff aside). */
  async idle(): Promise<void> {
    if (this.isIdle()) return;
    await new Promise<void>((resolve) => this.idleWaiters.add(resolve));
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.sweepDue) clearImmediate(this.sweepDue);
    this.sweepDue = undefined;
    clearInterval(this.resync);
    for (const retry of this.retries.values()) clearTimeout(retry.timer);
    this.queue.clear();
    this.again.clear();
    await this.idle();
  }

  /** Queues every trigger not known to be in line (and, with heartbeats, every plain WorkloadDeployment). */
  private sweep(): void {
    if (this.options.isLeader() && !this.closed) {
      for (const key of this.routed.keys()) if (!this.isInLine(key)) this.enqueue(key);
      if (this.options.heartbeats) {
        for (const wd of this.options.store.workloadDeployments()) if (!isTriggerOwned(wd)) this.enqueue(PLAIN_DEPLOYMENT + objectKey(wd.metadata));
      }
      this.passes++;
    }
    this.settle();
  }

  private inputs(key: string): Inputs | undefined {
    const routed = this.routed.get(key);
    const trigger = routed && this.options.store.trigger(routed.metadata.namespace ?? 'default', routed.metadata.name);
    if (!routed || !trigger) return undefined;
    return {
      trigger,
      deployment: this.options.store.workloadDeployment(routed.metadata.namespace ?? 'default', routed.metadata.name),
      verdict: this.verdicts.get(key) ?? NO_VERDICT,
    };
  }

  /** Same stored objects and verdict as when last found in line (never with heartbeats: placement changes with time). */
  private isInLine(key: string): boolean {
    const seen = this.inLine.get(key);
    if (!seen || this.options.heartbeats) return false;
    const now = this.inputs(key);
    return now !== undefined && seen.trigger === now.trigger && seen.deployment === now.deployment && seen.verdict === now.verdict;
  }

  private enqueue(key: string): void {
    if (this.closed) return;
    if (this.active.has(key)) this.again.add(key);
    else this.queue.add(key);
    this.pump();
  }

  /** Starts work on queued keys while workers are free (and this replica leads). */
  private pump(): void {
    while (this.active.size < this.workers && this.queue.size > 0 && this.options.isLeader() && !this.closed) {
      const key = this.queue.values().next().value as string;
      this.queue.delete(key);
      this.active.add(key);
      void this.work(key).finally(() => {
        this.active.delete(key);
        if (this.again.delete(key)) this.queue.add(key);
        this.pump();
        this.settle();
      });
    }
    if (!this.options.isLeader()) this.queue.clear();
  }

  private isIdle(): boolean {
    return !this.sweepDue && this.queue.size === 0 && this.active.size === 0;
  }

  /** Wakes `idle()` callers, and says once per busy spell that every trigger is as decided. */
  private settle(): void {
    if (!this.isIdle()) return;
    if (this.writesSinceIdle > 0 || (this.announce && this.resolvedOnce && this.options.isLeader())) {
      this.options.log.info({ triggers: this.routed.size, writes: this.writesSinceIdle, retrying: this.retries.size }, RECONCILED);
      this.writesSinceIdle = 0;
      this.announce = false;
    }
    for (const wake of [...this.idleWaiters]) wake();
    this.idleWaiters.clear();
  }

  private async work(key: string): Promise<void> {
    if (!this.options.isLeader() || this.closed) return;
    this.worked++;
    try {
      if (key.startsWith(PLAIN_DEPLOYMENT)) await this.placementEvent(key.slice(PLAIN_DEPLOYMENT.length));
      else await this.reconcile(key);
      const retry = this.retries.get(key);
      if (retry) {
        clearTimeout(retry.timer);
        this.retries.delete(key);
      }
    } catch (err) {
      // A status written from an outdated trigger: the newer one is on its way through the watch, and touches the key.
      if ((err as { code?: number }).code === 409) return;
      this.options.log.error({ key, err: errorText(err) }, 'reconcile failed; retrying');
      this.retryLater(key);
    }
  }

  private async reconcile(key: string): Promise<void> {
    const inputs = this.inputs(key);
    const routed = this.routed.get(key);
    // Deleted (garbage collection removes its deployment), or edited and not yet resolved (that resolve checks it again).
    if (!inputs || !routed || !sameRoutes(routed as KubernetesObject, inputs.trigger as KubernetesObject)) return;
    const { trigger, verdict } = inputs;
    const now = Date.now();
    const nowText = new Date(now).toISOString().replace(/\.\d+Z$/, 'Z');
    const hb = this.options.heartbeats;
    const place = hb ? (request: PlacementRequest) => checkPlacement(request, hb.advertisements(), this.hosts, now, hb.settled()) : undefined;
    const decide = (deployment: WorkloadDeployment | undefined) =>
      decideTrigger({ trigger, validated: routed, rejection: verdict.rejection, endpoints: verdict.endpoints, ignoredEndpoints: verdict.ignored, deployment, place, now: nowText });
    let decision = decide(inputs.deployment);
    let wrote = false;
    if (decision.apply) {
      const applied = await this.apply(decision.key, decision.apply, inputs.deployment);
      // The status describes the deployment as written, not the one the cache may still hold.
      if (applied) decision = decide(applied.deployment);
      wrote = applied?.wrote ?? false;
    }
    wrote = (await this.writeStatus(decision.key, trigger, decision.status)) || wrote;
    if (decision.unplaceable) this.options.log.warn({ trigger: decision.key, reason: decision.unplaceable.reason }, decision.unplaceable.message);
    for (const event of decision.events) wrote = (await this.event(trigger, event.reason, event.message)) || wrote;
    if (!wrote) this.inLine.set(key, inputs);
  }

  /** With heartbeats: an Event on a plain WorkloadDeployment (not a trigger's) that no host can run. */
  private async placementEvent(key: string): Promise<void> {
    const hb = this.options.heartbeats;
    const [namespace, name] = splitObjectKey(key);
    const wd = this.options.store.workloadDeployment(namespace, name);
    // An invalid one (no template spec) is the source's to report.
    const spec = wd?.spec?.template?.spec;
    if (!hb || !wd || !spec || isTriggerOwned(wd)) return;
    const verdict = checkPlacement(placementRequest(spec), hb.advertisements(), this.hosts, Date.now(), hb.settled());
    if (verdict?.status === 'False') await this.event(wd, verdict.reason, verdict.message);
  }

  /**
   * Server-side apply of the deployment unless the stored one already holds exactly what we would
   * apply, or we applied it already and the watch has not brought it back yet. Returns the
   * deployment as written (by this call or the pending one), or undefined when the stored one holds it.
   */
  private async apply(key: string, desired: WorkloadDeployment, observed: WorkloadDeployment | undefined): Promise<{ deployment: WorkloadDeployment; wrote: boolean } | undefined> {
    const hash = createHash('sha256').update(stableJson(desired)).digest('hex').slice(0, 16);
    desired.metadata.annotations = { [APPLIED_HASH_ANNOTATION]: hash };
    const rv = observed?.metadata.resourceVersion ?? '';
    if (observed && observed.metadata.annotations?.[APPLIED_HASH_ANNOTATION] === hash && containsFields(observed, { metadata: { labels: desired.metadata.labels }, spec: desired.spec })) {
      this.applied.delete(key); // seen back: nothing pending
      return undefined;
    }
    const pending = this.applied.get(key);
    if (pending && pending.hash === hash && pending.rv === rv) return { deployment: pending.deployment, wrote: false };
    await this.limiter?.take();
    const deployment = trimmed((await this.custom.patchNamespacedCustomObject(
      { ...RUNTIME, namespace: desired.metadata.namespace!, plural: 'workloaddeployments', name: desired.metadata.name, body: desired, fieldManager: FIELD_MANAGER, force: true },
      setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
    )) as KubernetesObject) as unknown as WorkloadDeployment;
    this.wrote();
    this.applied.set(key, { hash, rv, deployment });
    this.options.log.info({ workloadDeployment: key, hash }, observed ? 'WorkloadDeployment updated' : 'WorkloadDeployment created');
    return { deployment, wrote: true };
  }

  /** Writes the status unless the stored one (or the one just written from the same resourceVersion) says the same; true if written. */
  private async writeStatus(key: string, raw: HTTPTrigger, status: HTTPTriggerStatus): Promise<boolean> {
    const fingerprint = statusFingerprint(status);
    if (fingerprint === statusFingerprint(raw.status)) {
      this.statusWritten.delete(key); // seen back: nothing pending
      return false;
    }
    const rv = raw.metadata.resourceVersion ?? '';
    const pending = this.statusWritten.get(key);
    if (pending && pending.fingerprint === fingerprint && pending.rv === rv) return false;
    // A merge patch keeps fields it does not name: clear the ones that no longer apply.
    const body: Record<string, unknown> = { ...status };
    for (const field of Object.keys(raw.status ?? {})) if (!(field in body)) body[field] = null;
    await this.limiter?.take();
    await this.custom.patchNamespacedCustomObjectStatus(
      { ...CONTROL, namespace: raw.metadata.namespace ?? 'default', plural: 'httptriggers', name: raw.metadata.name, body: { metadata: { resourceVersion: rv }, status: body } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    this.wrote();
    this.statusWritten.set(key, { fingerprint, rv });
    return true;
  }

  /** One Warning Event per object, reason and message per leadership term; true if recorded now. */
  private async event(object: HTTPTrigger | WorkloadDeployment, reason: string, message: string): Promise<boolean> {
    const id = `${object.metadata.uid}|${reason}|${message}`;
    if (this.eventsSent.has(id)) return false;
    const namespace = object.metadata.namespace ?? 'default';
    const now = new Date();
    await this.limiter?.take();
    await this.core.createNamespacedEvent({
      namespace,
      body: {
        metadata: { generateName: `${object.metadata.name}.`, namespace },
        involvedObject: { apiVersion: object.apiVersion, kind: object.kind, name: object.metadata.name, namespace, uid: object.metadata.uid, resourceVersion: object.metadata.resourceVersion },
        reason,
        message: message.slice(0, 1024),
        type: 'Warning',
        count: 1,
        firstTimestamp: now,
        lastTimestamp: now,
        source: { component: FIELD_MANAGER },
        reportingComponent: FIELD_MANAGER,
        reportingInstance: this.options.identity,
      },
    });
    this.wrote();
    this.eventsSent.add(id);
    return true;
  }

  private wrote(): void {
    this.writesSinceIdle++;
  }

  /** Tries the key again after its own backoff (500 ms doubling to 30 s), as controller-runtime's per-item limiter does. */
  private retryLater(key: string): void {
    if (this.closed) return;
    const retry = this.retries.get(key) ?? { failures: 0 };
    clearTimeout(retry.timer);
    const delay = Math.min(30_000, 500 * 2 ** retry.failures++);
    retry.timer = setTimeout(() => {
      retry.timer = undefined;
      this.enqueue(key);
    }, delay);
    this.retries.set(key, retry);
  }
}

const NO_VERDICT: Verdict = { endpoints: 0, ignored: [] };

function sameVerdict(a: Verdict, b: Verdict): boolean {
  return (
    a.endpoints === b.endpoints &&
    a.rejection?.reason === b.rejection?.reason &&
    a.rejection?.message === b.rejection?.message &&
    a.ignored.length === b.ignored.length &&
    a.ignored.every((m, i) => m === b.ignored[i])
  );
}

function isTriggerOwned(wd: WorkloadDeployment): boolean {
  return (
    wd.metadata.labels?.[TRIGGER_LABEL] !== undefined ||
    (wd.metadata.ownerReferences ?? []).some((r) => r.kind === 'HTTPTrigger' && r.apiVersion === TRIGGER_API_VERSION)
  );
}
