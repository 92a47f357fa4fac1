import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { validateSchema } from '../controller/api/schema';
import { RUNTIME_API_VERSION, type WorkloadDeployment as WorkloadDeploymentObject } from '../controller/api/types';
import { metadataProblems, workloadSpecProblems } from '../controller/api/validate';
import { unsupportedValue } from './args';
import { DeployPolicy, WorkloadDeploymentArgs } from './workload-args';
import { checkFailure, knownForCheck, placementProblem, perRunRegistry, withoutUndefined, workloadBasics, workloadSpec } from './workload-checks';

/** WorkloadDeployments of this program run, by `namespace/name`. */
const deploymentsThisRun = perRunRegistry(() => new Set<string>());

/**
 * A WebAssembly workload without HTTP (runtime.wasmcloud.dev/v1alpha1
 * WorkloadDeployment): a NATS-driven worker (`wasmcloud:messaging` with
 * `config.subscriptions`), or a service with components sharing volumes.
 * The flat arguments become `spec.template.spec`.
 *
 * The manifest is checked against the runtime's schema and the rules it
 * enforces, and `hostInterfaces` against the interfaces of `hostGroup`, before
 * anything is created.
 */
export class WorkloadDeployment extends pulumi.ComponentResource {
  /** The WorkloadDeployment's name. */
  public readonly deploymentName!: pulumi.Output<string>;
  /** The WorkloadDeployment's namespace. */
  public readonly namespace!: pulumi.Output<string>;

  constructor(name: string, args: WorkloadDeploymentArgs, opts?: pulumi.ComponentResourceOptions) {
    // Everything is checked before registering; the error is raised on the component once it exists.
    const plan = opts?.urn ? undefined : planWorkloadDeployment(name, args ?? ({} as WorkloadDeploymentArgs));
    super('wasm-control:index:WorkloadDeployment', name, opts?.urn ? {} : args, opts);
    if (!plan) return; // rehydrated from a URN: the outputs come from state
    if (plan.problems.length > 0) throw new pulumi.ResourceError(checkFailure('WorkloadDeployment', plan.key, plan.problems), this);

    new k8s.apiextensions.CustomResource(`${name}-workloaddeployment`, plan.manifest as k8s.apiextensions.CustomResourceArgs, {
      parent: this,
      // The runtime chart brings the WorkloadDeployment CRD.
      dependsOn: plan.runtime ? [plan.runtime] : [],
    });
    this.deploymentName = pulumi.output(plan.name);
    this.namespace = pulumi.output(plan.namespace);
    this.registerOutputs({ deploymentName: this.deploymentName, namespace: this.namespace });
  }
}

export interface WorkloadDeploymentPlan {
  key: string;
  name: string;
  namespace: string;
  manifest: Record<string, unknown>;
  runtime?: pulumi.Resource;
  problems: string[];
}

/** Builds the manifest and runs every check; never throws. */
export function planWorkloadDeployment(componentName: string, args: WorkloadDeploymentArgs): WorkloadDeploymentPlan {
  const { name, namespace, key, controlPlane, selector, problems } = workloadBasics(componentName, args);
  const policyProblem = args.deployPolicy === undefined ? undefined : unsupportedValue(args.deployPolicy, DeployPolicy);
  if (policyProblem) problems.push(`deployPolicy ${policyProblem}`);

  const manifest = {
    apiVersion: RUNTIME_API_VERSION,
    kind: 'WorkloadDeployment',
    metadata: { name, namespace },
    spec: withoutUndefined({ replicas: args.replicas, deployPolicy: args.deployPolicy, template: { spec: workloadSpec(args, selector) } }),
  };
  const schema = validateSchema<WorkloadDeploymentObject>('WorkloadDeployment', knownForCheck(manifest));
  if (!schema.ok) problems.push(...schema.errors);
  else problems.push(...metadataProblems(namespace, name), ...workloadSpecProblems(schema.value.spec.template.spec, 'spec.template.spec'));
  const placement = placementProblem(args.hostInterfaces, args.hostGroup);
  if (placement) problems.push(placement);

  const seen = deploymentsThisRun();
  if (seen.has(key)) problems.push(`WorkloadDeployment ${key} is defined more than once: give each WorkloadDeployment its own name or namespace`);
  seen.add(key);
  return { key, name, namespace, manifest, runtime: controlPlane?.runtime, problems };
}
