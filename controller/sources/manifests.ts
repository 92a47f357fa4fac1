/**
 * Reading Kubernetes manifests from YAML files (multi-document files, folders
 * recursively) into the objects the controller uses. A file that cannot be read
 * or parsed throws a ManifestError naming it; an object that is bad on its own
 * becomes a diagnostic and its neighbours are kept.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as YAML from 'yaml';
import { checkedHostPolicy, HOST_POLICY_KIND, type ValidHostPolicy } from '../api/host-policy';
import { validateSchema, type SchemaKind } from '../api/schema';
import { objectKey, RUNTIME_API_VERSION, TRIGGER_API_VERSION, type Host, type Workload, type WorkloadDeployment } from '../api/types';

export interface ManifestDiagnostic {
  file: string;
  /** `Kind namespace/name` when the problem is one object. */
  object?: string;
  reason: 'Invalid' | 'Unsupported';
  message: string;
}

/** What a set of manifests holds, by kind. Triggers stay unvalidated: the resolver reports on them. */
export interface ManifestObjects {
  triggers: unknown[];
  workloadDeployments: WorkloadDeployment[];
  workloads: Workload[];
  hosts: Host[];
  /** HostPolicies as checked (one with problems is kept too: its hosts stay reserved, for no namespace). */
  hostPolicies: ValidHostPolicy[];
  /** Namespaces' labels, for HostPolicy selectors; a namespace not listed has none. */
  namespaces: NamespaceLabels[];
  diagnostics: ManifestDiagnostic[];
}

export interface NamespaceLabels {
  name: string;
  /** The object as read: the same one while the namespace is unchanged, so work depending on it is reused. */
  labels: Readonly<Record<string, string>>;
}

/** The labels of a namespace without any (one shared object, so that an unchanged namespace compares equal). */
export const NO_LABELS: Readonly<Record<string, string>> = Object.freeze({});

export class ManifestError extends Error {
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`${file}: ${reason}`);
  }
}

const MANIFEST_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

