/**
 * The pure part of the pipeline, shared by the translate CLI, the controller
 * process and the benchmarks: objects → endpoints → routing model → Envoy
 * resources. Reusing one Pipeline across changes lets unchanged parts be reused.
 */
import type { Diagnostic } from './api/validate';
import type { Host, Workload } from './api/types';
import type { EnvoyResources, TranslateOptions } from './envoy/translate';
import { Translator } from './envoy/translate';
import { triggerEndpoints } from './resolve/endpoints';
import { Resolver, type RoutingModel } from './resolve/resolve';

export interface PipelineInput {
  triggers: readonly unknown[];
  workloads: readonly Workload[];
  hosts: readonly Host[];
}

export interface PipelineOutput {
  model: RoutingModel;
  resources: EnvoyResources;
  /** Resolver diagnostics, then endpoint diagnostics. */
  diagnostics: Diagnostic[];
}

export class Pipeline {
  private readonly resolver = new Resolver();
  private readonly translator: Translator;

  constructor(options: TranslateOptions = {}) {
    this.translator = new Translator(options);
  }

  run(input: PipelineInput): PipelineOutput {
    const endpoints = triggerEndpoints(input.workloads, input.hosts);
    const model = this.resolver.resolve({ triggers: input.triggers, endpoints: endpoints.byTrigger });
    const admitted = new Set(model.admitted.map((t) => t.key));
    return {
      model,
      resources: this.translator.translate(model),
      diagnostics: [...model.diagnostics, ...endpoints.diagnostics.filter((d) => admitted.has(d.trigger))],
    };
  }
}

/** Resources in the order a make-before-break push sends them: CDS, EDS, LDS, RDS. */
export function resourceList(resources: EnvoyResources): unknown[] {
  return [...resources.clusters, ...resources.clusterLoadAssignments, ...resources.listeners, ...resources.routeConfigurations];
}
