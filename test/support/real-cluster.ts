/**
 * A real Kubernetes control plane for the tests: etcd, kube-apiserver and
 * kube-controller-manager (and, when asked, kube-scheduler with kwok's simulated
 * nodes) built from their Go modules by test/cluster/build.sh
 * (cached outside the clone), started here on free 127.0.0.1 ports with
 * envtest-like flags: RBAC, service-account token signing, an admin client
 * certificate, the OwnerReferencesPermissionEnforcement admission plugin, and an
 * audit log of every request made by a ServiceAccount (how the tests prove the
 * controller is never refused).
 *
 * Everything started is stopped by stop(), also when start() fails half-way,
 * and killed if the test process exits without calling it.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { SharedConnectionsKubeConfig } from '../../controller/sources/kube-config';
import { CRD_PATHS } from '../../controller/api/schema';
import { packageRoot } from '../../controller/package-root';
import { TestCa } from './pki';
import { RUNTIME_CRDS_PATH } from './runtime-crds';

const run = promisify(execFile);
const BUILD_SCRIPT = path.join(packageRoot(), 'test/cluster/build.sh');

/** What test/cluster/build.sh builds: the test control plane, or the Pulumi CLI and Kubernetes provider. */
export type BuildSet = 'cluster' | 'pulumi';
const builds = new Map<BuildSet, Promise<string>>();

/**
 * The directory holding a set's binaries, built once per version set by test/cluster/build.sh
 * (cold, ~10 min per set on 2 cores), then reused. A failed build fails the test that needed it.
 */
