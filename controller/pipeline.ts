/**
 * The pure part of the pipeline, shared by the translate CLI, the controller
 * process and the benchmarks: objects → endpoints → routing model → Envoy
 * resources. Reusing one Pipeline across changes lets unchanged parts be reused.
 */
import { HostOwnership, type UnlistedHosts, type ValidHostPolicy } from './api/host-policy';
import type { Diagnostic } from './api/validate';
import type { Host, Workload } from './api/types';
import { configJson, Translator, type EnvoyConfig, type EnvoyResources, type TranslateOptions } from './envoy/translate';
import { compareStrings, triggerEndpoints, type TriggerEndpoints } from './resolve/endpoints';
import { Resolver, type RoutingModel } from './resolve/resolve';
import type { NamespaceLabels } from './sources/manifests';

export interface PipelineInput {
  triggers: readonly unknown[];
  workloads: readonly Workload[];
  hosts: readonly Host[];
  /** Absent: no HostPolicy, so only the unlisted-hosts setting applies. */
  hostPolicies?: readonly ValidHostPolicy[];
  /** Every namespace's labels (one not listed has none), for HostPolicy selectors. */
  namespaces?: readonly NamespaceLabels[];
}

export interface PipelineOptions extends TranslateOptions {
  /** Whether hosts no HostPolicy names may be claimed from any namespace (default) or from none. */
  unlistedHosts?: UnlistedHosts;
}

export interface PipelineOutput {
  model: RoutingModel;
  /** What is served. */
  envoy: EnvoyConfig;
  /** The same resources in proto3 JSON, rendered on first use. */
  readonly resources: EnvoyResources;
  /** Resolver diagnostics, then endpoint diagnostics. */
  diagnostics: Diagnostic[];
}

export class Pipeline {
  private readonly resolver = new Resolver();
  private readonly translator: Translator;
  private endpoints?: { workloads: readonly Workload[]; hosts: readonly Host[]; result: TriggerEndpoints };
  private readonly unlistedHosts: UnlistedHosts;
  /** Kept while the policies and namespace labels are the same objects, so the resolver can reuse its verdicts. */
  private ownership?: { policies: readonly ValidHostPolicy[]; namespaces: readonly NamespaceLabels[]; value: HostOwnership };

  constructor(options: PipelineOptions = {}) {
    this.translator = new Translator(options);
    this.unlistedHosts = options.unlistedHosts ?? 'allow';
  }

  run(input: PipelineInput): PipelineOutput {
    const endpoints = this.endpointsOf(input.workloads, input.hosts);
    const model = this.resolver.resolve({ triggers: input.triggers, endpoints: endpoints.byTrigger, hostOwnership: this.hostOwnership(input.hostPolicies ?? [], input.namespaces ?? []) });
    const admitted = endpoints.diagnostics.length > 0 ? new Set(model.admitted.map((t) => t.key)) : undefined;
    const envoy = this.translator.translate(model);
    let json: EnvoyResources | undefined;
    return {
      model,
      envoy,
      get resources() {
        return (json ??= configJson(envoy));
      },
      diagnostics: sortedDiagnostics(admitted ? [...model.diagnostics, ...endpoints.diagnostics.filter((d) => admitted.has(d.trigger))] : model.diagnostics),
    };
  }

  private hostOwnership(policies: readonly ValidHostPolicy[], namespaces: readonly NamespaceLabels[]): HostOwnership {
    const last = this.ownership;
    // Labels matter only to selector grants: without one, a namespace created or relabelled changes no verdict.
    const labelsMatter = policies.some((p) => p.grant.selector);
    const sameNamespaces = (a: readonly NamespaceLabels[]) => a.length === namespaces.length && a.every((n, i) => n.name === namespaces[i].name && n.labels === namespaces[i].labels);
    if (last && sameObjects(last.policies, policies) && (!labelsMatter || sameNamespaces(last.namespaces))) return last.value;
    const value = new HostOwnership(policies, this.unlistedHosts, new Map(namespaces.map((n) => [n.name, n.labels])));
    this.ownership = { policies, namespaces, value };
    return value;
  }

  private endpointsOf(workloads: readonly Workload[], hosts: readonly Host[]): TriggerEndpoints {
    const last = this.endpoints;
    if (last && sameObjects(last.workloads, workloads) && sameObjects(last.hosts, hosts)) return last.result;
    const result = triggerEndpoints(workloads, hosts);
    this.endpoints = { workloads, hosts, result };
    return result;
  }
}

/** By trigger, then reason: the same objects give the same report whatever order they were read in. */
function sortedDiagnostics(diagnostics: Diagnostic[]): Diagnostic[] {
  return diagnostics.length < 2
    ? diagnostics
    : [...diagnostics].sort((a, b) => compareStrings(a.trigger, b.trigger) || compareStrings(a.reason, b.reason) || compareStrings(a.message, b.message));
}

/** The same Workload and Host objects as last time give the same endpoints: skip the pass over them. */
function sameObjects<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Resources in the order a make-before-break push sends them: CDS, EDS, LDS, RDS. */
export function resourceList(resources: EnvoyResources): unknown[] {
  return [...resources.clusters, ...resources.clusterLoadAssignments, ...resources.listeners, ...resources.routeConfigurations];
}
