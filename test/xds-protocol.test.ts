/**
 * ADS protocol rules a real gRPC client cannot show, driven by a raw client:
 * state-of-the-world stale nonces, type order and make-before-break removal, and
 * delta xDS (subscribe, unsubscribe, removed_resources, initial_resource_versions,
 * NACKs, proxyless listeners).
 *
 * "Nothing else was sent" is shown with a barrier: a request for another type is
 * answered after everything the server wrote before it (one stream, in order), so
 * if that answer is the next message, nothing was sent in between.
 */
import * as assert from 'node:assert/strict';
import { decodeToJson, messageType } from '../controller/envoy/protos';
import type { NodeIdentity } from '../controller/xds/delta';
import { deltaAck, envoyNode, sotwAck, sotwNack, type DeltaResponse, type DeltaStream, type SotwResponse, type SotwStream } from './support/ads-client';
import { CDS, EDS, LDS, RDS, VHDS, World } from './support/xds-world';

const cluster = (t: string) => `default/${t}`;
const names = (r: SotwResponse) => r.resources.map((x) => x.name).sort();
const deltaNames = (r: DeltaResponse) => r.resources.map((x) => x.name).sort();

/** Sends a first SotW request and ACKs the answer; returns it. */
async function subscribe(stream: SotwStream, typeUrl: string, resourceNames: string[] = []): Promise<SotwResponse> {
  stream.send({ type_url: typeUrl, resource_names: resourceNames, node: { id: 'raw' } });
  const response = await stream.next();
  assert.equal(response.type_url, typeUrl);
  stream.send(sotwAck(response, resourceNames));
  return response;
}