/** The manifest files under the given files and folders, sorted; throws ManifestError for a path that is missing. */
export function manifestFiles(paths: readonly string[]): string[] {
  const files: string[] = [];
  const visit = (p: string, explicit: boolean) => {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(p);
    } catch (err) {
      // An entry gone since its folder was listed, or a symlink to nothing, is simply not a manifest.
      if (!explicit && (err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new ManifestError(p, `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    if (stat.isDirectory()) {
      for (const entry of fs.readdirSync(p).sort()) {
        if (!entry.startsWith('.')) visit(path.join(p, entry), false);
      }
    } else if (explicit || MANIFEST_EXTENSIONS.has(path.extname(p))) {
      files.push(p);
    }
  };
  for (const p of paths) visit(p, true);
  return [...new Set(files)];
}

/** Parsed YAML documents by their exact text: a file edited in one place re-parses only that document. */
export type DocumentCache = Map<string, unknown[]>;

/**
 * Parses one file's documents (its text given, or read); throws ManifestError when it is unreadable
 * or not YAML. With `cache` (what the last parse of this file left there), documents whose text did
 * not change are taken from it, objects and all; the cache is then replaced with this file's.
 */
export function parseManifestFile(file: string, text?: string, cache?: DocumentCache): unknown[] {
  if (text === undefined) {
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new ManifestError(file, `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  }
  const values = path.extname(file) === '.json' ? [parseJson(file, text)] : parseYamlDocuments(file, text, cache);
  const objects: unknown[] = [];
  for (const value of values) {
    if (value === null || value === undefined) continue;
    if (isObject(value) && value.kind === 'List' && Array.isArray(value.items)) objects.push(...value.items);
    else objects.push(value);
  }
  return objects;
}

/**
 * A line that starts with `---` (then a space or its end) is a document start wherever it appears
 * (YAML 1.2 forbids such lines inside a document's content), so the text splits into documents
 * without parsing it. Anchors never cross documents, so each part parses on its own.
 */
const DOCUMENT_START = /^---(?=[ \t\r]|$)/gm;

function parseYamlDocuments(file: string, text: string, cache?: DocumentCache): unknown[] {
  const starts = [0, ...[...text.matchAll(DOCUMENT_START)].map((m) => m.index).filter((at) => at > 0), text.length];
  const fresh: DocumentCache = new Map();
  const values: unknown[] = [];
  let line = 1;
  for (let i = 0; i + 1 < starts.length; i++) {
    const part = text.slice(starts[i], starts[i + 1]);
    const parsed = cache?.get(part) ?? fresh.get(part) ?? parseYaml(file, part, line, values.length);
    fresh.set(part, parsed);
    values.push(...parsed);
    line += countLines(part);
  }
  if (cache) {
    cache.clear();
    for (const [part, parsed] of fresh) cache.set(part, parsed);
  }
  return values;
}

function countLines(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/** The documents of `text`, which starts at line `firstLine` of the file and after `before` documents. */
function parseYaml(file: string, text: string, firstLine = 1, before = 0): unknown[] {
  return YAML.parseAllDocuments(text, { merge: true }).map((doc, index) => {
    if (doc.errors.length > 0) {
      const e = doc.errors[0];
      const at = e.linePos?.[0].line;
      // The library's own position counts from this document: the line given is the file's.
      const problem = e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
      throw new ManifestError(file, `not valid YAML at line ${at === undefined ? '?' : at + firstLine - 1}: ${problem}`);
    }
    // Aliases are resolved here, not while parsing: an unknown anchor, a merge of a scalar or an alias bomb throws.
    try {
      return doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      throw new ManifestError(file, `document ${before + index + 1} cannot be read: ${(err as Error).message.split('\n')[0]}`);
    }
  });
}

function parseJson(file: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ManifestError(file, `not valid JSON: ${(err as Error).message}`);
  }
}

/** Sorts parsed objects by kind, validating the runtime kinds; `file` names them in diagnostics. */
export function classifyObjects(file: string, objects: readonly unknown[], into: ManifestObjects = emptyManifestObjects()): ManifestObjects {
  objects.forEach((object, index) => {
    if (!isObject(object)) {
      into.diagnostics.push({ file, reason: 'Invalid', message: `document ${index + 1} is not an object` });
      return;
    }
    const { apiVersion, kind } = object;
    const meta = isObject(object.metadata) ? object.metadata : {};
    const label = `${String(kind)} ${objectKey({ namespace: stringOr(meta.namespace), name: stringOr(meta.name) ?? '(unnamed)' })}`;
    if (typeof apiVersion === 'string' && apiVersion.startsWith('core.oam.dev/')) {
      into.diagnostics.push({
        file,
        object: label,
        reason: 'Unsupported',
        message: `${label} is an OAM application (${apiVersion}), the manifest format of vanilla wasmCloud; Cosmonic Control does not read it. Declare an HTTPTrigger (${TRIGGER_API_VERSION}) for an HTTP workload or a WorkloadDeployment (${RUNTIME_API_VERSION}) for any other`,
      });
      return;
    }
    if (apiVersion === TRIGGER_API_VERSION && kind === 'HTTPTrigger') {
      into.triggers.push(object);
      return;
    }
    if (apiVersion === TRIGGER_API_VERSION && kind === HOST_POLICY_KIND) {
      addHostPolicy(into, file, object);
      return;
    }
    if (apiVersion === 'v1' && kind === 'Namespace' && typeof meta.name === 'string') {
      into.namespaces.push({ name: meta.name, labels: isObject(meta.labels) ? (meta.labels as Record<string, string>) : NO_LABELS });
      return;
    }
    const lists: Partial<Record<SchemaKind, unknown[]>> = {
      WorkloadDeployment: into.workloadDeployments,
      Workload: into.workloads,
      Host: into.hosts,
    };
    const list = apiVersion === RUNTIME_API_VERSION ? lists[kind as SchemaKind] : undefined;
    if (!list) {
      const meant = meantKind(apiVersion, kind);
      if (meant) into.diagnostics.push({ file, object: label, reason: 'Unsupported', message: `${label} is skipped: apiVersion ${String(apiVersion)}, kind ${String(kind)} is not a kind this controller reads; did you mean ${meant}?` });
      return;
    }
    const result = validateSchema(kind as SchemaKind, object);
    if (result.ok) list.push(result.value);
    else into.diagnostics.push({ file, object: label, reason: 'Invalid', message: `${label} is skipped: ${result.errors.join('; ')}` });
  });
  return into;
}

/** Reads every manifest under the paths; throws ManifestError on the first file that cannot be read or parsed. */
export function loadManifests(paths: readonly string[]): ManifestObjects {
  const objects = emptyManifestObjects();
  for (const file of manifestFiles(paths)) classifyObjects(file, parseManifestFile(file), objects);
  return objects;
}

export function emptyManifestObjects(): ManifestObjects {
  return { triggers: [], workloadDeployments: [], workloads: [], hosts: [], hostPolicies: [], namespaces: [], diagnostics: [] };
}

/** Adds a HostPolicy as checked, and its problems (saying that it fails closed); `file` names where it came from. */
export function addHostPolicy(into: Pick<ManifestObjects, 'hostPolicies' | 'diagnostics'>, file: string, object: { metadata?: { name?: unknown } }): void {
  const { policy, problems } = checkedHostPolicy(object);
  if (policy) into.hostPolicies.push(policy);
  if (problems.length === 0) return;
  // Cluster-scoped: named without a namespace.
  const label = `${HOST_POLICY_KIND} ${stringOr(object.metadata?.name) ?? '(unnamed)'}`;
  const kept = policy ? `; its hosts ${policy.hosts.join(', ')} stay reserved for no namespace until it is fixed` : '; it names no valid host and is skipped';
  into.diagnostics.push({ file, object: label, reason: 'Invalid', message: `${label}: ${problems.join('; ')}${kept}` });
}

/** The kinds this controller reads, as `apiVersion kind`. */
const OUR_KINDS = [`${TRIGGER_API_VERSION} HTTPTrigger`, `${TRIGGER_API_VERSION} ${HOST_POLICY_KIND}`, ...['WorkloadDeployment', 'Workload', 'Host'].map((k) => `${RUNTIME_API_VERSION} ${k}`)];

/**
 * The kind an object of our API groups was probably meant to be when it is not one we read: a wrong
 * version or a miscased kind would otherwise be ignored silently. Kinds of our groups that we do
 * not read (WorkloadReplicaSet, Artifact) and other groups' kinds stay silent.
 */
function meantKind(apiVersion: unknown, kind: unknown): string | undefined {
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') return undefined;
  const group = apiVersion.split('/')[0];
  const byKind = OUR_KINDS.find((k) => k.split(' ')[1].toLowerCase() === kind.toLowerCase());
  const ourGroup = [TRIGGER_API_VERSION, RUNTIME_API_VERSION].some((v) => v.split('/')[0] === group);
  return byKind && (ourGroup || apiVersion === byKind.split(' ')[0]) ? byKind : undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function stringOr(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