export function builtBinaries(set: BuildSet): Promise<string> {
  let dir = builds.get(set);
  if (!dir) {
    dir = run('bash', [BUILD_SCRIPT, set], { maxBuffer: 64 * 1024 * 1024 })
      .then(({ stdout }) => stdout.trim().split('\n').pop()!)
      .catch((err: Error & { stderr?: string }) => {
        builds.delete(set);
        throw new Error(`test/cluster/build.sh ${set} failed (it needs Go and the Go module proxy): ${err.stderr?.slice(-4000) ?? err.message}`);
      });
    builds.set(set, dir);
  }
  return dir;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

interface Started {
  name: string;
  child: ChildProcess;
  exited: Promise<void>;
  log: string;
}

/** The controller's ServiceAccount, ClusterRole and (with `-leader-election`) Role, as controller/rbac.yaml names them. */
export const CONTROLLER_ACCOUNT = 'wasm-control-controller';

/** Our CRDs and the runtime's, as files: what a cluster the controller runs on has installed. */
export const ALL_CRDS = [...CRD_PATHS, RUNTIME_CRDS_PATH].map((file) => path.join(packageRoot(), file));

/** The audited requests that are writes, Lease renewals aside (they are not work). */
export function workWrites(events: readonly AuditEvent[]): AuditEvent[] {
  return events.filter((e) => ['create', 'update', 'patch', 'delete'].includes(e.verb) && e.objectRef?.resource !== 'leases');
}

/** The user name a ServiceAccount's requests carry (in the audit log). */
export function serviceAccountUser(namespace: string, name: string): string {
  return `system:serviceaccount:${namespace}:${name}`;
}

/** Nodes kwok manages carry this annotation. */
const KWOK_ANNOTATION = 'kwok.x-k8s.io/node';

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export interface AuditEvent {
  verb: string;
  requestURI: string;
  user: { username: string };
  objectRef?: { resource?: string; subresource?: string; namespace?: string; name?: string; apiGroup?: string };
  responseStatus?: { code: number; message?: string; reason?: string };
}

export interface KubectlOptions {
  /** Standard input. */
  input?: string;
  /** Extra environment, e.g. KUBE_EDITOR for `kubectl edit`. */
  env?: Record<string, string>;
}

export interface RealClusterOptions {
  /** Manifests (CRDs) applied before kube-controller-manager starts, so its garbage collector watches their kinds from the start. */
  crds?: string[];
  /** Start kube-controller-manager (garbage collector, namespaces, service accounts, Deployments). Default true. */
  controllerManager?: boolean;
  /**
   * Simulated nodes: kube-scheduler places pods on this many kwok nodes, and kwok
   * marks them Running and Ready without containers, so Deployments become
   * Available as on a real cluster. Default 0 (no scheduler, no kwok).
   */
  nodes?: number;
}

export class RealCluster {
  private readonly processes: Started[] = [];
  readonly server: string;
  readonly adminKubeconfig: string;
  private readonly auditLog: string;

  private constructor(
    readonly dir: string,
    readonly bin: string,
    port: number,
  ) {
    this.server = `https://127.0.0.1:${port}`;
    this.adminKubeconfig = path.join(dir, 'admin.kubeconfig');
    this.auditLog = path.join(dir, 'audit.log');
  }

  static async start(options: RealClusterOptions = {}): Promise<RealCluster> {
    const bin = await builtBinaries('cluster');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasm-control-cluster-'));
    const cluster = new RealCluster(dir, bin, await freePort());
    try {
      await cluster.boot(options);
    } catch (err) {
      await cluster.stop({ keepDir: true });
      // Newest first: the process that failed is usually the last one started.
      const logs = cluster.processes.slice().reverse().map((p) => `--- ${p.name} (${p.log}):\n${tail(p.log)}`).join('\n');
      throw new Error(`the test control plane did not start (files kept in ${dir}): ${(err as Error).message}\n${logs}`);
    }
    return cluster;
  }

  private async boot(options: RealClusterOptions): Promise<void> {
    const { dir } = this;
    const pki = path.join(dir, 'pki');
    fs.mkdirSync(pki);
    const file = (name: string) => path.join(pki, name);
    const ca = await TestCa.create(pki);
    await Promise.all([
      ca.issue('apiserver', '/CN=kube-apiserver', 'subjectAltName=IP:127.0.0.1,DNS:localhost', 'extendedKeyUsage=serverAuth', 'basicConstraints=CA:FALSE'),
      // system:masters: the admin used to set up the cluster and fixtures; never the controller's credentials.
      ca.issue('admin', '/O=system:masters/CN=wasm-control-test-admin', 'extendedKeyUsage=clientAuth', 'basicConstraints=CA:FALSE'),
      run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file('service-accounts.key')]),
    ]);
    await run('openssl', ['pkey', '-in', file('service-accounts.key'), '-pubout', '-out', file('service-accounts.pub')]);
    const kubeconfig = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'test', cluster: { server: this.server, 'certificate-authority': file('ca.crt') } }],
      users: [{ name: 'admin', user: { 'client-certificate': file('admin.crt'), 'client-key': file('admin.key') } }],
      contexts: [{ name: 'admin', context: { cluster: 'test', user: 'admin', namespace: 'default' } }],
      'current-context': 'admin',
    };
    fs.writeFileSync(this.adminKubeconfig, JSON.stringify(kubeconfig));
    fs.writeFileSync(
      path.join(dir, 'audit-policy.json'),
      JSON.stringify({ apiVersion: 'audit.k8s.io/v1', kind: 'Policy', omitStages: ['RequestReceived'], rules: [{ level: 'Metadata', userGroups: ['system:serviceaccounts'] }, { level: 'None' }] }),
    );

    const [etcdClient, etcdPeer] = [await freePort(), await freePort()];
    const etcd = this.spawn('etcd', [
      '--name=test',
      `--data-dir=${path.join(dir, 'etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=test=http://127.0.0.1:${etcdPeer}`,
      '--unsafe-no-fsync',
      '--log-level=warn',
    ]);
    await this.waitFor('etcd', etcd, async () => (await fetch(`http://127.0.0.1:${etcdClient}/health`)).ok);

    const apiserver = this.spawn('kube-apiserver', [
      `--etcd-servers=http://127.0.0.1:${etcdClient}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${new URL(this.server).port}`,
      `--cert-dir=${path.join(dir, 'apiserver-certs')}`,
      `--tls-cert-file=${file('apiserver.crt')}`,
      `--tls-private-key-file=${file('apiserver.key')}`,
      `--client-ca-file=${file('ca.crt')}`,
      '--authorization-mode=RBAC',
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${file('service-accounts.pub')}`,
      `--service-account-signing-key-file=${file('service-accounts.key')}`,
      '--service-cluster-ip-range=10.0.0.0/24',
      // The loopback advertise address cannot be an Endpoints address.
      '--endpoint-reconciler-type=none',
      '--enable-admission-plugins=OwnerReferencesPermissionEnforcement',
      `--audit-policy-file=${path.join(dir, 'audit-policy.json')}`,
      `--audit-log-path=${this.auditLog}`,
      '--audit-log-format=json',
      '--audit-log-mode=blocking',
      '--profiling=false',
    ]);
    await this.waitFor('kube-apiserver', apiserver, async () => (await this.kubectl(['get', '--raw', '/readyz'])).code === 0, 120_000);

    if (options.crds?.length) {
      await this.apply(options.crds);
      await this.kubectlOk(['wait', '--for=condition=Established', '--timeout=60s', 'crd', '--all']);
    }

    if (options.controllerManager ?? true) {
      const kcm = this.spawn('kube-controller-manager', [
        `--kubeconfig=${this.adminKubeconfig}`,
        '--leader-elect=false',
        '--secure-port=0',
        `--root-ca-file=${file('ca.crt')}`,
        `--service-account-private-key-file=${file('service-accounts.key')}`,
        '--profiling=false',
      ]);
      // The service-account controller making `default` in `default` shows the controllers are running.
      await this.waitFor('kube-controller-manager', kcm, async () => (await this.kubectl(['get', 'serviceaccount', 'default', '-n', 'default'])).code === 0, 120_000);
    }

    if (options.nodes) {
      this.spawn('kube-scheduler', [`--kubeconfig=${this.adminKubeconfig}`, '--leader-elect=false', '--secure-port=0']);
      const stages = path.join(this.bin, 'kwok-stages');
      const kwok = this.spawn('kwok', [
        `--kubeconfig=${this.adminKubeconfig}`,
        // kwok's own "fast" stages: nodes Ready with a heartbeat Lease, pods Running and Ready at once.
        ...fs.readdirSync(stages).map((f) => `--config=${path.join(stages, f)}`),
        `--manage-nodes-with-annotation-selector=${KWOK_ANNOTATION}=fake`,
        '--cidr=10.244.0.0/16',
        '--node-ip=127.0.0.1',
        `--server-address=127.0.0.1:${await freePort()}`,
      ]);
      const nodes = Array.from({ length: options.nodes }, (_, i) => ({
        apiVersion: 'v1',
        kind: 'Node',
        metadata: {
          name: `kwok-node-${i}`,
          annotations: { [KWOK_ANNOTATION]: 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
          labels: { 'kubernetes.io/hostname': `kwok-node-${i}`, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', type: 'kwok' },
        },
        status: { allocatable: { cpu: '32', memory: '256Gi', pods: '110' }, capacity: { cpu: '32', memory: '256Gi', pods: '110' } },
      }));
      await this.kubectlOk(['create', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: nodes }) });
      await this.waitFor('kwok', kwok, async () => (await this.kubectl(['wait', '--for=condition=Ready', '--timeout=5s', 'node', '--all'])).code === 0, 60_000);
    }
  }

  private spawn(name: string, args: string[]): Started {
    const log = path.join(this.dir, `${name}.log`);
    const out = fs.openSync(log, 'a');
    const child = spawn(path.join(this.bin, name), args, { stdio: ['ignore', out, out] });
    fs.closeSync(out);
    running.add(child);
    const exited = new Promise<void>((resolve) =>
      child.once('exit', () => {
        running.delete(child);
        resolve();
      }),
    );
    child.once('error', () => undefined); // reported through exited/waitFor
    const started = { name, child, exited, log };
    this.processes.push(started);
    return started;
  }

  /** Polls `ready` until it is true; fails at once if the process exits first. */
  private async waitFor(what: string, started: Started, ready: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    void started.exited.then(() => (exited = true));
    for (;;) {
      if (exited) throw new Error(`${what} exited with ${started.child.exitCode ?? started.child.signalCode}`);
      if (await ready().catch(() => false)) return;
      if (Date.now() > deadline) throw new Error(`${what} was not ready within ${timeoutMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** The process id of each running part of the control plane, by name (etcd, kube-apiserver, ...). */
  processIds(): Record<string, number> {
    return Object.fromEntries(this.processes.filter((p) => p.child.exitCode === null && p.child.pid).map((p) => [p.name, p.child.pid!]));
  }

  /** Runs the kubectl of the same release, as the admin. */
  async kubectl(args: string[], options: KubectlOptions = {}): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(path.join(this.bin, 'kubectl'), [`--kubeconfig=${this.adminKubeconfig}`, ...args], {
        stdio: ['pipe', 'pipe', 'pipe'],
        env: { ...process.env, ...options.env },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.once('error', reject);
      child.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
      child.stdin.end(options.input ?? '');
    });
  }

  /** kubectl that must succeed; its stdout. */
  async kubectlOk(args: string[], options: KubectlOptions = {}): Promise<string> {
    const result = await this.kubectl(args, options);
    if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${result.code}): ${result.stderr}`);
    return result.stdout;
  }

  /** `kubectl apply --server-side` of files or folders, as the admin. */
  async apply(files: string[]): Promise<string> {
    return this.kubectlOk(['apply', '--server-side', '--field-manager=wasm-control-tests', ...files.flatMap((f) => ['-f', f])]);
  }

  /** A client for the admin (its requests share connections, as the controller's do). */
  adminConfig(): KubeConfig {
    const kc = new SharedConnectionsKubeConfig();
    kc.loadFromFile(this.adminKubeconfig);
    return kc;
  }

  /**
   * A kubeconfig holding a ServiceAccount's credentials, as a pod gets them: a
   * bound token from the TokenRequest API, and the cluster CA. The account must
   * exist. Returns the file's path.
   */
  async serviceAccountKubeconfig(namespace: string, name: string): Promise<string> {
    const core = this.adminConfig().makeApiClient(CoreV1Api);
    const request = await core.createNamespacedServiceAccountToken({ name, namespace, body: { spec: { audiences: [], expirationSeconds: 3600 } } });
    const kubeconfig = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'test', cluster: { server: this.server, 'certificate-authority': path.join(this.dir, 'pki/ca.crt') } }],
      users: [{ name, user: { token: request.status!.token } }],
      contexts: [{ name, context: { cluster: 'test', user: name, namespace } }],
      'current-context': name,
    };
    const file = path.join(this.dir, `${namespace}-${name}.kubeconfig`);
    fs.writeFileSync(file, JSON.stringify(kubeconfig));
    return file;
  }

  /**
   * The controller's ServiceAccount in `namespace` (created with it), bound to exactly
   * controller/rbac.yaml as the ControlPlane binds it; returns a kubeconfig holding its token.
   */
  async controllerAccount(namespace: string): Promise<string> {
    const account = CONTROLLER_ACCOUNT;
    await this.kubectlOk(['create', 'namespace', namespace]);
    await this.kubectlOk(['create', 'serviceaccount', account, '-n', namespace]);
    await this.kubectlOk(['apply', '--server-side', '-n', namespace, '-f', path.join(packageRoot(), 'controller/rbac.yaml')]);
    await this.kubectlOk(['create', 'clusterrolebinding', account, `--clusterrole=${account}`, `--serviceaccount=${namespace}:${account}`]);
    await this.kubectlOk(['create', 'rolebinding', `${account}-leader-election`, '-n', namespace, `--role=${account}-leader-election`, `--serviceaccount=${namespace}:${account}`]);
    return this.serviceAccountKubeconfig(namespace, account);
  }

  /** What the API server recorded of the requests made by ServiceAccounts (written before each response). */
  auditEvents(username?: string): AuditEvent[] {
    return this.auditEventsFrom(0, username).events;
  }

  /** The audit events recorded after byte `from` of the log, and the byte to read on from next time. */
  auditEventsFrom(from: number, username?: string): { events: AuditEvent[]; end: number } {
    if (!fs.existsSync(this.auditLog)) return { events: [], end: from };
    const fd = fs.openSync(this.auditLog, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const bytes = Buffer.alloc(Math.max(0, size - from));
      fs.readSync(fd, bytes, 0, bytes.length, from);
      // Only whole lines: the API server may be writing the next one.
      const complete = bytes.lastIndexOf(10) + 1;
      const events = bytes
        .subarray(0, complete)
        .toString('utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as AuditEvent)
        .filter((e) => !username || e.user.username === username);
      return { events, end: from + complete };
    } finally {
      fs.closeSync(fd);
    }
  }

  /** Stops the processes (newest first) and removes the files. */
  async stop(options: { keepDir?: boolean } = {}): Promise<void> {
    for (const started of this.processes.slice().reverse()) {
      if (started.child.exitCode === null && started.child.signalCode === null) {
        started.child.kill('SIGTERM');
        const timer = setTimeout(() => started.child.kill('SIGKILL'), 10_000);
        await started.exited;
        clearTimeout(timer);
      }
    }
    if (!options.keepDir) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

function tail(file: string, bytes = 3000): string {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text.slice(-bytes);
  } catch {
    return '(no log)';
  }
}
