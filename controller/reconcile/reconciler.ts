/**
 * The HTTPTrigger reconciler. After every resolve it brings the cluster in line
 * with what the pipeline decided, writing only what differs:
 * - the WorkloadDeployment behind each valid trigger (server-side apply, our own
 *   field manager, owned by the trigger);
 * - the trigger's status (merge patch of the status subresource, guarded by the
 *   resourceVersion it was computed from);
 * - Events: Warning per conflict or other rejection, per placement problem, and
 *   for plain WorkloadDeployments no host can run (their status is not ours).
 * Only the leader writes; every replica resolves and serves xDS.
 */
import { createHash } from 'node:crypto';
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { objectKey, TRIGGER_API_VERSION, TRIGGER_LABEL, type HTTPTrigger, type HTTPTriggerStatus, type WorkloadDeployment } from '../api/types';
import { REJECTION_REASONS, type Diagnostic } from '../api/validate';
import type { PipelineOutput } from '../pipeline';
import { checkPlacement, type PlacementRequest, type PlacementVerdict } from '../placement/hosts';
import type { HeartbeatMonitor } from '../placement/heartbeats';
import type { SourceObjects } from '../sources/source';
import { decideTrigger, placementRequest, type TriggerDecision } from './decide';
import { APPLIED_HASH_ANNOTATION, containsFields, FIELD_MANAGER, stableJson } from './desired';
import { errorText } from './leader';
import { statusFingerprint } from './status';

/** What the reconciler reads the stored objects from (the Kubernetes source). */
export interface ObjectStore {
  trigger(namespace: string, name: string): HTTPTrigger | undefined;
  workloadDeployment(namespace: string, name: string): WorkloadDeployment | undefined;
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
}

const RUNTIME = { group: 'runtime.wasmcloud.dev', version: 'v1alpha1' };
const CONTROL = { group: 'control.cosmonic.io', version: 'v1alpha1' };

export class Reconciler {
  private readonly custom: CustomObjectsApi;
  private readonly core: CoreV1Api;
  private latest?: { objects: SourceObjects; output: PipelineOutput };
  /** Writes not yet seen back through the informers: key → what was written and the resourceVersion it replaced. */
  private readonly applied = new Map<string, { hash: string; rv: string }>();
  private readonly statusWritten = new Map<string, { fingerprint: string; rv: string }>();
  private readonly eventsSent = new Set<string>();
  private running?: Promise<void>;
  private dirty = false;
  private failures = 0;
  private retry?: NodeJS.Timeout;
  private resync?: NodeJS.Timeout;
  private closed = false;
  /** Passes completed (for tests and metrics). */
  passes = 0;

  constructor(private readonly options: ReconcilerOptions) {
    this.custom = options.kubeConfig.makeApiClient(CustomObjectsApi);
    this.core = options.kubeConfig.makeApiClient(CoreV1Api);
    this.resync = setInterval(() => this.kick(), options.resyncMs ?? 30_000);
  }

  /** The Controller's onResolved. */
  update(objects: SourceObjects, output: PipelineOutput): void {
    this.latest = { objects, output };
    this.kick();
  }

  /** Leadership changed: forget what the previous term wrote (another leader may have written since). */
  leadershipChanged(): void {
    this.applied.clear();
    this.statusWritten.clear();
    this.eventsSent.clear();
    this.kick();
  }

  /** Runs a pass soon; passes never overlap, and a change during one causes another. */
  kick(): void {
    if (this.closed) return;
    this.dirty = true;
    if (this.running) return;
    this.running = (async () => {
      while (this.dirty && !this.closed) {
        this.dirty = false;
        await this.pass();
      }
    })().finally(() => (this.running = undefined));
  }

