/**
 * The ADS server driven by a real, strict xDS client: @grpc/grpc-js-xds dials
 * `xds:///echo.test`, gets an API listener, the routes, clusters and endpoints,
 * and routes calls by method path to small local gRPC servers standing in for
 * wasmCloud hosts.
 */
import * as assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import type { Host, HTTPTrigger, Workload } from '../controller/api/types';
import { TRIGGER_LABEL } from '../controller/api/types';
import { TypeUrl } from '../controller/envoy/protos';
import { jsonResource } from '../controller/envoy/translate';
import { Pipeline } from '../controller/pipeline';
import { AdsServer } from '../controller/xds/server';
import { SnapshotBuilder } from '../controller/xds/snapshot';
import { eventually } from './support/eventually';
import { backend, call, xdsClient } from './support/grpc-backend';

const READY = [{ type: 'Ready', status: 'True' as const }];

function trigger(name: string, path: string, pathType: string, created: string): HTTPTrigger {
  return {
    apiVersion: 'control.cosmonic.io/v1alpha1',
    kind: 'HTTPTrigger',
    metadata: { name, namespace: 'default', creationTimestamp: created },
    spec: { ingress: { host: 'echo.test', paths: [{ path, pathType }] }, template: { spec: { components: [{ name: 'c', image: 'img' }] } } },
  };
}

function host(id: string, port: number, ready = true): Host {
  return {
    apiVersion: 'runtime.wasmcloud.dev/v1alpha1',
    kind: 'Host',
    metadata: { name: id, namespace: 'wasmcloud' },
    hostId: id,
    hostname: '127.0.0.1',
    httpPort: port,
    status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  };
}

function workload(triggerName: string, hostId: string): Workload {
  return {
    apiVersion: 'runtime.wasmcloud.dev/v1alpha1',
    kind: 'Workload',
    metadata: { name: `${triggerName}-${hostId}`, namespace: 'default', labels: { [TRIGGER_LABEL]: triggerName } },
    spec: {},
    status: { hostId, conditions: READY },
  };
}

async function tally(client: grpc.Client, method: string, calls: number): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (let i = 0; i < calls; i++) {
    const who = await call(client, method);
    counts.set(who, (counts.get(who) ?? 0) + 1);
  }
  return counts;
}