describe('ADS protocol (raw client): state of the world', function () {
  let world: World;
  afterEach(() => world?.close());

  it('ignores a request carrying a stale nonce (no NACK recorded, no answer)', async () => {
    world = await new World().start({ triggers: ['a', 'b'] });
    const stream = world.client().sotw();
    const first = await subscribe(stream, CDS);
    world.set({ triggers: ['a', 'b', 'c'] });
    const second = await stream.next();
    assert.deepEqual(names(second), [cluster('a'), cluster('b'), cluster('c')]);
    // A NACK of the first response arriving after the second was sent is stale.
    stream.send(sotwNack(first, first.version_info));
    stream.send({ type_url: LDS, node: { id: 'raw' } }); // barrier
    assert.equal((await stream.next()).type_url, LDS);
    const status = world.ads.clients()[0].types[CDS];
    assert.equal(status.lastNack, undefined);
    assert.equal(status.sent, second.version_info);
  });

  it('answers the first request of every type with no triggers at all', async () => {
    world = await new World().start({ triggers: [] });
    const stream = world.client().sotw();
    assert.deepEqual(names(await subscribe(stream, CDS)), []);
    assert.deepEqual(names(await subscribe(stream, EDS, [])), []);
    assert.equal((await subscribe(stream, LDS)).resources.length, 1);
    assert.equal((await subscribe(stream, RDS, ['ingress_http'])).resources.length, 1);
  });

  it('sends a change in make-before-break order: clusters, endpoints, listeners, routes', async () => {
    world = await new World().start({ triggers: ['a'] });
    const stream = world.client().sotw();
    // gRPC's order of asking (LDS, RDS, CDS, EDS), to show the order comes from the server.
    await subscribe(stream, LDS);
    await subscribe(stream, RDS, ['ingress_http']);
    await subscribe(stream, CDS);
    await subscribe(stream, EDS, [cluster('a'), cluster('b')]);
    world.set({ triggers: ['a', 'b'], listenerPort: 8081 });
    const subscribed: Record<string, string[]> = { [LDS]: [], [RDS]: ['ingress_http'], [CDS]: [], [EDS]: [cluster('a'), cluster('b')] };
    const order = [];
    for (let i = 0; i < 4; i++) {
      const response = await stream.next();
      order.push(response.type_url);
      stream.send(sotwAck(response, subscribed[response.type_url]));
    }
    assert.deepEqual(order, [CDS, EDS, LDS, RDS]);
  });

  it('sends routes naming a new cluster only once the client has ACKed the cluster and its endpoints', async () => {
    world = await new World().start({ triggers: ['a'] });
    const stream = world.client().sotw();
    await subscribe(stream, CDS);
    const firstEds = await subscribe(stream, EDS, [cluster('a')]);
    await subscribe(stream, RDS, ['ingress_http']);
    world.set({ triggers: ['a', 'c'] });
    const cds = await stream.next();
    assert.deepEqual(names(cds), [cluster('a'), cluster('c')]);
    // Envoy asks for the new cluster's endpoints while it applies the clusters, then ACKs them.
    stream.send(sotwAck(firstEds, [cluster('a'), cluster('c')]));
    stream.send(sotwAck(cds));
    const eds = await stream.next();
    assert.equal(eds.type_url, EDS, 'no routes before the clusters are ACKed');
    assert.deepEqual(names(eds), [cluster('a'), cluster('c')]);
    stream.send({ type_url: LDS, node: { id: 'raw' } }); // barrier: no routes while the endpoints are unanswered
    const barrier = await stream.next();
    assert.equal(barrier.type_url, LDS);
    stream.send(sotwAck(barrier));
    stream.send(sotwAck(eds, [cluster('a'), cluster('c')]));
    const rds = await stream.next();
    assert.equal(rds.type_url, RDS);
    assert.match(JSON.stringify(rds.resources[0].decode()), new RegExp(cluster('c')));
  });

  it('after a NACK, still holds routes naming a new cluster until the clusters sent since are answered', async () => {
    world = await new World().start({ triggers: ['a'] });
    const stream = world.client().sotw();
    const clusters = await subscribe(stream, CDS);
    await subscribe(stream, EDS, [cluster('a')]);
    await subscribe(stream, RDS, ['ingress_http']);
    world.set({ triggers: ['a', 'b'] });
    const rejected = await stream.next();
    assert.equal(rejected.type_url, CDS);
    stream.send(sotwNack(rejected, clusters.version_info));
    world.set({ triggers: ['a', 'c'] });
    const cds = await stream.next();
    assert.ok(names(cds).includes(cluster('c')), names(cds).join(', ')); // b stays until routes without it are ACKed
    // Not answered yet: the routes naming c wait (before, a NACK let every later response count as answered).
    stream.send({ type_url: LDS, node: { id: 'raw' } });
    assert.equal((await stream.next()).type_url, LDS, 'no routes, and no second cluster response, before the clusters are answered');
    assert.equal(world.ads.clients()[0].types[CDS].lastNack, undefined, 'the NACK was of an older response');
  });

  it('keeps one response in flight per type: a client that has not answered gets only the newest routes when it does', async () => {
    world = await new World().start({ triggers: ['a'] });
    const stream = world.client().sotw();
    await subscribe(stream, RDS, ['ingress_http']);
    world.set({ triggers: ['a'], paths: { a: '/v2' } });
    const second = await stream.next();
    world.set({ triggers: ['a'], paths: { a: '/v3' } });
    world.set({ triggers: ['a'], paths: { a: '/v4' } });
    stream.send({ type_url: LDS, node: { id: 'raw' } }); // barrier: nothing for RDS came while /v2 was unanswered
    assert.equal((await stream.next()).type_url, LDS);
    stream.send(sotwAck(second, ['ingress_http']));
    const latest = await stream.next();
    assert.equal(latest.type_url, RDS);
    const routes = JSON.stringify(latest.resources[0].decode());
    assert.match(routes, /\/v4/);
    assert.doesNotMatch(routes, /\/v3/);
  });

  it('keeps a removed cluster and its endpoints until the routes without it are ACKed', async () => {
    world = await new World().start({ triggers: ['a', 'b'] });
    const stream = world.client().sotw();
    await subscribe(stream, CDS);
    await subscribe(stream, EDS, [cluster('a'), cluster('b')]);
    await subscribe(stream, RDS, ['ingress_http']);
    world.set({ triggers: ['a', 'c'] });
    const cds = await stream.next();
    assert.equal(cds.type_url, CDS);
    assert.deepEqual(names(cds), [cluster('a'), cluster('b'), cluster('c')], 'c is added, b kept: the old routes still point at it');
    stream.send(sotwAck(cds));
    // Endpoints of a and b are what the client holds already: nothing to send for EDS.
    const rds = await stream.next();
    assert.equal(rds.type_url, RDS);
    assert.ok(!JSON.stringify(rds.resources[0].decode()).includes(cluster('b')));
    stream.send({ type_url: LDS, node: { id: 'raw' } }); // barrier: b is not dropped before the routes are ACKed
    assert.equal((await stream.next()).type_url, LDS);
    stream.send(sotwAck(rds, ['ingress_http']));
    const after = await stream.next();
    assert.equal(after.type_url, CDS);
    assert.deepEqual(names(after), [cluster('a'), cluster('c')]);
    const afterEds = await stream.next();
    assert.equal(afterEds.type_url, EDS);
    assert.deepEqual(names(afterEds), [cluster('a')]);
  });

  it('keeps the removed cluster while the new routes are NACKed', async () => {
    world = await new World().start({ triggers: ['a', 'b'] });
    const stream = world.client().sotw();
    await subscribe(stream, CDS);
    const oldRoutes = await subscribe(stream, RDS, ['ingress_http']);
    world.set({ triggers: ['a', 'c'] });
    const cds = await stream.next();
    assert.deepEqual(names(cds), [cluster('a'), cluster('b'), cluster('c')]);
    stream.send(sotwAck(cds));
    const rds = await stream.next();
    stream.send(sotwNack(rds, oldRoutes.version_info, ['ingress_http']));
    stream.send({ type_url: LDS, node: { id: 'raw' } }); // barrier
    assert.equal((await stream.next()).type_url, LDS);
    assert.equal(world.ads.clients()[0].types[CDS].sent, cds.version_info, 'b was dropped although the client still routes to it');
  });
});

