/** Snapshots: what is served decodes to exactly what the translator produced, and is reused when unchanged. */
import * as assert from 'node:assert/strict';
import { decodeToJson, messageType, TypeUrl, type ProtoJson } from '../controller/envoy/protos';
import { encodeWith } from '../controller/envoy/wire';
import { Pipeline } from '../controller/pipeline';
import { SnapshotBuilder, SOTW_TYPE_ORDER, type Snapshot } from '../controller/xds/snapshot';
import { syntheticFleet, syntheticTrigger } from '../bench/fixtures';
import { host, trigger, workload } from './support/fixtures';

/** Decodes a type's response body (DiscoveryResponse.resources entries) back to proto3 JSON. */
function served(snapshot: Pick<Snapshot, 'types'>, typeUrl: string): ProtoJson[] {
  const response = decodeToJson(messageType('envoy.service.discovery.v3.DiscoveryResponse'), snapshot.types.get(typeUrl as never)!.body);
  return ((response.resources as ProtoJson[]) ?? []).map((r) => r);
}

function expected(resources: ProtoJson[]): ProtoJson[] {
  return resources.map((r) => ({ ...r }));
}

describe('snapshots', () => {
  const fleet = syntheticFleet(40, 3, 12);

  it('serves bytes that decode to the translated resources, for every type', () => {
    const out = new Pipeline().run(fleet);
    const snapshot = new SnapshotBuilder().build(out.envoy);
    assert.deepEqual(served(snapshot, TypeUrl.Cluster), expected(out.resources.clusters));
    assert.deepEqual(served(snapshot, TypeUrl.ClusterLoadAssignment), expected(out.resources.clusterLoadAssignments));
    assert.deepEqual(served(snapshot, TypeUrl.Listener), expected(out.resources.listeners));
    assert.deepEqual(served(snapshot, TypeUrl.RouteConfiguration), expected(out.resources.routeConfigurations));
  });

  it('encodes every shape of route the same way as its JSON: wildcards, Exact over Prefix, root prefix, shared hosts, timeouts, no endpoints', () => {
    const out = new Pipeline({ listenerPort: 10080 }).run({
      triggers: [
        trigger('wild', { host: '*.apps.example.com', paths: [['/', 'Prefix'], ['/x', 'Exact']], timeout: '250ms' }),
        trigger('same-path', { host: 'a.example.com', paths: [['/api', 'Exact'], ['/api', 'Prefix'], ['/api/v1', 'Prefix']], timeout: '1h30m' }),
        trigger('neighbour', { namespace: 'other', host: 'a.example.com', paths: [['/docs', 'Prefix'], ['/', 'Prefix']], timeout: '0' }),
        trigger('unicode', { host: 'b.example.com', paths: [['/caf\u00e9/\u{1F600}', 'Prefix']] }),
        trigger('lonely', { host: 'c.example.com', paths: [['/only', 'Exact']] }),
      ],
      workloads: [workload('w1', 'wild', 'h1'), workload('w2', 'wild', 'h2'), workload('w3', 'same-path', 'h1'), workload('w4', 'neighbour', 'h2', { namespace: 'other' })],
      hosts: [host('h1', { hostname: '10.0.0.1', httpPort: 8000 }), host('h2', { hostname: 'fd00::2', httpPort: 70 })],
    });
    assert.deepEqual(out.diagnostics, []);
    const snapshot = new SnapshotBuilder().build(out.envoy);
    for (const [typeUrl, list] of [
      [TypeUrl.Cluster, out.resources.clusters],
      [TypeUrl.ClusterLoadAssignment, out.resources.clusterLoadAssignments],
      [TypeUrl.Listener, out.resources.listeners],
      [TypeUrl.RouteConfiguration, out.resources.routeConfigurations],
    ] as const) {
      assert.deepEqual(served(snapshot, typeUrl), expected(list), typeUrl);
    }
    // The same holds for a resource encoded on its own (the route table's virtual hosts re-framed after a change).
    const table = out.envoy.routeConfigurations[0];
    assert.deepEqual(decodeToJson(messageType(TypeUrl.RouteConfiguration), encodeWith((w) => table.write(w))), (({ '@type': _t, ...rest }) => rest)(table.toJson()));
  });

  it('gives the same versions to the same content in a fresh builder (a restarted controller)', () => {
    const a = new SnapshotBuilder().build(new Pipeline().run(fleet).envoy);
    const b = new SnapshotBuilder().build(new Pipeline().run(fleet).envoy);
    assert.equal(a.version, b.version);
    for (const t of SOTW_TYPE_ORDER) assert.equal(a.types.get(t)!.version, b.types.get(t)!.version);
  });

  it('after changes, reuses unchanged types whole and re-frames the route table around cached virtual hosts', () => {
    const pipeline = new Pipeline();
    const builder = new SnapshotBuilder();
    const triggers = [...fleet.triggers];
    let before = builder.build(pipeline.run(fleet).envoy);
    for (let change = 1; change <= 5; change++) {
      triggers[(change * 7) % triggers.length] = syntheticTrigger((change * 7) % triggers.length, change);
      const out = pipeline.run({ ...fleet, triggers });
      const after = builder.build(out.envoy);
      // A path change touches routes only: clusters, endpoints and the listener are the very same snapshots.
      for (const t of [TypeUrl.Cluster, TypeUrl.ClusterLoadAssignment, TypeUrl.Listener]) assert.equal(after.types.get(t), before.types.get(t));
      assert.notEqual(after.types.get(TypeUrl.RouteConfiguration)!.version, before.types.get(TypeUrl.RouteConfiguration)!.version);
      assert.deepEqual(served(after, TypeUrl.RouteConfiguration), expected(out.resources.routeConfigurations));
      assert.equal(after.version, new SnapshotBuilder().build(new Pipeline().run({ ...fleet, triggers }).envoy).version);
      before = after;
    }
  });

  it('versions a large route table by content alone, however it was patched (edits in several buckets, additions, removals)', () => {
    const big = syntheticFleet(300, 3, 20);
    const pipeline = new Pipeline();
    const builder = new SnapshotBuilder();
    let triggers = [...big.triggers];
    const versions = new Set<string>([builder.build(pipeline.run(big).envoy).types.get(TypeUrl.RouteConfiguration)!.version]);
    const edits: ((t: typeof triggers) => typeof triggers)[] = [
      (t) => t.map((x, i) => (i === 5 || i === 290 ? syntheticTrigger(i, 1) : x)),
      (t) => t.map((x, i) => (i === 130 ? syntheticTrigger(i, 2) : x)),
      (t) => [...t, syntheticTrigger(300)],
      (t) => t.filter((_, i) => i !== 70),
      (t) => t.map((x, i) => (i === 5 ? syntheticTrigger(i, 0) : x)),
    ];
    for (const edit of edits) {
      triggers = edit(triggers);
      const out = pipeline.run({ ...big, triggers });
      const patched = builder.build(out.envoy).types.get(TypeUrl.RouteConfiguration)!;
      const fresh = new SnapshotBuilder().build(new Pipeline().run({ ...big, triggers }).envoy).types.get(TypeUrl.RouteConfiguration)!;
      assert.equal(patched.version, fresh.version);
      assert.deepEqual(patched.body, fresh.body);
      assert.deepEqual(served({ types: new Map([[TypeUrl.RouteConfiguration, patched]]) }, TypeUrl.RouteConfiguration), expected(out.resources.routeConfigurations));
      versions.add(patched.version);
    }
    assert.equal(versions.size, edits.length + 1, 'every edit gives a new version');
  });

  it('gives each resource a per-resource version that changes with its content only', () => {
    const pipeline = new Pipeline();
    const builder = new SnapshotBuilder();
    const first = builder.build(pipeline.run(fleet).envoy);
    const hosts = fleet.hosts.map((h, i) => (i === 0 ? { ...h, httpPort: 9999 } : h));
    const second = builder.build(pipeline.run({ ...fleet, hosts }).envoy);
    const changed = [...second.types.get(TypeUrl.ClusterLoadAssignment)!.resources.values()].filter(
      (r) => first.types.get(TypeUrl.ClusterLoadAssignment)!.resources.get(r.name)!.version !== r.version,
    );
    assert.ok(changed.length > 0 && changed.length < fleet.triggers.length, `${changed.length} assignments changed`);
    // Only endpoints moved: the route table is the very same snapshot, not re-framed or re-hashed.
    assert.equal(second.types.get(TypeUrl.RouteConfiguration), first.types.get(TypeUrl.RouteConfiguration));
    for (const r of changed) assert.match(JSON.stringify(r.source.toJson()), /9999/);
  });
});
