/**
 * The controller process through its real entry point in Kubernetes mode, with a
 * kubeconfig (KUBECONFIG) pointing at the test API server: inside a cluster
 * (KUBERNETES_SERVICE_HOST set) the source defaults to kubernetes; SIGTERM
 * releases the Lease.
 */
import * as assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { trigger } from '../support/fixtures';
import { TestCluster, type LogLine } from './harness';

const MAIN = path.join(__dirname, '../../controller/main.js');

describe('controller process (kubernetes mode)', () => {
  let cluster: TestCluster;
  let dir: string;
  let child: ChildProcessWithoutNullStreams | undefined;

  beforeEach(async () => {
    cluster = await new TestCluster().start();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasm-control-kube-'));
  });

  afterEach(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await cluster.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('defaults to --source kubernetes in a cluster, serves what the API holds, writes as leader, releases the Lease on SIGTERM', async () => {
    cluster.server.put(trigger('web', { host: 'web.example.com' }));
    const kubeconfig = path.join(dir, 'config');
    fs.writeFileSync(kubeconfig, cluster.server.kubeConfigYaml());
    const env: NodeJS.ProcessEnv = { ...process.env, KUBECONFIG: kubeconfig, KUBERNETES_SERVICE_HOST: '10.96.0.1', POD_NAME: 'proc-1', POD_NAMESPACE: 'cosmonic-system', NATS_URL: '' };
    delete env.SOURCE;
    child = spawn(process.execPath, [MAIN, '--xds-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0'], { env });
    const logs: LogLine[] = [];
    let buffered = '';
    child.stdout.on('data', (chunk: Buffer) => {
      const lines = (buffered + chunk.toString()).split('\n');
      buffered = lines.pop()!;
      for (const line of lines) logs.push(JSON.parse(line));
      cluster.changes.notify();
    });
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));

    const listening = await cluster.changes.until('listening', () => logs.find((l) => l.msg === 'wasm-control listening'));
    assert.equal(listening.source, 'kubernetes');
    assert.ok(logs.some((l) => /placement check is off/.test(l.msg)), 'no NATS URL: says the check is off');
    const routes = (await (await fetch(`http://${listening.admin as string}/debug/routes`)).json()) as { trigger: string }[];
    assert.deepEqual(routes.map((r) => r.trigger), ['default/web']);
    await cluster.changes.until('the deployment', () => cluster.get('WorkloadDeployment', 'web'));
    await cluster.changes.until('status', () => cluster.condition('web', 'Programmed')?.status === 'True');
    assert.equal(cluster.get('Lease', 'wasm-control-controller', 'cosmonic-system')!.spec.holderIdentity, 'proc-1');

    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.equal(cluster.get('Lease', 'wasm-control-controller', 'cosmonic-system')!.spec.holderIdentity, undefined);
  });
});