/** Sends a delta request as an Envoy that takes VHDS over ADS (1.38) would; returns the answer. */
async function deltaSubscribe(stream: DeltaStream, typeUrl: string, subscribe: string[] = [], initial?: Record<string, string>): Promise<DeltaResponse> {
  stream.send({ type_url: typeUrl, resource_names_subscribe: subscribe, initial_resource_versions: initial, node: envoyNode('raw-delta', 38) });
  const response = await stream.next();
  assert.equal(response.type_url, typeUrl);
  return response;
}

const ack = deltaAck;

describe('ADS protocol (raw client): delta', function () {
  let world: World;
  afterEach(() => world?.close());

  it('serves a wildcard subscription (legacy empty first request) with every resource and its version', async () => {
    world = await new World().start({ triggers: ['a', 'b'] });
    const stream = world.client().delta();
    const response = await deltaSubscribe(stream, CDS);
    assert.deepEqual(deltaNames(response), [cluster('a'), cluster('b')]);
    const versions = Object.fromEntries(response.resources.map((r) => [r.name, r.version]));
    const snapshot = world.snapshot!.types.get(CDS)!.resources;
    assert.equal(versions[cluster('a')], snapshot.get(cluster('a'))!.version);
    assert.equal(response.resources[0].resource.name, response.resources[0].name);
    assert.deepEqual(response.removed_resources, []);
  });

  it('answers the first request of every type with no triggers at all, with an empty response', async () => {
    world = await new World().start({ triggers: [] });
    const stream = world.client().delta();
    // Envoy's order: CDS and LDS wildcard, then RDS by name, then VirtualHost wildcard.
    for (const [typeUrl, subscribe] of [[CDS, []], [LDS, []], [RDS, ['ingress_http']], [VHDS, []]] as const) {
      stream.send({ type_url: typeUrl, resource_names_subscribe: [...subscribe], node: envoyNode('envoy', 38) });
      const response = await stream.next();
      assert.equal(response.type_url, typeUrl);
      if (typeUrl === CDS) assert.deepEqual(response.resources, []);
      // Never no virtual host: the default one answers 404 for hosts no trigger routes.
      if (typeUrl === VHDS) {
        assert.deepEqual(deltaNames(response), ['ingress_http/*']);
        const vh = decodeToJson(messageType(VHDS), response.resources[0].resource.value) as Record<string, any>;
        assert.deepEqual([vh.name, vh.domains, vh.routes[0].direct_response.status], ['ingress_http/*', ['*'], 404]);
      }
      assert.deepEqual(response.removed_resources, []);
      stream.send(deltaAck(response));
    }
    // Answered once: an ACK of the empty response gets nothing more.
    stream.send({ type_url: EDS, resource_names_subscribe: [], node: { id: 'raw' } }); // barrier
    assert.equal((await stream.next()).type_url, EDS);
  });

  it('sends only subscribed names; unsubscribed ones are no longer updated', async () => {
    world = await new World().start({ triggers: ['a', 'b'] });
    const stream = world.client().delta();
    const first = await deltaSubscribe(stream, EDS, [cluster('a')]);
    assert.deepEqual(deltaNames(first), [cluster('a')]);
    stream.send({ ...ack(first), resource_names_subscribe: [cluster('b')] });
    const second = await stream.next();
    assert.deepEqual(deltaNames(second), [cluster('b')], 'only the newly subscribed name is sent');
    stream.send({ ...ack(second), resource_names_unsubscribe: [cluster('a')] });
    stream.send({ type_url: LDS }); // barrier: the unsubscribe has been read
    assert.equal((await stream.next()).type_url, LDS);
    world.set({ triggers: ['a', 'b'], ports: { a: 9001, b: 9002 } });
    const third = await stream.next();
    assert.deepEqual(deltaNames(third), [cluster('b')], 'a was unsubscribed');
  });

  it('reports removed resources, and a subscribed name that does not exist', async () => {
    world = await new World().start({ triggers: ['a', 'b'] });
    const stream = world.client().delta();
    const first = await deltaSubscribe(stream, CDS, ['*']);
    stream.send(ack(first));
    world.set({ triggers: ['a'] });
    const removal = await stream.next();
    assert.deepEqual(removal.resources, [], 'a did not change');
    assert.deepEqual(removal.removed_resources, [cluster('b')]);
    stream.send(ack(removal));
    const eds = await deltaSubscribe(world.client().delta(), EDS, [cluster('nope')]);
    assert.deepEqual(eds.removed_resources, [cluster('nope')]);
    assert.deepEqual(eds.resources, []);
  });

  it('does not resend what a reconnecting client reports in initial_resource_versions', async () => {
    world = await new World().start({ triggers: ['a', 'b', 'c'] });
    const first = await deltaSubscribe(world.client().delta(), CDS);
    const held = Object.fromEntries(first.resources.map((r) => [r.name, r.version]));
    held[cluster('c')] = 'stale-version';
    const stream = world.client().delta();
    // Reconnect: wildcard again, holding a and b as served and c in an old version.
    const resumed = await deltaSubscribe(stream, CDS, [], held);
    assert.deepEqual(deltaNames(resumed), [cluster('c')]);
    stream.send(ack(resumed));
    // Holding everything: an empty answer to the first request, then nothing (the LDS answer is the next message).
    const quiet = world.client().delta();
    quiet.send({ type_url: CDS, initial_resource_versions: Object.fromEntries(first.resources.map((r) => [r.name, r.version])) });
    const empty = await quiet.next();
    assert.equal(empty.type_url, CDS);
    assert.deepEqual([empty.resources, empty.removed_resources], [[], []]);
    quiet.send(ack(empty));
    quiet.send({ type_url: LDS }); // barrier
    assert.equal((await quiet.next()).type_url, LDS);
    world.set({ triggers: ['a', 'b', 'c', 'd'] });
    assert.deepEqual(deltaNames(await quiet.next()), [cluster('d')]);
  });

  /**
   * Envoy's own request sequence on one DeltaAggregatedResources stream
   * (test/integration/ads_integration.cc testBasicFlow with delta, and
   * vhds_integration_test.cc): CDS [], EDS by cluster name, CDS ACK, LDS [],
   * EDS ACK, RDS by table name, LDS ACK, RDS ACK, then, only after a table with
   * vhds, VirtualHost [] (the mux strips the namespace name). ACKs carry only
   * the nonce.
   */
  async function envoyStartup(stream: DeltaStream, node: NodeIdentity): Promise<{ table: Record<string, any>; virtualHosts?: DeltaResponse }> {
    stream.send({ type_url: CDS, node });
    const cds = await stream.next();
    assert.equal(cds.type_url, CDS);
    stream.send({ type_url: EDS, resource_names_subscribe: deltaNames(cds), node });
    stream.send(ack(cds));
    const eds = await stream.next();
    assert.equal(eds.type_url, EDS);
    stream.send({ type_url: LDS, node });
    stream.send(ack(eds));
    const lds = await stream.next();
    assert.equal(lds.type_url, LDS);
    stream.send({ type_url: RDS, resource_names_subscribe: ['ingress_http'], node });
    stream.send(ack(lds));
    const rds = await stream.next();
    assert.equal(rds.type_url, RDS);
    stream.send(ack(rds));
    const table = rds.resources[0].resource.decode() as Record<string, any>;
    if (!table.vhds) return { table };
    stream.send({ type_url: VHDS, node });
    const virtualHosts = await stream.next();
    assert.equal(virtualHosts.type_url, VHDS);
    stream.send(ack(virtualHosts));
    return { table, virtualHosts };
  }

  it('gives an Envoy that takes VHDS over ADS (1.38+) the virtual hosts over VHDS, following its real request sequence', async () => {
    world = await new World().start({ triggers: ['a', 'b'] });
    const stream = world.client().delta();
    const { table, virtualHosts } = await envoyStartup(stream, envoyNode('envoy-1.38', 38));
    assert.equal(table.virtual_hosts, undefined);
    assert.deepEqual(table.vhds, { config_source: { ads: {}, resource_api_version: 'V3' } });
    assert.deepEqual(deltaNames(virtualHosts!), ['ingress_http/*', 'ingress_http/a.test', 'ingress_http/b.test']);
    for (const r of virtualHosts!.resources) assert.equal(r.resource.decode().name, r.name, 'removals are matched by VirtualHost.name');
    assert.equal(world.ads.clients()[0].routes, 'vhds');
  });

  for (const [who, node] of [
    ['an Envoy that refuses VHDS over ADS (1.36)', envoyNode('envoy-1.36', 36)],
    ['an Envoy 1.37 (whose release may predate VHDS over ADS)', envoyNode('envoy-1.37', 37)],
    ['a gRPC client (no Envoy user agent)', { id: 'grpc' }],
  ] as const) {
    it(`gives ${who} the route table whole over delta, never a table with vhds`, async () => {
      world = await new World().start({ triggers: ['a', 'b'] });
      const stream = world.client().delta();
      const { table } = await envoyStartup(stream, node);
      assert.equal(table.vhds, undefined);
      assert.deepEqual(
        (table.virtual_hosts as { name: string }[]).map((v) => v.name),
        ['ingress_http/a.test', 'ingress_http/b.test'],
      );
      assert.equal(world.ads.clients()[0].routes, 'inline');
      world.set({ triggers: ['a', 'b'], paths: { b: '/v2' } });
      const change = await stream.next();
      assert.equal(change.type_url, RDS, 'the table changes, whole');
      const routes = change.resources[0].resource.decode() as Record<string, any>;
      assert.equal(routes.vhds, undefined);
      assert.match(JSON.stringify(routes.virtual_hosts), /\/v2\//);
    });
  }

  it('sends a virtual host naming a new cluster only once the stream has ACKed the cluster and its endpoints', async () => {
    world = await new World().start({ triggers: ['a'] });
    const stream = world.client().delta();
    const node = envoyNode('envoy-1.38', 38);
    await envoyStartup(stream, node);
    world.set({ triggers: ['a', 'c'] });
    const cds = await stream.next();
    assert.equal(cds.type_url, CDS);
    assert.deepEqual(deltaNames(cds), [cluster('c')]);
    // As Envoy does: subscribe the new cluster's endpoints while applying the clusters, then ACK them.
    stream.send({ type_url: EDS, resource_names_subscribe: [cluster('c')], node });
    stream.send(ack(cds));
    const eds = await stream.next();
    assert.equal(eds.type_url, EDS, 'no virtual host before the clusters are ACKed');
    assert.deepEqual(deltaNames(eds), [cluster('c')]);
    stream.send({ type_url: LDS, resource_names_subscribe: ['barrier'], node }); // answered at once: no virtual host came before it
    const barrier = await stream.next();
    assert.equal(barrier.type_url, LDS);
    stream.send(ack(barrier));
    stream.send(ack(eds));
    const vhost = await stream.next();
    assert.equal(vhost.type_url, VHDS);
    assert.deepEqual(deltaNames(vhost), ['ingress_http/c.test']);
  });

  it('serves the route table over VHDS: no virtual hosts in it, each on its own under <table>/<host>, one per change', async () => {
    world = await new World().start({ triggers: ['a', 'b'] });
    const stream = world.client().delta();
    const rds = await deltaSubscribe(stream, RDS, ['ingress_http']);
    const { '@type': _type, ...table } = rds.resources[0].resource.decode();
    assert.deepEqual(table, { name: 'ingress_http', ignore_port_in_host_matching: true, vhds: { config_source: { ads: {}, resource_api_version: 'V3' } } });
    stream.send(ack(rds));
    // Envoy subscribes to the table's name as a namespace: every virtual host in it.
    const all = await deltaSubscribe(stream, VHDS, ['ingress_http']);
    assert.deepEqual(deltaNames(all), ['ingress_http/*', 'ingress_http/a.test', 'ingress_http/b.test']);
    const inline = world.snapshot!.types.get(RDS)!.resources.get('ingress_http')!.source.toJson().virtual_hosts as object[];
    assert.deepEqual(
      all.resources.filter((r) => r.name !== 'ingress_http/*').map((r) => decodeToJson(messageType(VHDS), r.resource.value)),
      inline,
      'the same virtual hosts as the inline table, besides the default one',
    );
    stream.send(ack(all));
    world.set({ triggers: ['a', 'b'], paths: { b: '/v2' } });
    const change = await stream.next();
    assert.equal(change.type_url, VHDS, 'the table itself does not change');
    assert.deepEqual(deltaNames(change), ['ingress_http/b.test']);
    assert.match(JSON.stringify(change.resources[0].resource.decode()), /\/v2\//);
    stream.send(ack(change));
    world.set({ triggers: ['b'], paths: { b: '/v2' } });
    const removal = await stream.next();
    assert.deepEqual([removal.type_url, removal.removed_resources], [VHDS, ['ingress_http/a.test']]);
    // A state-of-the-world stream still gets the table whole.
    const sotw = await subscribe(world.client().sotw(), RDS, ['ingress_http']);
    assert.equal((sotw.resources[0].decode().virtual_hosts as object[]).length, 1);
  });

  it('sends a reconnecting Envoy only the virtual hosts that changed while it was away (VHDS with initial_resource_versions)', async () => {
    world = await new World().start({ triggers: ['a', 'b', 'c'] });
    const first = await deltaSubscribe(world.client().delta(), VHDS, ['ingress_http']);
    const held = Object.fromEntries(first.resources.map((r) => [r.name, r.version]));
    world.set({ triggers: ['a', 'b', 'c'], paths: { c: '/moved' } });
    const stream = world.client().delta();
    const resumed = await deltaSubscribe(stream, VHDS, ['ingress_http'], held);
    assert.deepEqual(deltaNames(resumed), ['ingress_http/c.test']);
    assert.deepEqual(resumed.removed_resources, []);
  });

  it('holds a cluster removal until the virtual hosts without it are ACKed', async () => {
    world = await new World().start({ triggers: ['a', 'b'] });
    const stream = world.client().delta();
    stream.send(ack(await deltaSubscribe(stream, CDS)));
    stream.send(ack(await deltaSubscribe(stream, EDS, [cluster('a'), cluster('b')])));
    stream.send(ack(await deltaSubscribe(stream, RDS, ['ingress_http'])));
    stream.send(ack(await deltaSubscribe(stream, VHDS, ['ingress_http'])));
    world.set({ triggers: ['a'] });
    // Nothing else changed for clusters and endpoints, so the routes come first.
    const routes = await stream.next();
    assert.equal(routes.type_url, VHDS);
    assert.deepEqual(routes.removed_resources, ['ingress_http/b.test']);
    stream.send(ack(routes));
    const cds = await stream.next();
    assert.equal(cds.type_url, CDS);
    assert.deepEqual(cds.removed_resources, [cluster('b')]);
    const eds = await stream.next();
    assert.equal(eds.type_url, EDS);
    assert.deepEqual(eds.removed_resources, [cluster('b')]);
  });

  it('records a NACK, does not resend, and ignores an ACK or NACK with a stale nonce', async () => {
    const nacks: string[] = [];
    world = await new World({ onNack: (_n, type) => nacks.push(type) }).start({ triggers: ['a'] });
    const stream = world.client().delta();
    stream.send(ack(await deltaSubscribe(stream, RDS, ['ingress_http'])));
    const first = await deltaSubscribe(stream, VHDS, ['ingress_http']);
    stream.send(ack(first));
    world.set({ triggers: ['a'], paths: { a: '/v2' } });
    const second = await stream.next();
    stream.send({ ...ack(first), error_detail: { message: 'stale: about the first response' } });
    stream.send({ ...ack(second), error_detail: { message: 'rejected' } });
    stream.send({ type_url: LDS }); // barrier: the rejected routes are not sent again
    assert.equal((await stream.next()).type_url, LDS);
    assert.deepEqual(nacks, [VHDS]);
    assert.equal(world.ads.clients()[0].types[VHDS].lastNack?.message, 'rejected');
    world.set({ triggers: ['a'], paths: { a: '/v3' } });
    const third = await stream.next();
    assert.equal(third.type_url, VHDS);
    assert.notEqual(third.resources[0].version, second.resources[0].version);
  });

  it('forgets API listeners for names no stream asks for any more', async () => {
    world = await new World().start({ triggers: ['a'] });
    const stream = world.client().delta();
    const names = Array.from({ length: 50 }, (_, i) => `n${i}.test`);
    const response = await deltaSubscribe(stream, LDS, names);
    assert.equal(world.ads.apiListenersHeld, 50);
    stream.send({ ...ack(response), resource_names_unsubscribe: names });
    stream.send({ type_url: CDS }); // barrier: the unsubscribe has been handled
    await stream.next();
    // Two snapshots in which nobody asks for them: gone.
    world.set({ triggers: ['a', 'b'] });
    world.set({ triggers: ['a'] });
    assert.equal(world.ads.apiListenersHeld, 0);
  });

  it('answers a proxyless gRPC listener name with an api_listener reading the same routes', async () => {
    world = await new World().start({ triggers: ['a'] });
    const response = await deltaSubscribe(world.client().delta(), LDS, ['a.test']);
    assert.deepEqual(deltaNames(response), ['a.test']);
    const listener = response.resources[0].resource.decode() as { api_listener?: { api_listener?: { type_url?: string } } };
    assert.match(String(listener.api_listener?.api_listener?.type_url), /HttpConnectionManager$/);
  });
});
