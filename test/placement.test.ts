/**
 * Interface-aware placement: the pure check (heartbeat parsing, selectors,
 * built-in WASI interfaces, TTL), then end to end with a real nats-server and
 * the test API server: heartbeats published on `runtime.operator.heartbeat.<id>`
 * turn into Placeable on triggers and Events on plain WorkloadDeployments.
 */
import * as assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import { connect, type NatsConnection } from 'nats';
import { checkPlacement, HEARTBEAT_TTL_MS, parseHeartbeat } from '../controller/placement/hosts';
import { host, trigger } from './support/fixtures';
import { TestCluster } from './kubernetes/harness';

const gpuHeartbeat = {
  id: 'NGPU',
  friendlyName: 'gpu-host-1',
  labels: { hostgroup: 'gpu' },
  imports: [{ namespace: 'wasi', package: 'webgpu', interfaces: ['webgpu'], version: '0.0.1' }],
  exports: [],
};
const cpuHeartbeat = {
  id: 'NCPU',
  friendly_name: 'cpu-host-1',
  labels: { hostgroup: 'default' },
  imports: [{ namespace: 'wasi', package: 'keyvalue', interfaces: ['store', 'atomics'], version: '0.2.0-draft' }],
};

describe('placement check', () => {
  const now = 1_000_000;
  const ads = [parseHeartbeat(cpuHeartbeat, 'NCPU', now)!, parseHeartbeat(gpuHeartbeat, 'NGPU', now)!];

  it('reads protojson heartbeats with camelCase or proto field names', () => {
    assert.deepEqual(ads[0], {
      hostId: 'NCPU',
      name: 'cpu-host-1',
      labels: { hostgroup: 'default' },
      interfaces: [{ namespace: 'wasi', package: 'keyvalue', interfaces: ['store', 'atomics'], version: '0.2.0-draft' }],
      seenAt: now,
    });
    assert.equal(ads[1].name, 'gpu-host-1');
    assert.equal(parseHeartbeat('nope', 'X', now), undefined);
  });

  it('accepts what a selected host advertises or always serves (wasi:http, wasi:cli …)', () => {
    const v = checkPlacement(
      {
        hostSelector: { hostgroup: 'default' },
        hostInterfaces: [
          { namespace: 'wasi', package: 'keyvalue', interfaces: ['store'] },
          { namespace: 'wasi', package: 'http', interfaces: ['incoming-handler', 'outgoing-handler'] },
        ],
      },
      ads,
      [],
      now,
      true,
    );
    assert.equal(v.status, 'True');
    assert.match(v.message, /cpu-host-1/);
  });

  it('names the missing interfaces and the GPU fix when only hosts outside the selector have them', () => {
    const v = checkPlacement({ hostSelector: { hostgroup: 'default' }, hostInterfaces: [{ namespace: 'wasi', package: 'webgpu', interfaces: ['webgpu'] }] }, ads, [], now, true);
    assert.equal(v.status, 'False');
    assert.equal(v.reason, 'InterfaceUnavailable');
    assert.match(v.message, /wasi:webgpu\/webgpu/);
    assert.match(v.message, /GPU host group/);
  });

  it('compares versions only when both sides give one', () => {
    const request = (version?: string) => ({ hostInterfaces: [{ namespace: 'wasi', package: 'keyvalue', interfaces: ['store'], ...(version ? { version } : {}) }] });
    assert.equal(checkPlacement(request('0.2.0-draft'), ads, [], now, true).status, 'True');
    assert.equal(checkPlacement(request(), ads, [], now, true).status, 'True');
    assert.equal(checkPlacement(request('0.3.0'), ads, [], now, true).reason, 'InterfaceUnavailable');
  });

  it('ignores hosts silent past the TTL or not Ready, and waits for heartbeats before saying no host matches', () => {
    const request = { hostInterfaces: [{ namespace: 'wasi', package: 'webgpu', interfaces: ['webgpu'] }] };
    assert.equal(checkPlacement(request, ads, [], now + HEARTBEAT_TTL_MS + 1, true).reason, 'NoMatchingHost');
    const gpuNotReady = { ...host('NGPU', { ready: false }) };
    assert.equal(checkPlacement(request, ads, [gpuNotReady], now, true).reason, 'InterfaceUnavailable');
    assert.equal(checkPlacement({ ...request, hostSelector: { hostgroup: 'none' } }, ads, [], now, false).status, 'Unknown');
    const pinned = checkPlacement({ ...request, hostId: 'NCPU' }, ads, [], now, true);
    assert.equal(pinned.reason, 'InterfaceUnavailable', 'a pinned workload is judged against its host only');
  });
});