describe('ADS server with a real gRPC xDS client', function () {
  this.timeout(30000);
  const backends: { port: number; server: grpc.Server }[] = [];
  const nacks: { typeUrl: string; version: string; message: string }[] = [];
  const pushes: string[] = [];
  let ads: AdsServer;
  let adsPort: number;
  let client: grpc.Client;
  const pipeline = new Pipeline();
  const builder = new SnapshotBuilder();
  const triggers = [trigger('api', '/api', 'Prefix', '2026-01-01T00:00:00Z'), trigger('health', '/healthz', 'Exact', '2026-01-01T00:00:01Z')];
  let hosts: Host[];
  let workloads: Workload[];

  const events = { onNack: (_node: string, typeUrl: string, version: string, message: string) => nacks.push({ typeUrl, version, message }), onPush: (t: string) => pushes.push(t) };
  const publish = () => ads.setSnapshot(builder.build(pipeline.run({ triggers, workloads, hosts }).envoy));

  before(async () => {
    for (const name of ['a', 'b', 'c']) backends.push(await backend(name));
    hosts = ['a', 'b', 'c'].map((id, i) => host(id, backends[i].port));
    workloads = [workload('api', 'a'), workload('api', 'b'), workload('api', 'c'), workload('health', 'a')];
    ads = new AdsServer(events);
    adsPort = await ads.listen('127.0.0.1:0');
    publish();
    client = xdsClient(`127.0.0.1:${adsPort}`, 'echo.test');
  });

  after(async () => {
    client?.close();
    await ads?.close();
    for (const b of backends) b.server.forceShutdown();
  });

  it('routes by path: Prefix /api to the api trigger, Exact /healthz to the health trigger', async () => {
    assert.equal(await call(client, '/healthz'), 'a');
    const counts = await tally(client, '/api/Echo', 30);
    assert.deepEqual([...counts.keys()].sort(), ['a', 'b', 'c']);
  });

  it('splits round robin evenly across the three hosts (± 1 per 30 calls)', async () => {
    const counts = await tally(client, '/api/Echo', 30);
    for (const name of ['a', 'b', 'c']) assert.ok(Math.abs((counts.get(name) ?? 0) - 10) <= 1, `${name}: ${counts.get(name)}`);
  });

  it('takes a host out of rotation when its Workload goes away or the Host is not Ready', async () => {
    workloads = workloads.filter((w) => w.metadata.name !== 'api-c');
    publish();
    await eventually(async () => assert.equal((await tally(client, '/api/Echo', 6)).get('c'), undefined), 1000);
    hosts = hosts.map((h) => (h.hostId === 'b' ? host('b', backends[1].port, false) : h));
    publish();
    await eventually(async () => assert.deepEqual([...(await tally(client, '/api/Echo', 6)).keys()], ['a']), 1000);
  });

  it('does not resend a NACKed config, and the next valid change is ACKed', async () => {
    const good = pipeline.run({ triggers, workloads, hosts });
    const [routes] = good.resources.routeConfigurations as { virtual_hosts: { routes: { match: object }[] }[] }[];
    // grpc-js-xds rejects path_separated_prefix: a real NACK from a real client.
    const broken = {
      ...routes,
      virtual_hosts: routes.virtual_hosts.map((vh) => ({ ...vh, routes: vh.routes.map((r) => ({ ...r, match: { path_separated_prefix: '/api' } })) })),
    };
    // The client reads its routes inline in its API listener, so the rejection is of a Listener.
    ads.setSnapshot(builder.build({ ...good.envoy, routeConfigurations: [jsonResource(broken)] }));
    await eventually(() => assert.equal(nacks.filter((n) => n.typeUrl === TypeUrl.Listener).length, 1), 3000);
    const pushesAfterNack = pushes.filter((t) => t === TypeUrl.Listener).length;
    await new Promise((r) => setImmediate(r));
    assert.equal(pushes.filter((t) => t === TypeUrl.Listener).length, pushesAfterNack, 'the rejected version was sent again');
    assert.match(nacks[0].message, /path_separated_prefix|path specifier|match/i);
    assert.equal(await call(client, '/healthz'), 'a', 'the client keeps its last good routes');

    triggers.push(trigger('extra', '/extra', 'Prefix', '2026-01-01T00:00:02Z'));
    publish();
    const acked = () => ads.clients().find((c) => c.nodeId === 'test-client')!.types[TypeUrl.Listener];
    await eventually(() => {
      assert.equal(acked().acked, acked().sent);
      assert.equal(acked().lastNack, undefined);
    }, 3000);
  });

  it('keeps working across a server restart; the new server serves the same versions', async () => {
    const acked = () => ads.clients().find((c) => c.nodeId === 'test-client')?.types ?? {};
    const before = acked();
    await ads.close();
    assert.equal(await call(client, '/healthz'), 'a', 'the client keeps its config while the server is away');
    ads = new AdsServer(events);
    await ads.listen(`127.0.0.1:${adsPort}`);
    // A fresh pipeline and builder, as in a restarted process: versions come from content alone.
    ads.setSnapshot(new SnapshotBuilder().build(new Pipeline().run({ triggers, workloads, hosts }).envoy));
    await eventually(() => {
      const after = acked();
      for (const typeUrl of [TypeUrl.Listener, TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment]) {
        assert.ok(before[typeUrl]?.acked, `no ${typeUrl} ACK before the restart`);
        assert.equal(after[typeUrl]?.acked, before[typeUrl].acked, typeUrl);
      }
    }, 10000);
    assert.equal(await call(client, '/healthz'), 'a');
    assert.equal(await call(client, '/api/Echo'), 'a');
  });
});
