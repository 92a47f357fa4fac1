/**
 * Shared set-up for the Kubernetes-mode tests: the test API server with the
 * schema checks a real one would apply to what the controller writes, a
 * controller wired exactly as main.ts wires it (with fast timings), and waiting
 * on conditions that re-checks whenever the API server or the controller's log
 * moves (no fixed sleeps).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import * as YAML from 'yaml';
import { packageRoot } from '../../controller/package-root';
import { validateSchema, type SchemaKind } from '../../controller/api/schema';
import { KubernetesController, type KubernetesModeOptions } from '../../controller/reconcile/kubernetes-mode';
import { FakeApiServer } from '../support/fake-apiserver';

type Obj = Record<string, any>;

const KINDS: Record<string, SchemaKind> = { httptriggers: 'HTTPTrigger', workloaddeployments: 'WorkloadDeployment' };

/** Refuses, as the API server would (CRD schemas, core types' required fields), a bad write from the controller. */
export function validateWrite(plural: string, object: Obj): string[] {
  const kind = KINDS[plural];
  if (kind) {
    const result = validateSchema(kind, object);
    return result.ok ? [] : result.errors;
  }
  const problems: string[] = [];
  const need = (path: string, ok: boolean) => ok || problems.push(`${path}: Required value`);
  if (plural === 'events') {
    need('involvedObject.uid', typeof object.involvedObject?.uid === 'string');
    need('reason', typeof object.reason === 'string' && object.reason !== '');
    need('message', typeof object.message === 'string');
    if (!['Normal', 'Warning'].includes(object.type)) problems.push(`type: Unsupported value: "${object.type}"`);
  } else if (plural === 'leases') {
    const spec = object.spec ?? {};
    // MicroTime: RFC 3339 with exactly six fractional digits.
    for (const field of ['acquireTime', 'renewTime']) {
      if (spec[field] !== undefined && !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/.test(spec[field])) problems.push(`spec.${field}: not a MicroTime: ${spec[field]}`);
    }
    if (spec.leaseDurationSeconds !== undefined && !(Number.isInteger(spec.leaseDurationSeconds) && spec.leaseDurationSeconds > 0)) problems.push('spec.leaseDurationSeconds: must be positive');
  }
  return problems;
}

export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** Calls the registered checks whenever something moved. */
export class Changes {
  private readonly waiters = new Set<() => void>();

  notify(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Resolves when `check` returns a value other than undefined/false; re-checked on every change, bounded by `timeoutMs`. */
  until<T>(what: string, check: () => T | undefined | false, timeoutMs = 8000): Promise<T> {
    return new Promise((resolve, reject) => {
      const attempt = () => {
        let value: T | undefined | false;
        try {
          value = check();
        } catch (err) {
          return finish(() => reject(err));
        }
        if (value instanceof Promise) return finish(() => reject(new Error(`until(${what}): the check must be synchronous`)));
        if (value !== undefined && value !== false) finish(() => resolve(value as T));
      };
      const finish = (settle: () => void) => {
        this.waiters.delete(attempt);
        clearTimeout(timer);
        settle();
      };
      const timer = setTimeout(() => finish(() => reject(new Error(`timed out waiting for ${what}`))), timeoutMs);
      this.waiters.add(attempt);
      attempt();
    });
  }
}

export class TestCluster {
  readonly changes = new Changes();
  readonly server = new FakeApiServer(validateWrite);
  private readonly controllers: KubernetesController[] = [];

  async start(): Promise<this> {
    this.server.onChange = () => this.changes.notify();
    await this.server.start();
    return this;
  }

  /** A controller replica against this cluster, with its own captured log. */
  async controller(identity: string, options: Partial<KubernetesModeOptions> = {}): Promise<{ replica: KubernetesController; logs: LogLine[] }> {
    const logs: LogLine[] = [];
    const sink = new Writable({
      write: (chunk: Buffer, _enc, done) => {
        for (const line of chunk.toString('utf8').split('\n')) if (line) logs.push(JSON.parse(line));
        this.changes.notify();
        done();
      },
    });
    const replica = new KubernetesController({
      kubeConfig: this.server.kubeConfig(),
      log: pino({ level: 'debug' }, sink),
      xdsAddress: '127.0.0.1:0',
      adminAddress: '127.0.0.1:0',
      identity,
      leaderElection: { namespace: 'cosmonic-system', name: 'wasm-control-controller', leaseDurationMs: 1000, renewDeadlineMs: 800, retryPeriodMs: 100 },
      backoff: { initialMs: 50, maxMs: 400 },
      holdOffMs: 10,
      ...options,
    });
    this.controllers.push(replica);
    await replica.start();
    return { replica, logs };
  }

  get(kind: string, name: string, namespace = 'default'): Obj | undefined {
    const apiVersion = kind === 'HTTPTrigger' ? 'control.cosmonic.io/v1alpha1' : kind === 'Lease' ? 'coordination.k8s.io/v1' : kind === 'Event' ? 'v1' : 'runtime.wasmcloud.dev/v1alpha1';
    return this.server.get(apiVersion, kind, namespace, name);
  }

  /** The trigger's condition of this type, once the controller has reported on the trigger's current generation. */
  condition(name: string, type: string, namespace = 'default'): Obj | undefined {
    const t = this.get('HTTPTrigger', name, namespace);
    if (!t || t.status?.observedGeneration !== t.metadata.generation) return undefined;
    return t.status.conditions?.find((c: Obj) => c.type === type);
  }

  events(reason?: string): Obj[] {
    return this.server.list('v1', 'Event').filter((e) => !reason || e.reason === reason);
  }

  async stop(): Promise<void> {
    for (const c of this.controllers.splice(0)) await c.close();
    await this.server.stop();
  }
}

/** Reads the controller's admin endpoint. */
export async function adminJson(replica: KubernetesController, path: string): Promise<any> {
  const res = await fetch(`http://127.0.0.1:${replica.controller.adminPort}${path}`);
  return res.json();
}

/** The requests (`METHOD path?query`, as the test API server logs them) that controller/rbac.yaml would not allow. */
export function requestsOutsideRbac(requests: readonly string[], leaseNamespace = 'cosmonic-system'): string[] {
  const docs = YAML.parseAllDocuments(fs.readFileSync(path.join(packageRoot(), 'controller/rbac.yaml'), 'utf8')).map((d) => d.toJS());
  const rules = (kind: string): { apiGroups: string[]; resources: string[]; verbs: string[] }[] => docs.find((d) => d.kind === kind).rules;
  return requests.filter((request) => {
    const [method, target] = request.split(' ');
    const url = new URL(target, 'http://x');
    const m = /^\/(?:api\/v1|apis\/([^/]+)\/[^/]+)(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?(?:\/(status))?$/.exec(url.pathname);
    if (!m) return true;
    const [, group = '', namespace, plural, name, sub] = m;
    const verb =
      method === 'GET' ? (url.searchParams.get('watch') === 'true' ? 'watch' : name ? 'get' : 'list') : ({ POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' } as Record<string, string>)[method];
    const resource = sub ? `${plural}/${sub}` : plural;
    const allows = (r: { apiGroups: string[]; resources: string[]; verbs: string[] }) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb);
    return !(rules('ClusterRole').some(allows) || (namespace === leaseNamespace && rules('Role').some(allows)));
  });
}
