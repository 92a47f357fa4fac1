/**
 * CRDs for the wasmCloud runtime kinds (runtime.wasmcloud.dev/v1alpha1), for the
 * real test API server: written from the runtime-operator's published field
 * lists (Workload, WorkloadReplicaSet, WorkloadDeployment, Host, Artifact; all
 * namespaced, each with a status subresource, WorkloadDeployment with /scale).
 * The WorkloadSpec is the one in our HTTPTrigger CRD's template, with its CEL
 * rules, so the server also checks what the controller puts into a
 * WorkloadDeployment against that schema.
 */
import * as YAML from 'yaml';
import { crd as ourCrd, HTTPTRIGGER_CRD_PATH } from '../../controller/api/schema';

type Schema = Record<string, unknown>;

const GROUP = 'runtime.wasmcloud.dev';

const condition: Schema = {
  type: 'object',
  required: ['type', 'status'],
  properties: {
    type: { type: 'string' },
    status: { type: 'string', enum: ['True', 'False', 'Unknown'] },
    observedGeneration: { type: 'integer', format: 'int64' },
    lastTransitionTime: { type: 'string', format: 'date-time' },
    lastProbeTime: { type: 'string', format: 'date-time' },
    reason: { type: 'string' },
    message: { type: 'string' },
  },
};
const conditions: Schema = { type: 'array', items: condition, 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] };
const replicaSetStatus: Schema = { type: 'object', properties: Object.fromEntries(['expected', 'current', 'ready', 'unavailable'].map((k) => [k, { type: 'integer', format: 'int32' }])) };
const localObjectReference: Schema = { type: 'object', required: ['name'], properties: { name: { type: 'string' } } };
const readyColumn = { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' };
const ageColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

function workloadTemplate(): Schema {
  const crd = ourCrd(HTTPTRIGGER_CRD_PATH) as { spec: { versions: { schema: { openAPIV3Schema: { properties: { spec: { properties: { template: Schema } } } } } }[] } };
  return crd.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.template;
}

function crd(kind: string, plural: string, root: Schema, extra: { shortNames?: string[]; columns?: Schema[]; scale?: Schema; required?: string[] } = {}): Schema {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${GROUP}` },
    spec: {
      group: GROUP,
      scope: 'Namespaced',
      names: { kind, listKind: `${kind}List`, plural, singular: kind.toLowerCase(), ...(extra.shortNames ? { shortNames: extra.shortNames } : {}) },
      versions: [
        {
          name: 'v1alpha1',
          served: true,
          storage: true,
          subresources: { status: {}, ...(extra.scale ? { scale: extra.scale } : {}) },
          additionalPrinterColumns: [...(extra.columns ?? []), readyColumn, ageColumn],
          schema: { openAPIV3Schema: { type: 'object', ...(extra.required ? { required: extra.required } : {}), properties: { apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: { type: 'object' }, ...root } } },
        },
      ],
    },
  };
}

function runtimeCrds(): Schema[] {
  const template = workloadTemplate();
  const workloadSpec = (template.properties as Schema).spec as Schema;
  const replicaSetSpec = { replicas: { type: 'integer', format: 'int32', default: 1 }, template };
  return [
    crd(
      'Workload',
      'workloads',
      { spec: workloadSpec, status: { type: 'object', properties: { conditions, hostId: { type: 'string' }, environment: { type: 'string' }, workloadId: { type: 'string' } } } },
      { shortNames: ['ww'], columns: [{ name: 'HostID', type: 'string', jsonPath: '.status.hostId' }, { name: 'Environment', type: 'string', jsonPath: '.status.environment' }] },
    ),
    crd(
      'WorkloadReplicaSet',
      'workloadreplicasets',
      { spec: { type: 'object', required: ['template'], properties: replicaSetSpec }, status: { type: 'object', properties: { conditions, replicas: replicaSetStatus } } },
      { columns: [{ name: 'Replicas', type: 'integer', jsonPath: '.spec.replicas' }] },
    ),
    crd(
      'WorkloadDeployment',
      'workloaddeployments',
      {
        spec: {
          type: 'object',
          required: ['template'],
          properties: {
            ...replicaSetSpec,
            // No enum in the runtime's CRD: the operator reads RollingUpdate or Recreate.
            deployPolicy: { type: 'string', default: 'RollingUpdate' },
            artifacts: { type: 'array', items: { type: 'object', required: ['name', 'artifactFrom'], properties: { name: { type: 'string' }, artifactFrom: localObjectReference } } },
            kubernetes: (workloadSpec.properties as Schema).kubernetes,
          },
        },
        status: {
          type: 'object',
          properties: {
            conditions,
            currentReplicaSet: localObjectReference,
            previousReplicaSet: localObjectReference,
            replicas: replicaSetStatus,
            currentReplicas: { type: 'integer', format: 'int32' },
            selector: { type: 'string' },
          },
        },
      },
      {
        columns: [{ name: 'Replicas', type: 'integer', jsonPath: '.spec.replicas' }],
        scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.currentReplicas', labelSelectorPath: '.status.selector' },
      },
    ),
    crd(
      'Host',
      'hosts',
      {
        hostId: { type: 'string' },
        hostname: { type: 'string' },
        httpPort: { type: 'integer', format: 'int64', minimum: 0, maximum: 4294967295 },
        environment: { type: 'string' },
        status: {
          type: 'object',
          properties: {
            conditions,
            ...Object.fromEntries(['version', 'osName', 'osArch', 'osKernel', 'systemCPUUsage'].map((k) => [k, { type: 'string' }])),
            systemMemoryTotal: { type: 'integer', format: 'int64' },
            systemMemoryFree: { type: 'integer', format: 'int64' },
            componentCount: { type: 'integer' },
            workloadCount: { type: 'integer' },
            lastSeen: { type: 'string', format: 'date-time' },
          },
        },
      },
      { required: ['hostId'], columns: [{ name: 'HostID', type: 'string', jsonPath: '.hostId' }, { name: 'HostGroup', type: 'string', jsonPath: '.metadata.labels.hostgroup' }, { name: 'Environment', type: 'string', jsonPath: '.environment' }] },
    ),
    crd('Artifact', 'artifacts', {
      spec: { type: 'object', required: ['image'], properties: { image: { type: 'string' }, imagePullSecret: localObjectReference } },
      status: { type: 'object', properties: { conditions, observedGeneration: { type: 'integer', format: 'int64' }, artifactUrl: { type: 'string' } } },
    }),
  ];
}

/**
 * The runtime CRDs as the stand-in runtime-operator chart ships them (test/charts), which the
 * real-cluster tests apply too; test/golden.test.ts keeps the file equal to {@link runtimeCrdsYaml}.
 */
export const RUNTIME_CRDS_PATH = 'test/charts/runtime-operator/crds/runtime.wasmcloud.dev.yaml';

/** The runtime CRDs as one multi-document YAML file. */
export function runtimeCrdsYaml(): string {
  return `# Generated from test/support/runtime-crds.ts: UPDATE_GOLDEN=1 npm test rewrites it.\n${runtimeCrds().map((crd) => YAML.stringify(crd)).join('---\n')}`;
}
