/**
 * What the reconciler decides for one HTTPTrigger, purely: from the trigger and
 * what the controller knows of it (the pipeline's verdict, its endpoints, the
 * stored WorkloadDeployment of the same name, placement) to the
 * WorkloadDeployment to apply, the status to write and the Events to record.
 * The reconciler only carries the decision out (reconciler.ts), so every
 * outcome is table-tested here without an API server.
 */
import { objectKey, type HTTPTrigger, type HTTPTriggerStatus, type WorkloadDeployment, type WorkloadSpec } from '../api/types';
import { checkedHTTPTrigger, type Diagnostic } from '../api/validate';
import type { PlacementRequest, PlacementVerdict } from '../placement/hosts';
import { desiredWorkloadDeployment } from './desired';
import { triggerStatus } from './status';

export interface TriggerFacts {
  /** The trigger as stored (status and resourceVersion included). */
  trigger: HTTPTrigger;
  /** The same trigger at the same generation as the pipeline read it, whose validation is memoized; default `trigger`. */
  validated?: HTTPTrigger;
  /** Why the pipeline skipped it (Invalid, UnsupportedPathType or Conflict); absent when admitted. */
  rejection?: Diagnostic;
  /** Endpoints serving it in the routing model. */
  endpoints: number;
  /** The pipeline's EndpointIgnored messages for it. */
  ignoredEndpoints: readonly string[];
  /** The stored WorkloadDeployment of the trigger's name, if any. */
  deployment?: WorkloadDeployment;
  /** The placement check, when host heartbeats are read; absent turns the check off. */
  place?: (request: PlacementRequest) => PlacementVerdict | undefined;
  /** RFC 3339, for conditions that change now. */
  now: string;
}

export interface TriggerEvent {
  reason: string;
  message: string;
}

export interface TriggerDecision {
  key: string;
  /** The WorkloadDeployment to server-side apply; absent for an invalid trigger or a name taken by a foreign one. */
  apply?: WorkloadDeployment;
  status: HTTPTriggerStatus;
  /** Warning Events to record on the trigger. */
  events: TriggerEvent[];
  /** A placement problem, also worth an error log line. */
  unplaceable?: TriggerEvent;
}

export function decideTrigger(facts: TriggerFacts): TriggerDecision {
  const { trigger } = facts;
  const key = objectKey({ namespace: trigger.metadata.namespace ?? 'default', name: trigger.metadata.name });
  // Memoized per object: the resolver checked this same object already.
  const check = checkedHTTPTrigger(facts.validated ?? trigger);
  const rejection = facts.rejection ?? (check.ok ? undefined : check.diagnostic);
  const desired = check.ok ? desiredWorkloadDeployment(check.trigger.source, check.trigger.upstreamHost) : undefined;
  const foreign = desired && facts.deployment && !isOwnedBy(facts.deployment, trigger.metadata.uid);
  const deploymentProblem = foreign
    ? `WorkloadDeployment ${key} exists and is not owned by this HTTPTrigger: rename the trigger or delete that WorkloadDeployment`
    : undefined;
  const placement = desired && facts.place?.(placementRequest(desired.spec.template.spec));
  const status = triggerStatus({
    trigger,
    rejection,
    endpoints: facts.endpoints,
    ignoredEndpoints: facts.ignoredEndpoints,
    paths: check.ok ? check.trigger.paths.map((p) => `${p.path} (${p.type})`).join(', ') : undefined,
    upstreamHost: check.ok ? check.trigger.upstreamHost : undefined,
    deployment: facts.deployment && !deploymentProblem ? facts.deployment : undefined,
    deploymentProblem,
    placement,
    now: facts.now,
  });
  const unplaceable = placement?.status === 'False' ? { reason: placement.reason, message: placement.message } : undefined;
  const events: TriggerEvent[] = [];
  if (rejection) events.push({ reason: rejection.reason, message: rejection.message });
  if (deploymentProblem) events.push({ reason: 'DeploymentNotOwned', message: deploymentProblem });
  if (unplaceable) events.push(unplaceable);
  return { key, apply: foreign ? undefined : desired, status, events, unplaceable };
}

/** What the placement check asks of a WorkloadSpec. */
export function placementRequest(spec: WorkloadSpec): PlacementRequest {
  return { hostInterfaces: spec.hostInterfaces ?? [], hostSelector: spec.hostSelector, hostId: spec.hostId };
}

function isOwnedBy(wd: WorkloadDeployment, uid: string | undefined): boolean {
  return (wd.metadata.ownerReferences ?? []).some((r) => r.controller && r.uid === uid && r.kind === 'HTTPTrigger');
}