  /** Resolves once no pass is running or pending. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    clearInterval(this.resync);
    await this.running;
  }

  private async pass(): Promise<void> {
    if (!this.latest || !this.options.isLeader()) return;
    const { objects, output } = this.latest;
    const rejections = new Map<string, Diagnostic>();
    const ignored = new Map<string, string[]>();
    for (const d of output.diagnostics) {
      if (REJECTION_REASONS.has(d.reason) && !rejections.has(d.trigger)) rejections.set(d.trigger, d);
      if (d.reason === 'EndpointIgnored') ignored.set(d.trigger, [...(ignored.get(d.trigger) ?? []), d.message]);
    }
    const endpoints = new Map(output.model.clusters.map((c) => [c.trigger.key, c.endpoints.length]));
    const now = Date.now();
    const nowText = new Date(now).toISOString().replace(/\.\d+Z$/, 'Z');
    const place = this.options.heartbeats ? (request: PlacementRequest) => this.placement(request, objects, now) : undefined;
    let failed = 0;
    for (const raw of objects.triggers) {
      if (!this.options.isLeader() || this.closed) return;
      const trigger = raw as HTTPTrigger;
      const key = objectKey({ namespace: trigger.metadata?.namespace ?? 'default', name: trigger.metadata?.name ?? '?' });
      try {
        const deployment = this.options.store.workloadDeployment(trigger.metadata.namespace ?? 'default', trigger.metadata.name);
        const decision = decideTrigger({ trigger, rejection: rejections.get(key), endpoints: endpoints.get(key) ?? 0, ignoredEndpoints: ignored.get(key) ?? [], deployment, place, now: nowText });
        await this.carryOut(trigger, decision, deployment);
      } catch (err) {
        failed++;
        this.options.log.error({ trigger: key, err: errorText(err) }, 'reconcile failed; retrying');
      }
    }
    for (const wd of objects.workloadDeployments) {
      if (!place || isTriggerOwned(wd)) continue;
      try {
        const verdict = place(placementRequest(wd.spec.template.spec));
        if (verdict?.status === 'False') await this.event(wd, verdict.reason, verdict.message);
      } catch (err) {
        failed++;
        this.options.log.error({ workloadDeployment: objectKey(wd.metadata), err: errorText(err) }, 'placement event failed; retrying');
      }
    }
    this.passes++;
    if (failed > 0) this.retryLater();
    else this.failures = 0;
  }

  /** Applies the deployment, writes the status and records the Events a decision holds, each only if it differs from `observed` and what was written. */
  private async carryOut(trigger: HTTPTrigger, decision: TriggerDecision, observed: WorkloadDeployment | undefined): Promise<void> {
    if (decision.apply) await this.apply(decision.key, decision.apply, observed);
    await this.writeStatus(decision.key, trigger, decision.status);
    if (decision.unplaceable) this.options.log.warn({ trigger: decision.key, reason: decision.unplaceable.reason }, decision.unplaceable.message);
    for (const event of decision.events) await this.event(trigger, event.reason, event.message);
  }

  private placement(request: PlacementRequest, objects: SourceObjects, now: number): PlacementVerdict | undefined {
    const hb = this.options.heartbeats;
    return hb && checkPlacement(request, hb.advertisements(), objects.hosts, now, hb.settled());
  }

  /** Server-side apply of the deployment unless the stored one already holds exactly what we would apply. */
  private async apply(key: string, desired: WorkloadDeployment, observed: WorkloadDeployment | undefined): Promise<void> {
    const hash = createHash('sha256').update(stableJson(desired)).digest('hex').slice(0, 16);
    desired.metadata.annotations = { [APPLIED_HASH_ANNOTATION]: hash };
    const rv = observed?.metadata.resourceVersion ?? '';
    if (observed && observed.metadata.annotations?.[APPLIED_HASH_ANNOTATION] === hash && containsFields(observed, { metadata: { labels: desired.metadata.labels }, spec: desired.spec })) return;
    const pending = this.applied.get(key);
    if (pending && pending.hash === hash && pending.rv === rv) return;
    await this.custom.patchNamespacedCustomObject(
      { ...RUNTIME, namespace: desired.metadata.namespace!, plural: 'workloaddeployments', name: desired.metadata.name, body: desired, fieldManager: FIELD_MANAGER, force: true },
      setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
    );
    this.applied.set(key, { hash, rv });
    this.options.log.info({ workloadDeployment: key, hash }, observed ? 'WorkloadDeployment updated' : 'WorkloadDeployment created');
  }

  private async writeStatus(key: string, raw: HTTPTrigger, status: HTTPTriggerStatus): Promise<void> {
    const fingerprint = statusFingerprint(status);
    if (fingerprint === statusFingerprint(raw.status)) return;
    const rv = raw.metadata.resourceVersion ?? '';
    const pending = this.statusWritten.get(key);
    if (pending && pending.fingerprint === fingerprint && pending.rv === rv) return;
    // A merge patch keeps fields it does not name: clear the ones that no longer apply.
    const body: Record<string, unknown> = { ...status };
    for (const field of Object.keys(raw.status ?? {})) if (!(field in body)) body[field] = null;
    await this.custom.patchNamespacedCustomObjectStatus(
      { ...CONTROL, namespace: raw.metadata.namespace ?? 'default', plural: 'httptriggers', name: raw.metadata.name, body: { metadata: { resourceVersion: rv }, status: body } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    this.statusWritten.set(key, { fingerprint, rv });
  }

  /** One Warning Event per object, reason and message per leadership term. */
  private async event(object: HTTPTrigger | WorkloadDeployment, reason: string, message: string): Promise<void> {
    const id = `${object.metadata.uid}|${reason}|${message}`;
    if (this.eventsSent.has(id)) return;
    const namespace = object.metadata.namespace ?? 'default';
    const now = new Date();
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
    this.eventsSent.add(id);
  }

  private retryLater(): void {
    if (this.retry || this.closed) return;
    const delay = Math.min(30_000, 500 * 2 ** this.failures++);
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.kick();
    }, delay);
  }
}

function isTriggerOwned(wd: WorkloadDeployment): boolean {
  return (
    wd.metadata.labels?.[TRIGGER_LABEL] !== undefined ||
    (wd.metadata.ownerReferences ?? []).some((r) => r.kind === 'HTTPTrigger' && r.apiVersion === TRIGGER_API_VERSION)
  );
}
