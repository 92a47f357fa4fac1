/** Builders for the manifests the tests feed the resolver and the pipeline. */
import { TRIGGER_LABEL, type Host, type Workload } from '../../controller/api/types';
import type { ProtoJson } from '../../controller/envoy/protos';
import { Pipeline, type PipelineOutput } from '../../controller/pipeline';

export interface TriggerOptions {
  namespace?: string;
  host?: string;
  /** `[path, pathType]` pairs; omitted means the schema default (`/` Prefix). */
  paths?: [string, string][];
  timeout?: string;
  created?: string;
  /** Extra spec fields (merged over the defaults). */
  spec?: Record<string, unknown>;
}

/** An HTTPTrigger manifest as a user would write it. */
export function trigger(name: string, options: TriggerOptions = {}): Record<string, unknown> {
  const metadata: Record<string, unknown> = { name, namespace: options.namespace ?? 'default' };
  if (options.created !== undefined) metadata.creationTimestamp = options.created;
  const ingress: Record<string, unknown> = { host: options.host ?? 'example.com' };
  if (options.paths) ingress.paths = options.paths.map(([path, pathType]) => ({ path, pathType }));
  const spec: Record<string, unknown> = {
    ingress,
    template: { spec: { components: [{ name: 'http', image: 'ghcr.io/example/http:0.1.0' }] } },
    ...(options.timeout !== undefined ? { timeout: options.timeout } : {}),
    ...options.spec,
  };
  return { apiVersion: 'control.cosmonic.io/v1alpha1', kind: 'HTTPTrigger', metadata, spec };
}

/** A Host at the object root, Ready unless told otherwise. */
export function host(hostId: string, options: { hostname?: string; httpPort?: number; ready?: boolean } = {}): Host {
  const h: Host = {
    apiVersion: 'runtime.wasmcloud.dev/v1alpha1',
    kind: 'Host',
    metadata: { name: hostId, namespace: 'default' },
    hostId,
    status: { conditions: [{ type: 'Ready', status: options.ready === false ? 'False' : 'True' }] },
  };
  if (!('hostname' in options) || options.hostname !== undefined) h.hostname = options.hostname ?? '10.0.0.1';
  if (!('httpPort' in options) || options.httpPort !== undefined) h.httpPort = options.httpPort ?? 9191;
  return h;
}

/** A Workload of trigger `triggerName` placed on `hostId`, Ready unless told otherwise. */
export function workload(name: string, triggerName: string, hostId: string, options: { namespace?: string; ready?: boolean } = {}): Workload {
  return {
    apiVersion: 'runtime.wasmcloud.dev/v1alpha1',
    kind: 'Workload',
    metadata: { name, namespace: options.namespace ?? 'default', labels: { [TRIGGER_LABEL]: triggerName } },
    spec: { components: [{ name: 'http', image: 'ghcr.io/example/http:0.1.0' }] },
    status: { hostId, conditions: [{ type: 'Ready', status: options.ready === false ? 'False' : 'True' }] },
  };
}

/** Runs a fresh pipeline over triggers only (no endpoints). */
export function runTriggers(triggers: unknown[]): PipelineOutput {
  return new Pipeline().run({ triggers, workloads: [], hosts: [] });
}

/** The single RouteConfiguration of a pipeline run. */
export function routeConfig(out: PipelineOutput): ProtoJson {
  const [rc, ...rest] = out.resources.routeConfigurations;
  if (!rc || rest.length > 0) throw new Error(`expected one RouteConfiguration, got ${out.resources.routeConfigurations.length}`);
  return rc;
}

/** A deep copy with JSON semantics, to compare against what would go on the wire. */
export function jsonCopy<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** An HTTPTrigger as a user writes it in a manifest file: one component, host `<name>.example.com` unless given. */
export function triggerYaml(name: string, host = `${name}.example.com`): string {
  return `apiVersion: control.cosmonic.io/v1alpha1
kind: HTTPTrigger
metadata: {name: ${name}, namespace: default}
spec:
  ingress: {host: ${host}}
  template: {spec: {components: [{name: c, image: img}]}}
`;
}
