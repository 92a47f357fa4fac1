/**
 * An HTTPTrigger's status from what the pipeline decided: Accepted (routing
 * rules), Programmed (its routes are in the snapshot served to Envoy), Ready
 * (endpoints serving it), Placeable (a host can run its interfaces; only with
 * heartbeats), the endpoint count and the identities users need when debugging.
 */
import type { Condition, HTTPTrigger, HTTPTriggerStatus, WorkloadDeployment } from '../api/types';
import type { Diagnostic } from '../api/validate';
import type { PlacementVerdict } from '../placement/hosts';
import { stableJson } from './desired';

export interface TriggerStatusInput {
  trigger: HTTPTrigger;
  /** Why the pipeline skipped the trigger (Invalid, UnsupportedPathType, Conflict); absent when admitted. */
  rejection?: Diagnostic;
  endpoints: number;
  /** EndpointIgnored messages for this trigger. */
  ignoredEndpoints: readonly string[];
  /** Routed paths, e.g. "/api (Prefix)"; absent for a trigger that failed validation. */
  paths?: string;
  upstreamHost?: string;
  deployment?: WorkloadDeployment;
  /** Why the WorkloadDeployment could not be written (e.g. a same-named one not owned by the trigger). */
  deploymentProblem?: string;
  placement?: PlacementVerdict;
  /** RFC 3339, for conditions that change now. */
  now: string;
}

export function triggerStatus(input: TriggerStatusInput): HTTPTriggerStatus {
  const { trigger, rejection } = input;
  const generation = trigger.metadata.generation;
  const previous = trigger.status?.conditions ?? [];
  const condition = (type: string, status: Condition['status'], reason: string, message: string): Condition => {
    const before = previous.find((c) => c.type === type);
    return {
      type,
      status,
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
      lastTransitionTime: before && before.status === status && before.lastTransitionTime ? before.lastTransitionTime : input.now,
      reason,
      message,
    };
  };
  const conditions: Condition[] = [
    rejection
      ? condition('Accepted', 'False', rejection.reason, rejection.message)
      : condition('Accepted', 'True', 'Accepted', 'the trigger is valid and holds its routes'),
    rejection
      ? condition('Programmed', 'False', 'NotAccepted', 'no routes are served for a trigger that is not accepted')
      : condition('Programmed', 'True', 'Programmed', 'its routes are in the configuration served to Envoy'),
    readyCondition(input, condition),
  ];
  if (input.placement) conditions.push(condition('Placeable', input.placement.status, input.placement.reason, input.placement.message));
  return {
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
    conditions,
    ...(input.paths !== undefined ? { paths: input.paths } : {}),
    endpoints: rejection ? 0 : input.endpoints,
    ...(input.upstreamHost ? { upstreamHost: input.upstreamHost } : {}),
    ...(input.upstreamHost && !input.deploymentProblem ? { workloadDeployment: trigger.metadata.name } : {}),
  };
}

function readyCondition(input: TriggerStatusInput, condition: (type: string, status: Condition['status'], reason: string, message: string) => Condition): Condition {
  if (input.rejection) return condition('Ready', 'False', 'NotAccepted', 'no traffic reaches a trigger that is not accepted');
  if (input.deploymentProblem) return condition('Ready', 'False', 'DeploymentNotOwned', input.deploymentProblem);
  const replicas = replicaText(input.deployment);
  const ignored = input.ignoredEndpoints.length > 0 ? `; ignored: ${input.ignoredEndpoints.join('; ')}` : '';
  if (input.endpoints > 0) return condition('Ready', 'True', 'EndpointsReady', `${input.endpoints} endpoint(s) serving${replicas}${ignored}`);
  const deploymentReady = input.deployment?.status?.conditions?.find((c) => c.type === 'Ready') as (Condition & { message?: string }) | undefined;
  const why = deploymentReady?.message ? `; WorkloadDeployment Ready=${deploymentReady.status}: ${deploymentReady.message}` : '';
  return condition('Ready', 'False', 'NoEndpoints', `no Ready Workload on a Ready host serves it yet${replicas}${why}${ignored}`);
}

function replicaText(deployment: WorkloadDeployment | undefined): string {
  if (!deployment) return '';
  const ready = (deployment.status?.replicas as { ready?: number } | undefined)?.ready ?? 0;
  return ` (WorkloadDeployment ${deployment.metadata.name}: ${ready}/${deployment.spec.replicas ?? 1} replicas ready)`;
}

/** The status without transition times, to decide whether a write is needed. */
export function statusFingerprint(status: HTTPTriggerStatus | undefined): string {
  if (!status) return '';
  return stableJson({ ...status, conditions: status.conditions?.map(({ lastTransitionTime: _t, ...c }) => c) });
}
