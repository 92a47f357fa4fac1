/** The controller process in file mode, through its real entry point: admin endpoints, watching, last good state, SIGTERM. */
import * as assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { TypeUrl } from '../controller/envoy/protos';
import { AdsClient } from './support/ads-client';
import { triggerYaml } from './support/fixtures';
import { CONTROLLER_MAIN, spawnController, type ControllerProcess } from './support/controller-process';
import type { ProcessLogs } from './support/process-logs';


describe('controller process (file mode)', function () {
  this.timeout(20000);
  let dir: string;
  let controller: ControllerProcess;
  let child: ChildProcessWithoutNullStreams;
  let logs: ProcessLogs;
  let admin: string;
  let xdsPort: number;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasm-control-'));
    fs.writeFileSync(path.join(dir, 'a.yaml'), triggerYaml('a', 'a.example.com'));
    // No periodic re-scan: every update below comes from a watch or a signal.
    controller = await spawnController(['--manifests', dir, '--rescan-interval', '0']);
    ({ child, logs } = controller);
    admin = `http://${controller.admin}`;
    xdsPort = controller.xdsPort;
  });

  after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('answers /healthz and /readyz, and /debug/config_dump holds the translated routes', async () => {
    assert.equal((await fetch(`${admin}/healthz`)).status, 200);
    assert.equal((await fetch(`${admin}/readyz`)).status, 200);
    const dump = (await (await fetch(`${admin}/debug/config_dump`)).json()) as { resources: { virtual_hosts?: { name: string }[] }[] };
    const routes = dump.resources.find((r) => r.virtual_hosts)!;
    assert.deepEqual(routes.virtual_hosts!.map((v) => v.name), ['ingress_http/a.example.com']);
    assert.match(await (await fetch(`${admin}/metrics`)).text(), /wasm_control_triggers\{state="admitted"\} 1/);
  });

  it('keeps the last good state of a file that stops parsing, and picks up the next good edit', async () => {
    const skipped = logs.next((l) => l.msg === 'manifest file skipped; its last good content is kept');
    fs.writeFileSync(path.join(dir, 'a.yaml'), 'spec: [unclosed');
    assert.match(String((await skipped).file), /a\.yaml$/);
    const routes = (await (await fetch(`${admin}/debug/routes`)).json()) as { host: string }[];
    assert.deepEqual(routes.map((r) => r.host), ['a.example.com']);

    const updated = logs.next((l) => l.msg === 'routing updated' && l.triggers === 2);
    fs.writeFileSync(path.join(dir, 'a.yaml'), `${triggerYaml('a', 'a.example.com')}---\n${triggerYaml('b', 'b.example.com')}`);
    await updated;
    const after = (await (await fetch(`${admin}/debug/routes`)).json()) as { host: string }[];
    assert.deepEqual(after.map((r) => r.host), ['a.example.com', 'b.example.com']);
  });

  it('starts with a file that fails while its aliases are resolved: names the file, serves the rest', async () => {
    const bomb = path.join(dir, 'bomb.yaml');
    fs.writeFileSync(bomb, 'a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n');
    const other = await spawnController(['--manifests', dir]);
    try {
      const skipped = await other.logs.first((l) => l.msg === 'manifest file skipped; its last good content is kept');
      assert.equal(skipped.file, bomb);
      assert.match(String(skipped.reason), /Excessive alias count/);
      const routes = (await (await fetch(`http://${other.admin}/debug/routes`)).json()) as { host: string }[];
      assert.ok(routes.length > 0, 'the other files are served');
    } finally {
      other.child.kill('SIGKILL');
      fs.rmSync(bomb);
    }
  });

  it('counts open streams by mode and subscribed type, and times resolves and pushes, in /metrics', async () => {
    const client = new AdsClient(xdsPort);
    const stream = client.sotw();
    try {
      stream.send({ type_url: TypeUrl.Cluster, node: { id: 'metrics-test' } });
      assert.equal((await stream.next()).type_url, TypeUrl.Cluster);
      const metrics = await (await fetch(`${admin}/metrics`)).text();
      assert.match(metrics, /wasm_control_xds_streams\{mode="sotw",type="any"\} 1/);
      assert.match(metrics, /wasm_control_xds_streams\{mode="sotw",type="Cluster"\} 1/);
      assert.match(metrics, /wasm_control_resolve_seconds_count [1-9]/);
      assert.match(metrics, /wasm_control_push_seconds_count [1-9]/);
      assert.match(metrics, /wasm_control_xds_pushes_total\{type="Cluster"\} [1-9]/);
    } finally {
      await stream.close();
      client.close();
    }
  });

  it('re-reads the manifests on SIGHUP and keeps serving', async () => {
    const reread = logs.next((l) => l.msg === 'SIGHUP: re-reading the manifests');
    const updated = logs.next((l) => l.msg === 'routing updated');
    child.kill('SIGHUP');
    await reread;
    await updated;
    assert.equal(child.exitCode, null);
    assert.equal((await fetch(`${admin}/healthz`)).status, 200);
  });

  const badFlags: [string[], string][] = [
    [['--source', 'kubernetes', '--reconcile-workers', '0'], '--reconcile-workers 0: give at least 1'],
    [['--source', 'kubernetes', '--kube-api-qps', '1.5'], '--kube-api-qps 1.5: give a whole number, e.g. 16'],
    [['--source', 'kubernetes', '--kube-api-burst', 'x'], '--kube-api-burst x: give a whole number, e.g. 16'],
    [['--source', 'files', '--rescan-interval', 'x'], '--rescan-interval x: give seconds, e.g. 10'],
    [['--source', 'nowhere'], '--source nowhere: use files or kubernetes'],
    [['--source', 'files', '--unlisted-hosts', 'maybe'], '--unlisted-hosts maybe: use allow or deny'],
    [['--source', 'files', '--xds-tls-cert', '/tls.crt'], '--xds-tls-key and --xds-tls-client-ca missing: mTLS for xDS needs the certificate, its key and the client CA'],
    [
      ['--source', 'files', '--xds-address', '0.0.0.0:0'],
      '--xds-address 0.0.0.0:0 is reachable from other machines, and xDS without TLS would give every route and endpoint to whoever connects: give --xds-tls-cert, --xds-tls-key, --xds-tls-client-ca (the ControlPlane mounts them), or listen on 127.0.0.1',
    ],
  ];
  for (const [args, message] of badFlags) {
    it(`exits 1 before listening on ${args.slice(2).join(' ') || args.join(' ')}, with one line: ${message}`, () => {
      const run = spawnSync(process.execPath, [CONTROLLER_MAIN, ...args], { encoding: 'utf8', env: { ...process.env, KUBECONFIG: '/dev/null' } });
      assert.equal(run.status, 1);
      assert.equal(run.stderr, `wasm-control: ${message}\n`);
    });
  }

  it('exits 1 with one line naming the address and the flag when the admin port is in use', async () => {
    const port = new URL(admin).port;
    const other = spawn(process.execPath, [CONTROLLER_MAIN, '--manifests', dir, '--xds-address', '127.0.0.1:0', '--admin-address', `127.0.0.1:${port}`]);
    let stderr = '';
    other.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise((resolve) => other.once('exit', resolve));
    assert.equal(code, 1);
    assert.equal(stderr, `wasm-control: cannot listen on 127.0.0.1:${port} (EADDRINUSE): another process uses it; give another address with --admin-address\n`);
  });

  it('exits within --shutdown-timeout on SIGTERM though a client never reads the config dump it asked for', async () => {
    const big = fs.mkdtempSync(path.join(os.tmpdir(), 'wasm-control-big-'));
    fs.writeFileSync(path.join(big, 'many.yaml'), Array.from({ length: 5_000 }, (_, i) => triggerYaml(`t${i}`, `t${i}.example.com`)).join('---\n'));
    const slow = await spawnController(['--manifests', big, '--shutdown-timeout', '1']);
    try {
      // ~12 MB the client never reads: without a deadline the admin server would wait for it.
      const reader = await new Promise<http.IncomingMessage>((resolve, reject) => http.get(`http://${slow.admin}/debug/config_dump`, resolve).on('error', reject));
      reader.pause();
      const deadline = slow.logs.next((l) => l.msg === 'shutdown deadline passed; exiting');
      slow.child.kill('SIGTERM');
      assert.equal((await deadline).shutdownTimeoutSeconds, 1);
      assert.equal(await slow.exited, 1);
      reader.destroy();
    } finally {
      if (slow.child.exitCode === null) slow.child.kill('SIGKILL');
      fs.rmSync(big, { recursive: true, force: true });
    }
  });

  it('exits 0 on SIGTERM', async () => {
    child.kill('SIGTERM');
    assert.equal(await controller.exited, 0);
  });
});
