/**
 * Schema validation of manifests, with the same schema the API server enforces:
 * the HTTPTrigger CRD's openAPIV3Schema (controller/crd/), and for the runtime
 * kinds schemas built around the WorkloadSpec taken from that same CRD.
 *
 * Like the API server it applies defaults; like `kubectl --validate=strict` it
 * reports unknown fields instead of dropping them silently.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import * as YAML from 'yaml';
import { packageRoot } from '../package-root';

export const HTTPTRIGGER_CRD_PATH = 'controller/crd/httptriggers.control.cosmonic.io.yaml';
export const HOSTPOLICY_CRD_PATH = 'controller/crd/hostpolicies.control.cosmonic.io.yaml';
/** The CustomResourceDefinitions this project defines, in the order they are installed. */
export const CRD_PATHS = [HTTPTRIGGER_CRD_PATH, HOSTPOLICY_CRD_PATH] as const;

type JsonSchema = Record<string, unknown>;

/** A CustomResourceDefinition of ours as parsed from its YAML file (one of {@link CRD_PATHS}). */
export function crd(file: (typeof CRD_PATHS)[number]): JsonSchema {
  return YAML.parse(fs.readFileSync(path.join(packageRoot(), file), 'utf8'), { merge: true });
}


export type SchemaKind = 'HTTPTrigger' | 'HostPolicy' | 'WorkloadDeployment' | 'Workload' | 'Host';

export type SchemaResult<T> = { ok: true; value: T } | { ok: false; errors: string[] };

interface KindValidator {
  validate: ValidateFunction;
  /** Paths of the objects ajv writes defaults into; only these are copied before validating. */
  defaultedObjects: string[][];
}

let validators: Record<SchemaKind, KindValidator> | undefined;

/**
 * Validates a manifest object against its kind's schema and returns it with
 * defaults applied (the input is not modified), or the list of problems as
 * `field.path: message`.
 */
export function validateSchema<T>(kind: SchemaKind, object: unknown): SchemaResult<T> {
  validators ??= compileValidators();
  const { validate, defaultedObjects } = validators[kind];
  const copy = copyAlong(object, defaultedObjects);
  if (validate(copy)) return { ok: true, value: copy as T };
  return { ok: false, errors: formatErrors(validate.errors ?? [], validate.schema as JsonSchema) };
}

/**
 * A copy of `object` that shares everything except the objects on the given
 * paths (a full deep copy of every manifest was the resolver's largest cost).
 */
function copyAlong(object: unknown, paths: string[][]): unknown {
  if (!isPlainObject(object)) return object;
  const root = { ...object };
  for (const path of paths) {
    let node: Record<string, unknown> = root;
    for (const key of path) {
      if (!isPlainObject(node[key])) break;
      node = node[key] = { ...(node[key] as Record<string, unknown>) };
    }
  }
  return root;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Object paths (outside arrays) holding a property with a default. */
function defaultedObjectPaths(schema: JsonSchema, at: string[] = []): string[][] {
  const properties = schema.properties as Record<string, JsonSchema> | undefined;
  if (!properties) return [];
  const own = Object.values(properties).some((p) => p.default !== undefined) ? [at] : [];
  return [...own, ...Object.entries(properties).flatMap(([k, p]) => defaultedObjectPaths(p, [...at, k]))];
}

function compileValidators(): Record<SchemaKind, KindValidator> {
  type Crd = { spec: { versions: { schema: { openAPIV3Schema: JsonSchema } }[] } };
  const openApiSchema = (file: (typeof CRD_PATHS)[number]) => (crd(file) as Crd).spec.versions[0].schema.openAPIV3Schema;
  const trigger = strictObjects(openApiSchema(HTTPTRIGGER_CRD_PATH));
  const policy = strictObjects(openApiSchema(HOSTPOLICY_CRD_PATH));
  const workloadSpec = ((trigger.properties as JsonSchema).spec as { properties: JsonSchema }).properties.template as {
    properties: { spec: JsonSchema };
  };
  const spec = workloadSpec.properties.spec;
  // The runtime writes full metav1.Conditions; we read only type and status.
  const conditions = {
    type: 'array',
    items: { type: 'object', required: ['type', 'status'], properties: { type: { type: 'string' }, status: { enum: ['True', 'False', 'Unknown'] } } },
  };
  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
  for (const format of ['int32', 'int64'] as const) {
    const limit = format === 'int32' ? 2 ** 31 : 2 ** 63;
    ajv.addFormat(format, { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= -limit && n < limit });
  }
  ajv.addFormat('date-time', { type: 'string', validate: (s: string) => !Number.isNaN(Date.parse(s)) });
  const meta = { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1 } } };
  const runtimeStatus = { type: 'object', properties: { conditions } };
  const object = (properties: JsonSchema, required: string[]) => ({
    type: 'object',
    required: ['metadata', ...required],
    properties: { apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: meta, ...properties },
  });
  const template = { type: 'object', required: ['spec'], properties: { ...workloadSpec.properties, spec } };
  const compile = (schema: JsonSchema): KindValidator => ({ validate: ajv.compile(schema), defaultedObjects: defaultedObjectPaths(schema) });
  return {
    HTTPTrigger: compile({ ...trigger, properties: { ...(trigger.properties as JsonSchema), metadata: meta }, required: ['metadata', 'spec'] }),
    HostPolicy: compile({ ...policy, properties: { ...(policy.properties as JsonSchema), metadata: meta } }),
    WorkloadDeployment: compile(
      object(
        {
          spec: {
            type: 'object',
            required: ['template'],
            properties: {
              replicas: { type: 'integer', format: 'int32', minimum: 0, default: 1 },
              deployPolicy: { type: 'string', default: 'RollingUpdate' },
              template,
              artifacts: { type: 'array', items: { type: 'object', required: ['name', 'artifactFrom'] } },
              kubernetes: (spec.properties as JsonSchema).kubernetes,
            },
          },
          status: runtimeStatus,
        },
        ['spec'],
      ),
    ),
    Workload: compile(
      object(
        {
          spec,
          status: {
            type: 'object',
            properties: { conditions, hostId: { type: 'string' }, environment: { type: 'string' }, workloadId: { type: 'string' } },
          },
        },
        ['spec'],
      ),
    ),
    Host: compile(
      object(
        {
          hostId: { type: 'string', minLength: 1 },
          hostname: { type: 'string' },
          httpPort: { type: 'integer', minimum: 0, maximum: 65535 },
          environment: { type: 'string' },
          status: runtimeStatus,
        },
        ['hostId'],
      ),
    ),
  };
}

