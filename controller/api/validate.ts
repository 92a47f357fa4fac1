/**
 * Semantic checks of HTTPTriggers and workload specs beyond what the schema can
 * say, shared by the controller (which skips a bad trigger with a diagnostic)
 * and the Pulumi components (which fail `pulumi preview` with the same words).
 */
import { createHash } from 'node:crypto';
import { parseGoDuration, type Duration } from './duration';
import { validateSchema } from './schema';
import { objectKey, type HTTPTrigger, type HostInterface, type WorkloadSpec } from './types';

/** Why a trigger was skipped (all but the last) or only partly served. */
export type DiagnosticReason = 'Invalid' | 'UnsupportedPathType' | 'Conflict' | 'HostNotAllowed' | 'EndpointIgnored';

/** The reasons a whole trigger is skipped for (`EndpointIgnored` only leaves out one endpoint). */
export const REJECTION_REASONS: ReadonlySet<DiagnosticReason> = new Set<DiagnosticReason>(['Invalid', 'UnsupportedPathType', 'Conflict', 'HostNotAllowed']);

export interface Diagnostic {
  /** `namespace/name` of the trigger. */
  trigger: string;
  reason: DiagnosticReason;
  message: string;
  /** For `Conflict`: the trigger that holds the route. */
  winner?: string;
}

export type PathType = 'Exact' | 'Prefix';

export interface ValidPath {
  type: PathType;
  /** For Prefix, without the one trailing `/` Kubernetes ignores (`/` stays `/`). */
  path: string;
}

/** A trigger that passed every check, in the normalised form the resolver uses. */
export interface ValidTrigger {
  key: string;
  namespace: string;
  name: string;
  /** Milliseconds since the epoch; triggers without one sort last. */
  createdAt: number;
  /** Lower-case; `*.suffix` for a wildcard. */
  host: string;
  wildcard: boolean;
  paths: ValidPath[];
  timeout: Duration;
  /** The Host header the workload is reached with (its wasi:http `config.host`). */
  upstreamHost: string;
  source: HTTPTrigger;
}

export const DEFAULT_TIMEOUT: Duration = { seconds: 15, nanos: 0 };

export type TriggerCheck = { ok: true; trigger: ValidTrigger } | { ok: false; diagnostic: Diagnostic };

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/**
 * What nearly every name is: checked with one regex before the label-by-label
 * checks that explain a failure (which would allocate for every trigger).
 */
