/**
 * Many streams at once, and streams coming and going: every stream gets a change
 * from one shared response, closed streams leave nothing behind, and a burst of
 * NACKs causes no resend (go-control-plane's resend loop, its issues #46 and #962).
 */
import * as assert from 'node:assert/strict';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { deltaAck, envoyNode, sotwAck, sotwNack, type AdsClient, type DeltaResponse, type DeltaStream, type SotwResponse, type SotwStream } from './support/ads-client';
import { CDS, EDS, LDS, RDS, VHDS, World } from './support/xds-world';

/** gc() even when node was started without --expose-gc (mocha's config does not pass it). */
function collectGarbage(): void {
  v8.setFlagsFromString('--expose-gc');
  (vm.runInNewContext('gc') as () => void)();
}

/** A world whose stream count can be awaited. */
function countingWorld(options: ConstructorParameters<typeof World>[1] = {}): { world: World; streamsAt: (n: number) => Promise<void> } {
  let open = 0;
  const waiters: { n: number; resolve: () => void }[] = [];
  const world = new World({
    onStreamChange: (now) => {
      open = now;
      for (const w of waiters.filter((x) => x.n === now)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    },
  }, options);
  const streamsAt = (n: number) =>
    open === n
      ? Promise.resolve()
      : new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`${open} streams still open, expected ${n}`)), 5000);
          waiters.push({ n, resolve: () => (clearTimeout(timer), resolve()) });
        });
  return { world, streamsAt };
}

/** Opens `count` streams on `client`, half SotW and half delta, each subscribed to every cluster. */
async function subscribedStreams(client: AdsClient, count: number): Promise<(SotwStream | DeltaStream)[]> {
  const streams: (SotwStream | DeltaStream)[] = [];
  for (let i = 0; i < count; i++) {
    if (i % 2 === 0) {
      const s = client.sotw();
      s.send({ type_url: CDS, node: { id: `sotw-${i}` } });
      streams.push(s);
    } else {
      const s = client.delta();
      s.send({ type_url: CDS, node: { id: `delta-${i}` } });
      streams.push(s);
    }
  }
  // Answered like a real client: a stream that has not answered its last response gets nothing new.
  const first = await Promise.all(streams.map((s) => s.next()));
  streams.forEach((s, i) => (i % 2 === 0 ? (s as SotwStream).send(sotwAck(first[i] as SotwResponse)) : (s as DeltaStream).send(deltaAck(first[i] as DeltaResponse))));
  return streams;
}