/** A free TCP port on 127.0.0.1. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Starts nats-server on 127.0.0.1; fails (never skips) when it is not installed. */
async function startNatsServer(): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    child.once('error', (err) => reject(new Error(`nats-server could not be started (${err.message}): install it (Debian package nats-server; .ci/run does)`)));
    child.once('exit', (code) => reject(new Error(`nats-server exited with ${code}`)));
    let seen = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      if (seen.includes('Server is ready')) resolve();
    });
  });
  child.removeAllListeners('exit');
  return { url: `nats://127.0.0.1:${port}`, child };
}

describe('placement from NATS heartbeats (real nats-server)', () => {
  let nats: { url: string; child: ChildProcess };
  let cluster: TestCluster;
  let publisher: NatsConnection;

  before(async () => {
    nats = await startNatsServer();
    publisher = await connect({ servers: nats.url });
  });

  after(async () => {
    await publisher?.close();
    if (nats?.child.exitCode === null) {
      const exited = new Promise((resolve) => nats.child.once('exit', resolve));
      nats.child.kill('SIGTERM');
      await exited;
    }
  });

  beforeEach(async () => {
    cluster = await new TestCluster().start();
  });

  afterEach(async () => {
    await cluster.stop();
  });

  const publish = (hb: Record<string, unknown>) => publisher.publish(`runtime.operator.heartbeat.${hb.id}`, JSON.stringify(hb));

  it('sets Placeable=False/InterfaceUnavailable until a selected host advertises the interface, and warns on plain WorkloadDeployments', async () => {
    const { server } = cluster;
    server.put(
      trigger('render', {
        host: 'render.example.com',
        spec: { hostSelector: { hostgroup: 'default' }, template: { spec: { components: [{ name: 'r', image: 'ghcr.io/example/render:1' }], hostInterfaces: [{ namespace: 'wasi', package: 'webgpu', interfaces: ['webgpu'] }] } } },
      }),
    );
    server.put({
      apiVersion: 'runtime.wasmcloud.dev/v1alpha1',
      kind: 'WorkloadDeployment',
      metadata: { name: 'plain', namespace: 'default' },
      spec: { replicas: 1, template: { spec: { hostSelector: { hostgroup: 'default' }, components: [{ name: 'p', image: 'ghcr.io/example/p:1' }], hostInterfaces: [{ namespace: 'wasi', package: 'blobstore', interfaces: ['blobstore'] }] } } },
    });
    const { replica, logs } = await cluster.controller('replica-a', { nats: { url: nats.url, settleMs: 300 } });
    await cluster.changes.until('NATS connected', () => logs.some((l) => /NATS connected/.test(l.msg)));
    publish(cpuHeartbeat);
    publish(gpuHeartbeat);

    const unplaceable = await cluster.changes.until('Placeable=False', () => cluster.condition('render', 'Placeable')?.status === 'False' && cluster.condition('render', 'Placeable'));
    assert.equal(unplaceable.reason, 'InterfaceUnavailable');
    assert.match(unplaceable.message, /wasi:webgpu\/webgpu/);
    assert.match(unplaceable.message, /GPU host group/);
    const [event] = await cluster.changes.until('trigger event', () => cluster.events('InterfaceUnavailable').find((e) => e.involvedObject.name === 'render') && cluster.events('InterfaceUnavailable').filter((e) => e.involvedObject.name === 'render'));
    assert.equal(event.involvedObject.kind, 'HTTPTrigger');
    const plain = await cluster.changes.until('plain WorkloadDeployment event', () => cluster.events('InterfaceUnavailable').find((e) => e.involvedObject.name === 'plain'));
    assert.equal(plain.involvedObject.kind, 'WorkloadDeployment');
    assert.match(plain.message, /wasi:blobstore\/blobstore/);
    assert.equal(cluster.get('WorkloadDeployment', 'plain')!.status, undefined, 'the controller does not write status it does not own');

    // A GPU host joins the selected group.
    publish({ ...gpuHeartbeat, id: 'NGPU2', friendlyName: 'gpu-host-2', labels: { hostgroup: 'default' } });
    const placeable = await cluster.changes.until('Placeable=True', () => cluster.condition('render', 'Placeable')?.status === 'True' && cluster.condition('render', 'Placeable'));
    assert.equal(placeable.reason, 'InterfacesAvailable');
    assert.match(placeable.message, /gpu-host-2/);
    assert.equal(replica.heartbeats!.advertisements().length, 3);
    assert.deepEqual(server.invalidWrites, []);
  });
});