const PLAIN_HOST = /^(\*\.)?([a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?\.)*[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?$/;
const PLAIN_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/;
const PLAIN_PATH = /^\/[^?#\s\u0000-\u001f\u007f]*$/;
const NO_PROBLEMS: readonly string[] = Object.freeze([]);
const NOT_LOWER_CASE_ASCII = /[^-a-z0-9.*]/;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** Lower case, without a copy of the names (nearly all of them) that already are. */
function lowerCase(name: string): string {
  return NOT_LOWER_CASE_ASCII.test(name) ? name.toLowerCase() : name;
}

/** A user-supplied value for a message; never throws (unlike String() on some objects). */
function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return String(value);
  return `(${Array.isArray(value) ? 'an array' : `a value of type ${typeof value}`})`;
}

/** Checks a host as in Kubernetes IngressRule.host; returns problems (empty when valid). */
export function hostProblems(host: string, field = 'ingress.host'): readonly string[] {
  if (host.length <= 253 && PLAIN_HOST.test(host) && !IPV4.test(host)) return NO_PROBLEMS;
  if (host === '') return [`${field} is empty: set the DNS name requests arrive with, e.g. hello.example.com`];
  if (host === '*') return [`${field} "*" is not allowed: use an exact host or a wildcard such as *.example.com`];
  if (host.includes(':')) {
    return [`${field} "${host}" has a port: ports are ignored when matching, remove ":${host.split(':').pop()}"`];
  }
  if (host.endsWith('.')) return [`${field} "${host}" ends with a dot: remove the trailing "."`];
  if (host.length > 253) return [`${field} is ${host.length} characters long: a DNS name has at most 253`];
  const labels = host.toLowerCase().split('.');
  const wildcard = labels[0] === '*';
  if (host.includes('*') && (!wildcard || labels.slice(1).some((l) => l.includes('*')))) {
    return [`${field} "${host}": a wildcard must be the whole first label, as in *.example.com`];
  }
  if (wildcard && labels.length < 2) return [`${field} "${host}": a wildcard needs a suffix, as in *.example.com`];
  if (IPV4.test(host) || host.startsWith('[')) return [`${field} "${host}" is an IP address: use a DNS name`];
  const bad = labels.slice(wildcard ? 1 : 0).filter((l) => !DNS_LABEL.test(l) || l.length > 63);
  if (bad.length > 0) {
    return [
      `${field} "${host}" is not a valid DNS name: label "${bad[0]}" must be 1-63 letters, digits or "-", starting and ending with a letter or digit`,
    ];
  }
  return [];
}

/**
 * Checks the trigger's name and namespace as the API server does for custom
 * resources (name: DNS subdomain; namespace: DNS label). Manifests read from
 * files skip the API server, and both end up in Envoy config (cluster name,
 * route metadata, the Host rewrite) where a stray character such as a newline
 * would make Envoy reject the whole response.
 */
export function metadataProblems(namespace: unknown, name: string): readonly string[] {
  const plainNamespace = namespace === undefined || (typeof namespace === 'string' && namespace.length <= 63 && DNS_LABEL.test(namespace));
  if (plainNamespace && name.length <= 253 && PLAIN_SUBDOMAIN.test(name)) return NO_PROBLEMS;
  const problems: string[] = [];
  const subdomain = name.length <= 253 && name.split('.').every((l) => DNS_LABEL.test(l) && l.length <= 63);
  if (!subdomain) {
    problems.push(
      `metadata.name ${JSON.stringify(name)} is not a valid Kubernetes name: use at most 253 lower-case letters, digits, "-" and ".", starting and ending with a letter or digit`,
    );
  }
  if (namespace !== undefined && (typeof namespace !== 'string' || namespace.length > 63 || !DNS_LABEL.test(namespace))) {
    problems.push(
      `metadata.namespace ${show(namespace)} is not a valid namespace: use at most 63 lower-case letters, digits and "-", starting and ending with a letter or digit`,
    );
  }
  return problems;
}

/** Checks one path entry; returns problems (empty when valid). */
export function pathProblems(path: unknown, index: number): readonly string[] {
  if (typeof path === 'string' && PLAIN_PATH.test(path)) return NO_PROBLEMS;
  const at = `ingress.paths[${index}].path`;
  if (typeof path !== 'string' || !path.startsWith('/')) return [`${at} "${String(path)}" must start with "/"`];
  if (/[?#]/.test(path)) return [`${at} "${path}" contains "?" or "#": paths are matched without the query string or fragment`];
  if (/[\s\u0000-\u001f\u007f]/.test(path)) return [`${at} "${path}" contains white space or control characters`];
  return [];
}

/**
 * The two uniqueness rules the runtime's CRD enforces on hostInterfaces (its CEL
 * validations), so a violation is reported before the WorkloadDeployment is refused.
 */
export function hostInterfaceProblems(interfaces: HostInterface[] | undefined, field = 'hostInterfaces'): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  const unnamed = new Set<string>();
  for (const hi of interfaces ?? []) {
    const pkg = `${hi.namespace}:${hi.package}`;
    const id = `${pkg}|${hi.name ?? ''}|${hi.version ?? ''}`;
    if (seen.has(id)) problems.push(`${field}: ${pkg}${hi.version ? `@${hi.version}` : ''} is listed twice; merge the entries`);
    seen.add(id);
    if (hi.name === undefined) {
      if (unnamed.has(pkg)) problems.push(`${field}: at most one unnamed hostInterface is allowed per ${pkg}; set a unique name`);
      unnamed.add(pkg);
    }
  }
  return problems;
}

function mountsVolumes(component: { localResources?: { volumeMounts?: unknown[] } }): boolean {
  return (component.localResources?.volumeMounts?.length ?? 0) > 0;
}

/** Problems in a WorkloadSpec that its schema cannot express. */
export function workloadSpecProblems(spec: WorkloadSpec, field: string): string[] {
  // Most specs have no host interfaces, volumes or mounts: nothing to cross-check (and nothing to allocate).
  if (!spec.hostInterfaces?.length && !spec.volumes?.length && !spec.service?.localResources?.volumeMounts?.length && !spec.components?.some(mountsVolumes)) {
    return [];
  }
  const problems = hostInterfaceProblems(spec.hostInterfaces, `${field}.hostInterfaces`);
  const volumes = new Set((spec.volumes ?? []).map((v) => v.name));
  const mounts = [
    ...(spec.components ?? []).map((c) => ({ owner: `component ${c.name}`, mounts: c.localResources?.volumeMounts })),
    { owner: 'service', mounts: spec.service?.localResources?.volumeMounts },
  ];
  for (const { owner, mounts: list } of mounts) {
    for (const m of list ?? []) {
      if (!volumes.has(m.name)) problems.push(`${field}: ${owner} mounts volume "${m.name}", which is not in ${field}.volumes`);
    }
  }
  return problems;
}

/**
 * The per-trigger Host header a request is rewritten to. A wasmCloud host routes
 * by Host header alone, so two triggers sharing a domain need distinct names.
 */
export function triggerUpstreamHost(namespace: string, name: string): string {
  const host = lowerCase(`${name}.${namespace}.trigger.internal`);
  if (host.length <= 253) return host;
  const digest = createHash('sha256').update(`${namespace}/${name}`).digest('hex').slice(0, 16);
  return `${name.slice(0, 40).replace(/[^a-z0-9-]/g, '-').replace(/-+$/, '')}-${digest}.${namespace}.trigger.internal`;
}

const checks = new WeakMap<object, TriggerCheck>();

/**
 * checkHTTPTrigger, once per object: the resolver and the reconciler both ask
 * about every trigger on every pass. Sources hand over a new object when a
 * trigger changes (they never edit one in place), so the object is the key.
 */
export function checkedHTTPTrigger(object: unknown): TriggerCheck {
  if (object === null || typeof object !== 'object') return checkHTTPTrigger(object);
  let check = checks.get(object);
  if (!check) checks.set(object, (check = checkHTTPTrigger(object)));
  return check;
}

function failure(trigger: string, reason: DiagnosticReason, problems: string[]): TriggerCheck {
  return { ok: false, diagnostic: { trigger, reason, message: problems.join('; ') } };
}

/** A supported path as the resolver matches it: Prefix without the one trailing `/` Kubernetes ignores. */
function validPath(p: { path: string; pathType: string }): ValidPath {
  const type = p.pathType as PathType;
  return { type, path: type === 'Prefix' && p.path.length > 1 && p.path.endsWith('/') ? p.path.slice(0, -1) : p.path };
}

function repeatsEarlier(paths: readonly ValidPath[], i: number): boolean {
  for (let j = 0; j < i; j++) if (paths[j].type === paths[i].type && paths[j].path === paths[i].path) return true;
  return false;
}

/** `problems` with `found` added; no array at all while there are none. */
function withProblems(problems: string[] | undefined, found: readonly string[]): string[] | undefined {
  return found.length > 0 ? [...(problems ?? []), ...found] : problems;
}

function isSupportedPath(p: { pathType: string }): boolean {
  return p.pathType === 'Exact' || p.pathType === 'Prefix';
}

/** Validates an HTTPTrigger manifest (schema, then semantics); never throws. */
export function checkHTTPTrigger(object: unknown): TriggerCheck {
  const meta = (object as { metadata?: { namespace?: unknown; name?: unknown } } | null)?.metadata;
  const key = objectKey({
    namespace: typeof meta?.namespace === 'string' ? meta.namespace : undefined,
    name: typeof meta?.name === 'string' ? meta.name : '(unnamed)',
  });
  const schema = validateSchema<HTTPTrigger>('HTTPTrigger', object);
  if (!schema.ok) return failure(key, 'Invalid', schema.errors);
  const trigger = schema.value;
  const { spec, metadata } = trigger;
  // Problems are gathered into an array made only when there is one: this runs for every trigger of a cold start.
  let problems = withProblems(undefined, metadataProblems(metadata.namespace, metadata.name));
  problems = withProblems(problems, hostProblems(spec.ingress.host));
  problems = withProblems(problems, workloadSpecProblems(spec.template.spec, 'template.spec'));
  const paths = spec.ingress.paths ?? [];
  for (let i = 0; i < paths.length; i++) problems = withProblems(problems, pathProblems(paths[i].path, i));
  const timeout = spec.timeout === undefined ? DEFAULT_TIMEOUT : parseGoDuration(spec.timeout);
  if ('error' in timeout) problems = withProblems(problems, [`timeout: ${timeout.error}`]);
  // Not typed by the schema: anything can arrive here, including objects that
  // cannot be turned into a string; Date.parse alone also takes "5" or "Jan 1".
  const created: unknown = metadata.creationTimestamp;
  const createdAt =
    created === undefined ? Number.POSITIVE_INFINITY : typeof created === 'string' && RFC3339.test(created) ? Date.parse(created) : Number.NaN;
  if (Number.isNaN(createdAt)) problems = withProblems(problems, [`metadata.creationTimestamp ${show(created)} is not an RFC 3339 time`]);
  if (problems) return failure(key, 'Invalid', problems);
  const unsupported = paths.every(isSupportedPath) ? [] : paths.filter((p) => !isSupportedPath(p));
  if (unsupported.length > 0) {
    return failure(key, 'UnsupportedPathType', [
      `pathType ${[...new Set(unsupported.map((p) => JSON.stringify(p.pathType)))].join(', ')} is not supported (path ${unsupported
        .map((p) => p.path)
        .join(', ')}): use Exact or Prefix; the whole trigger is skipped until then`,
    ]);
  }
  const namespace = metadata.namespace ?? 'default';
  // Sized to fit (map, not push: a pushed-to array keeps room for 17), then repeats collapse
  // (at most 64 paths, the CRD's maxItems: a scan beats a map).
  const normalised = paths.map(validPath);
  const unique = normalised.some((_, i) => repeatsEarlier(normalised, i)) ? normalised.filter((_, i) => !repeatsEarlier(normalised, i)) : normalised;
  const host = lowerCase(spec.ingress.host);
  return {
    ok: true,
    trigger: {
      key,
      namespace,
      name: metadata.name,
      createdAt,
      host,
      wildcard: host.startsWith('*.'),
      paths: unique,
      timeout: timeout as Duration,
      upstreamHost: triggerUpstreamHost(namespace, metadata.name),
      source: trigger,
    },
  };
}