describe('ADS streams at scale', function () {
  this.timeout(20000);
  let world: World;
  afterEach(() => world?.close());

  it('delivers one change to 200 concurrent streams from two shared responses (SotW, delta)', async () => {
    const counting = countingWorld();
    world = await counting.world.start({ triggers: ['a'] });
    const streams = await subscribedStreams(world.client(), 200);
    assert.equal(world.ads.openStreams, 200);
    const built = world.ads.shared.stats.responsesBuilt;
    world.set({ triggers: ['a', 'b'] });
    const responses = await Promise.all(streams.map((s) => s.next()));
    for (const r of responses) {
      assert.equal(r.type_url, CDS);
      assert.ok(r.resources.length >= 1);
    }
    assert.equal(world.ads.shared.stats.responsesBuilt - built, 2, 'a response was built per stream');
    await Promise.all(streams.map((s) => s.close()));
    await counting.streamsAt(0);
    assert.equal(world.ads.openStreams, 0);
    assert.deepEqual(world.ads.clients(), []);
  });

  it('leaves no streams and no heap growth after 1,000 connect/disconnect cycles', async () => {
    const counting = countingWorld();
    world = await counting.world.start({ triggers: ['a', 'b', 'c'] });
    /** 50 streams on a fresh connection; half end cleanly, half are cancelled (a crashed client). */
    const cycle = async () => {
      const client = world.client();
      const streams = await subscribedStreams(client, 50);
      await Promise.all(streams.map((s, i) => (i % 4 < 2 ? s.close() : (s.cancel(), s.ended))));
      client.close();
    };
    // Warm up (code paths, grpc-js pools) before the baseline.
    await cycle();
    await counting.streamsAt(0);
    collectGarbage();
    const baseline = process.memoryUsage().heapUsed;
    for (let batch = 0; batch < 20; batch += 2) await Promise.all([cycle(), cycle()]);
    await counting.streamsAt(0);
    assert.equal(world.ads.openStreams, 0);
    collectGarbage();
    const growth = process.memoryUsage().heapUsed - baseline;
    // A leaked stream keeps its call, buffers and state (tens of KiB): 1,000 would be tens of MiB.
    assert.ok(growth < 4 * 1024 * 1024, `heap grew by ${(growth / 1024 / 1024).toFixed(1)} MiB`);
  });

  it('builds one response for every delta stream whose first request names every resource of a type (Envoy\'s endpoints)', async () => {
    world = await new World().start({ triggers: Array.from({ length: 30 }, (_, i) => `t${i}`) });
    const client = world.client();
    const clusters = world.names(EDS);
    const built = world.ads.shared.stats.responsesBuilt;
    const streams = Array.from({ length: 20 }, (_, i) => {
      const s = client.delta();
      s.send({ type_url: EDS, resource_names_subscribe: clusters, node: { id: `envoy-${i}` } });
      return s;
    });
    const first = await Promise.all(streams.map((s) => s.next()));
    for (const r of first) assert.equal(r.resources.length, clusters.length);
    assert.equal(world.ads.shared.stats.responsesBuilt - built, 1, 'one response for all twenty');
    const partial = client.delta();
    partial.send({ type_url: EDS, resource_names_subscribe: clusters.slice(1), node: { id: 'partial' } });
    assert.equal((await partial.next()).resources.length, clusters.length - 1);
  });

  it('holds one set of subscribed names for streams that subscribed the same names, not one per stream', async () => {
    world = await new World().start({ triggers: Array.from({ length: 5000 }, (_, i) => `t${i}`) });
    const client = world.client();
    const clusters = world.names(EDS);
    const subscribeAll = (i: number) => {
      const s = client.delta();
      s.send({ type_url: EDS, resource_names_subscribe: clusters, node: { id: `envoy-${i}` } });
      return s.next().then((r) => (s.send(deltaAck(r)), s));
    };
    await subscribeAll(0); // the shared set and response exist from here on
    collectGarbage();
    const before = process.memoryUsage().heapUsed;
    const streams = await Promise.all(Array.from({ length: 40 }, (_, i) => subscribeAll(i + 1)));
    collectGarbage();
    const growth = process.memoryUsage().heapUsed - before;
    // A set of 5,000 names of its own per stream would be ~15 MiB for 40 streams.
    assert.ok(growth < 6 * 1024 * 1024, `heap grew by ${(growth / 1024 / 1024).toFixed(1)} MiB for 40 streams`);
    assert.equal(streams.length, 40);
  });

  it('keeps the bytes in flight to many connecting streams within the send budget, and still serves every stream in order', async () => {
    const triggers = Array.from({ length: 60 }, (_, i) => `t${i}`);
    world = await new World({}, { sendBudget: { limitBytes: 1 } }).start({ triggers });
    const client = world.client();
    const sizes = new Set<number>();
    const streams = Array.from({ length: 40 }, (_, i) => {
      const s = client.sotw();
      // Three types at once: each stream's responses must still arrive in make-before-break order.
      for (const typeUrl of [CDS, LDS, RDS]) s.send({ type_url: typeUrl, resource_names: typeUrl === RDS ? ['ingress_http'] : [], node: { id: `s-${i}` } });
      return s;
    });
    for (const s of streams) {
      const clusters = await s.next();
      s.send(sotwAck(clusters)); // routes wait for the clusters they may name to be answered
      const got = [clusters, await s.next(), await s.next()];
      assert.deepEqual(got.map((r) => r.type_url), [CDS, LDS, RDS]);
      for (const r of got) sizes.add(r.bytes);
    }
    // A 1-byte budget lets one write out at a time: never more than the largest response in flight.
    assert.ok(world.ads.sendBudget.peakBytes <= Math.max(...sizes) + 64, `peak ${world.ads.sendBudget.peakBytes} bytes, largest response ${Math.max(...sizes)}`);
    assert.equal(world.ads.sendBudget.bytesInFlight, 0, 'every write gave its budget back');
  });

  it('gives back the budget of a stream that goes away with writes queued', async () => {
    const counting = countingWorld({ sendBudget: { limitBytes: 1 } });
    world = await counting.world.start({ triggers: Array.from({ length: 60 }, (_, i) => `t${i}`) });
    const client = world.client();
    const streams = Array.from({ length: 30 }, (_, i) => {
      const s = client.sotw();
      s.send({ type_url: RDS, resource_names: ['ingress_http'], node: { id: `s-${i}` } });
      return s;
    });
    // The first stream is served; the rest close without reading.
    await streams[0].next();
    for (const s of streams.slice(1)) s.cancel();
    await counting.streamsAt(1);
    const probe = client.sotw();
    probe.send({ type_url: CDS, node: { id: 'probe' } });
    assert.equal((await probe.next()).type_url, CDS, 'a new stream is served: the closed ones hold no budget');
    assert.equal(world.ads.sendBudget.bytesInFlight, 0);
  });

  it('does not resend when 50 clients NACK the same routes at once', async () => {
    const nacks: string[] = [];
    const pushes: string[] = [];
    world = await new World({ onNack: (node) => nacks.push(node), onPush: (type) => pushes.push(type) }).start({ triggers: ['a'] });
    const client = world.client();
    const sotw: SotwStream[] = [];
    const delta: DeltaStream[] = [];
    for (let i = 0; i < 25; i++) {
      const s = client.sotw();
      s.send({ type_url: RDS, resource_names: ['ingress_http'], node: { id: `sotw-${i}` } });
      sotw.push(s);
      const d = client.delta();
      // Delta clients get routes as VHDS virtual hosts (the table itself never changes).
      d.send({ type_url: VHDS, resource_names_subscribe: ['ingress_http'], node: envoyNode(`delta-${i}`, 38) });
      delta.push(d);
    }
    const firstSotw = await Promise.all(sotw.map((s) => s.next()));
    const firstDelta = await Promise.all(delta.map((d) => d.next()));
    firstSotw.forEach((r, i) => sotw[i].send(sotwAck(r, ['ingress_http'])));
    firstDelta.forEach((r, i) => delta[i].send({ type_url: VHDS, response_nonce: r.nonce }));
    world.set({ triggers: ['a'], paths: { a: '/v2' } });
    const secondSotw = await Promise.all(sotw.map((s) => s.next()));
    const secondDelta = await Promise.all(delta.map((d) => d.next()));
    const routePushes = () => pushes.filter((t) => t === RDS || t === VHDS).length;
    const pushesBefore = routePushes();
    secondSotw.forEach((r, i) => sotw[i].send(sotwNack(r, firstSotw[i].version_info, ['ingress_http'])));
    secondDelta.forEach((r, i) => delta[i].send({ type_url: VHDS, response_nonce: r.nonce, error_detail: { message: 'rejected' } }));
    // Barrier on every stream: the next message is the LDS answer, not the rejected routes again.
    for (const s of [...sotw, ...delta]) s.send({ type_url: LDS, node: { id: 'x' } } as never);
    const next = await Promise.all([...sotw, ...delta].map((s) => s.next()));
    assert.deepEqual(new Set(next.map((r) => r.type_url)), new Set([LDS]));
    assert.equal(nacks.length, 50);
    assert.equal(routePushes(), pushesBefore, 'rejected routes were sent again');
    assert.equal(world.ads.clients().filter((c) => (c.types[RDS] ?? c.types[VHDS]).lastNack).length, 50);
  });
});
