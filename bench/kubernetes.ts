/**
 * Kubernetes-mode benchmark: the controller process, as its ServiceAccount with exactly
 * controller/rbac.yaml, against the real test control plane (etcd and kube-apiserver built by
 * test/cluster/build.sh) holding N HTTPTriggers, each with one Ready Workload on one of 3 Hosts.
 *
 * Measured from the process's start: serving xDS, and every WorkloadDeployment and trigger status
 * written (as the API server's audit log records them, so the bench adds no watch of its own to
 * the server's load); the writes audited for the controller's account; the controller's CPU time and RSS. Then a restart
 * with nothing changed (its writes), and one trigger edited (host and image): the time until an
 * xDS client holds the new host's routes, and the writes it caused.
 *
 * Run via `npm run bench`, or alone: `node dist/bench/kubernetes.js [count...]`.
 */
import * as fs from 'node:fs';
import { CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import { TRIGGER_LABEL } from '../controller/api/types';
import { controllerMemory } from '../controller/memory-sizing';
import { podEnvironment, spawnController, type ControllerProcess } from '../test/support/controller-process';
import { ALL_CRDS, CONTROLLER_ACCOUNT, RealCluster, serviceAccountUser, workWrites, type AuditEvent } from '../test/support/real-cluster';
import { servedAfter } from '../test/support/route-watch';
import { syntheticTrigger } from './fixtures';
import { mib, runBench } from './stats';

const NAMESPACE = 'cosmonic-system';
const USERNAME = serviceAccountUser(NAMESPACE, CONTROLLER_ACCOUNT);
const TEAMS = 10;
const HOSTS = 3;
const RUNTIME = { group: 'runtime.wasmcloud.dev', version: 'v1alpha1' };
const CONTROL = { group: 'control.cosmonic.io', version: 'v1alpha1' };
/** Requests in flight while seeding. */
const SEED_CONCURRENCY = 32;
/** No write audited for this long: the controller has done what it will do. */
const QUIET_MS = 3000;
const LEADING = 'leader election: leading; this replica writes';
const READY = () => [{ type: 'Ready', status: 'True', reason: 'Available', message: '', lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') }];

type Obj = Record<string, any>;

/** Runs `task` for 0..count-1 with `concurrency` in flight. */
async function pool(count: number, concurrency: number, task: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(count, concurrency) }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

async function seed(kc: KubeConfig, cluster: RealCluster, count: number): Promise<void> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  await cluster.kubectlOk(['create', 'namespace', 'wasmcloud']);
  for (let t = 0; t < TEAMS; t++) await cluster.kubectlOk(['create', 'namespace', `team-${t}`]);
  for (let h = 0; h < HOSTS; h++) {
    const name = `host-${h}`;
    await custom.createNamespacedCustomObject({ ...RUNTIME, namespace: 'wasmcloud', plural: 'hosts', body: { apiVersion: 'runtime.wasmcloud.dev/v1alpha1', kind: 'Host', metadata: { name, namespace: 'wasmcloud' }, hostId: name, hostname: `10.0.0.${h + 10}`, httpPort: 9191 } });
    await custom.patchNamespacedCustomObjectStatus({ ...RUNTIME, namespace: 'wasmcloud', plural: 'hosts', name, body: { status: { conditions: READY() } } }, merge);
  }
  await pool(count, SEED_CONCURRENCY, async (i) => {
    // The API server sets creationTimestamp itself.
    const trigger = syntheticTrigger(i, 0, TEAMS) as Obj;
    const namespace = trigger.metadata.namespace as string;
    const name = `app-${i}-0`;
    await custom.createNamespacedCustomObject({ ...CONTROL, namespace, plural: 'httptriggers', body: trigger });
    await custom.createNamespacedCustomObject({
      ...RUNTIME,
      namespace,
      plural: 'workloads',
      body: { apiVersion: 'runtime.wasmcloud.dev/v1alpha1', kind: 'Workload', metadata: { name, namespace, labels: { [TRIGGER_LABEL]: trigger.metadata.name } }, spec: trigger.spec.template.spec },
    });
    await custom.patchNamespacedCustomObjectStatus({ ...RUNTIME, namespace, plural: 'workloads', name, body: { status: { hostId: `host-${i % HOSTS}`, conditions: READY() } } }, merge);
  });
}

/** The controller's writes as the API server audited them (Leases left out: renewals are not work). */
class AuditedWrites {
  private offset = 0;
  private last = 0;
  readonly writes: AuditEvent[] = [];

  constructor(private readonly cluster: RealCluster) {}

  poll(): void {
    const { events, end } = this.cluster.auditEventsFrom(this.offset, USERNAME);
    this.offset = end;
    const writes = workWrites(events);
    if (writes.length > 0) this.last = Date.now();
    this.writes.push(...writes);
  }

  /** Resolves once every trigger has had its WorkloadDeployment applied and its status written (as audited, successfully). */
  async everyTriggerWritten(count: number): Promise<void> {
    const deployments = new Set<string>();
    const statuses = new Set<string>();
    let seen = 0;
    for (;;) {
      this.poll();
      for (; seen < this.writes.length; seen++) {
        const { objectRef, responseStatus } = this.writes[seen];
        if (!objectRef?.name || (responseStatus?.code ?? 500) >= 300) continue;
        const key = `${objectRef.namespace}/${objectRef.name}`;
        if (objectRef.resource === 'workloaddeployments') deployments.add(key);
        else if (objectRef.resource === 'httptriggers' && objectRef.subresource === 'status') statuses.add(key);
      }
      if (deployments.size >= count && statuses.size >= count) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Resolves once no write has been audited for QUIET_MS from now. */
  async quiet(): Promise<void> {
    this.last = Date.now();
    for (;;) {
      this.poll();
      if (Date.now() - this.last >= QUIET_MS) return;
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  mark(): number {
    this.poll();
    return this.writes.length;
  }

  /** The writes since `mark`, by resource (and subresource). */
  since(mark: number): string {
    const counts = new Map<string, number>();
    for (const e of this.writes.slice(mark)) {
      const what = `${e.objectRef?.resource}${e.objectRef?.subresource ? `/${e.objectRef.subresource}` : ''}`;
      counts.set(what, (counts.get(what) ?? 0) + 1);
    }
    const total = this.writes.length - mark;
    return `${total}${total ? ` (${[...counts].map(([w, n]) => `${w} ${n}`).join(', ')})` : ''}`;
  }
}

function processFigures(pid: number): { rss: number; peak: number; cpuMs: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) * 1024;
  // utime and stime, in clock ticks (100 per second on Linux).
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return { rss: kib('VmRSS'), peak: kib('VmHWM'), cpuMs: (Number(stat[11]) + Number(stat[12])) * 10 };
}

async function stop(controller: ControllerProcess): Promise<void> {
  controller.child.kill('SIGTERM');
  await controller.exited;
}

/** Edits one trigger's host and image; resolves with the ms until an xDS client holds the new host's routes. */
function editOne(kc: KubeConfig, controller: ControllerProcess, i: number): Promise<number> {
  const host = `edited-${i}.example.com`;
  const custom = kc.makeApiClient(CustomObjectsApi);
  return servedAfter(controller.xds, host, () =>
    custom.patchNamespacedCustomObject(
      {
        ...CONTROL,
        namespace: `team-${i % TEAMS}`,
        plural: 'httptriggers',
        name: `app-${i}`,
        body: { spec: { ingress: { host }, template: { spec: { components: [{ name: 'http', image: `registry.example.com/app-${i}:1.0.1` }] } } } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    ),
  );
}

async function benchCount(count: number): Promise<void> {
  const cluster = await RealCluster.start({ crds: ALL_CRDS, controllerManager: false });
  let controller: ControllerProcess | undefined;
  try {
    const kc = cluster.adminConfig();
    const kubeconfig = await cluster.controllerAccount(NAMESPACE);
    const seedStart = performance.now();
    await seed(kc, cluster, count);
    const seeded = performance.now() - seedStart;
    const audited = new AuditedWrites(cluster);
    // Node's options as the ControlPlane sets them for this many triggers; CONTROLLER_NODE_OPTIONS tries others.
    const env = { ...podEnvironment(kubeconfig, 'bench', NAMESPACE), NODE_OPTIONS: process.env.CONTROLLER_NODE_OPTIONS ?? controllerMemory(count).nodeOptions };

    const serverCpu = () => Object.values(cluster.processIds()).reduce((sum, pid) => sum + processFigures(pid).cpuMs, 0);
    const serverCpuBefore = serverCpu();
    const start = performance.now();
    controller = await spawnController([], env);
    const serving = performance.now() - start;
    await audited.everyTriggerWritten(count);
    const written = performance.now() - start;
    const atWritten = processFigures(controller.child.pid!);
    await audited.quiet();
    const first = audited.since(0);
    const serverCpuFirst = serverCpu() - serverCpuBefore;
    const settled = processFigures(controller.child.pid!);
    await stop(controller);

    const mark = audited.mark();
    const restartStart = performance.now();
    controller = await spawnController([], env);
    const restartServing = performance.now() - restartStart;
    // Writes wait for the Lease (released by the process that stopped).
    await controller.logs.first((l) => l.msg === LEADING);
    await audited.quiet();
    const restartWrites = audited.since(mark);
    const afterRestart = processFigures(controller.child.pid!);

    const editMark = audited.mark();
    const edit = await editOne(kc, controller, Math.floor(count / 2));
    await audited.quiet();
    const editWrites = audited.since(editMark);

    console.log(
      `  ${String(count).padStart(6)} triggers (seeded in ${(seeded / 1000).toFixed(1)} s): serving xDS after ${(serving / 1000).toFixed(1)} s` +
        ` | every WorkloadDeployment and status written after ${(written / 1000).toFixed(1)} s` +
        ` | writes ${first}` +
        ` | CPU: controller ${(settled.cpuMs / 1000).toFixed(1)} s, API server and etcd ${(serverCpuFirst / 1000).toFixed(1)} s | controller RSS ${mib(atWritten.rss)} when written, ${mib(settled.rss)} settled, peak ${mib(settled.peak)}`,
    );
    console.log(
      `  ${''.padStart(6)}   restart with nothing changed: serving after ${(restartServing / 1000).toFixed(1)} s, writes ${restartWrites}, RSS ${mib(afterRestart.rss)}` +
        ` | one trigger edited: its route served after ${edit.toFixed(0)} ms, writes ${editWrites}`,
    );
  } finally {
    if (controller && controller.child.exitCode === null) controller.child.kill('SIGKILL');
    await cluster.stop();
  }
}

export async function benchKubernetes(counts: number[]): Promise<void> {
  console.log(`Kubernetes mode (real kube-apiserver and etcd on this machine; each trigger one Ready Workload on one of ${HOSTS} Hosts; controller as its ServiceAccount, with the ControlPlane's Node options for the count):`);
  for (const count of counts) await benchCount(count);
}

if (require.main === module) {
  const counts = process.argv.slice(2).map(Number);
  runBench('wasm-control Kubernetes-mode bench', () => benchKubernetes(counts.length ? counts : [1000, 10000]));
}