/**
 * Structural CRD schemas prune unknown fields; we report them instead, so every
 * object schema that lists its properties gets `additionalProperties: false`.
 */
function strictObjects(schema: JsonSchema): JsonSchema {
  const out: JsonSchema = { ...schema };
  if (out.properties && out.additionalProperties === undefined && !out['x-kubernetes-preserve-unknown-fields']) {
    out.additionalProperties = false;
  }
  for (const key of ['properties'] as const) {
    if (out[key]) {
      out[key] = Object.fromEntries(Object.entries(out[key] as JsonSchema).map(([k, v]) => [k, strictObjects(v as JsonSchema)]));
    }
  }
  for (const key of ['items', 'additionalProperties'] as const) {
    if (out[key] && typeof out[key] === 'object') out[key] = strictObjects(out[key] as JsonSchema);
  }
  return out;
}

function formatErrors(errors: ErrorObject[], root: JsonSchema): string[] {
  // A oneOf's branch errors only say what each alternative lacks: report the oneOf once, naming the alternatives.
  const oneOfs = errors.filter((e) => e.keyword === 'oneOf');
  const inOneOfBranch = (e: ErrorObject) => oneOfs.some((o) => o !== e && e.instancePath === o.instancePath && e.schemaPath.startsWith(`${o.schemaPath}/`));
  const messages = errors
    .filter((e) => !inOneOfBranch(e))
    .map((e) => {
      const at = instancePathToField(e.instancePath);
      if (e.keyword === 'oneOf') {
        const alternatives = (schemaAt(root, e.schemaPath) as JsonSchema[]).flatMap((branch) => (branch.required as string[] | undefined) ?? []);
        const passing = (e.params as { passingSchemas: number[] | null }).passingSchemas;
        return `${at || '(object)'}: ${passing ? 'set only one' : 'set exactly one'} of ${alternatives.join(', ')}`;
      }
      if (e.keyword === 'additionalProperties') {
        const field = (e.params as { additionalProperty: string }).additionalProperty;
        return `${at ? `${at}.` : ''}${field}: unknown field`;
      }
      if (e.keyword === 'required') {
        const field = (e.params as { missingProperty: string }).missingProperty;
        return `${at ? `${at}.` : ''}${field}: required field is missing`;
      }
      if (e.keyword === 'enum') {
        return `${at}: must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
      }
      return `${at || '(object)'}: ${e.message}`;
    });
  return [...new Set(messages)];
}

/** The part of a schema an error's `schemaPath` (`#/properties/spec/...`) points at. */
function schemaAt(root: JsonSchema, schemaPath: string): unknown {
  return schemaPath
    .split('/')
    .slice(1)
    .reduce<unknown>((node, part) => (node as Record<string, unknown>)[part.replace(/~1/g, '/').replace(/~0/g, '~')], root);
}

/** `/spec/ingress/paths/0/path` → `spec.ingress.paths[0].path`. */
function instancePathToField(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, part) => (/^\d+$/.test(part) ? `${acc}[${part}]` : acc ? `${acc}.${part}` : part), '');
}
