/**
 * What one xDS client may cost the server: a bounded number of subscribed names
 * per stream (past it the stream ends with RESOURCE_EXHAUSTED), client-supplied
 * text truncated wherever it is shown, a repeated NACK counted once, and a type
 * the server does not serve said once instead of ignored silently.
 */
import * as assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { sotwNack, stalledClient } from './support/ads-client';
import { eventually } from './support/eventually';
import { CDS, LDS, World } from './support/xds-world';

describe('xDS server: what one client may cost it', function () {
  this.timeout(10_000);
  let world: World | undefined;
  afterEach(() => world?.close());

  it('ends a delta stream that subscribes more listener names than the limit, and builds none past it', async () => {
    const refused: string[] = [];
    world = await new World({ onRefused: (_node, reason) => refused.push(reason) }, { limits: { maxListenerNames: 100 } }).start({ triggers: ['a'] });
    const stream = world.client().delta();
    stream.send({ type_url: LDS, node: { id: 'greedy' }, resource_names_subscribe: Array.from({ length: 60 }, (_, i) => `n${i}.test`) });
    assert.equal((await stream.next()).type_url, LDS);
    stream.send({ type_url: LDS, resource_names_subscribe: Array.from({ length: 60 }, (_, i) => `m${i}.test`) });
    await assert.rejects(stream.next(), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.RESOURCE_EXHAUSTED);
      assert.equal(err.details, "subscribed 120 names of Listener, over this server's limit of 100 per stream");
      return true;
    });
    assert.deepEqual(refused, ["subscribed 120 names of Listener, over this server's limit of 100 per stream"]);
    assert.equal(world.ads.openStreams, 0);
    assert.equal(world.ads.apiListenersHeld, 60, 'only the first 60 were ever built');
  });

  it('ends a delta stream that claims to hold more resources than the limit of names', async () => {
    world = await new World({}, { limits: { maxNamesPerType: 1_000 } }).start({ triggers: ['a'] });
    const stream = world.client().delta();
    const held = Object.fromEntries(Array.from({ length: 1_001 }, (_, i) => [`c${i}`, 'v1']));
    stream.send({ type_url: CDS, node: { id: 'greedy' }, initial_resource_versions: held });
    await assert.rejects(stream.next(), (err: grpc.ServiceError) => err.code === grpc.status.RESOURCE_EXHAUSTED && /1001 names of Cluster/.test(err.details));
  });

  it('ends a state-of-the-world stream that asks for more names of a type than the limit', async () => {
    world = await new World({}, { limits: { maxNamesPerType: 1_000 } }).start({ triggers: ['a'] });
    const stream = world.client().sotw();
    stream.send({ type_url: CDS, node: { id: 'greedy' }, resource_names: Array.from({ length: 1_001 }, (_, i) => `c${i}`) });
    await assert.rejects(stream.next(), (err: grpc.ServiceError) => err.code === grpc.status.RESOURCE_EXHAUSTED && /1001 names of Cluster/.test(err.details));
  });

  it('counts and logs a NACK repeated with the same nonce once, and truncates the node id and the message', async () => {
    const nacks: { node: string; message: string }[] = [];
    world = await new World({ onNack: (node, _type, _version, message) => nacks.push({ node, message }) }).start({ triggers: ['a'] });
    const stream = world.client().sotw();
    const longId = 'n'.repeat(10_000);
    stream.send({ type_url: CDS, node: { id: longId } });
    const response = await stream.next();
    const nack = { ...sotwNack(response, ''), error_detail: { code: 3, message: 'x'.repeat(100_000) } };
    for (let i = 0; i < 5; i++) stream.send(nack);
    stream.send({ type_url: LDS }); // barrier: every NACK above has been handled
    assert.equal((await stream.next()).type_url, LDS);
    assert.equal(nacks.length, 1);
    assert.equal(nacks[0].node, `${'n'.repeat(256)}… (9744 more characters)`);
    assert.equal(nacks[0].message, `${'x'.repeat(2048)}… (97952 more characters)`);
    const status = world.ads.clients()[0];
    assert.equal(status.nodeId, nacks[0].node, '/debug/clients shows the truncated id');
    assert.equal(status.types[CDS].lastNack?.message, nacks[0].message);
  });

  it('says once per stream that a type is not served, with the type truncated', async () => {
    const unknown: string[] = [];
    world = await new World({ onUnknownType: (_node, type) => unknown.push(type) }).start({ triggers: ['a'] });
    const stream = world.client().sotw();
    for (let i = 0; i < 3; i++) stream.send({ type_url: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret', node: { id: 'sds' } });
    stream.send({ type_url: `type.googleapis.com/${'y'.repeat(1_000)}` });
    stream.send({ type_url: CDS }); // barrier
    assert.equal((await stream.next()).type_url, CDS);
    assert.equal(unknown.length, 2);
    assert.equal(unknown[0], 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret');
    assert.match(unknown[1], /^type\.googleapis\.com\/y+… \(764 more characters\)$/);
  });

  it('closes a stream whose client answers no response for the stall timeout, freeing what was queued for it', async () => {
    const refused: string[] = [];
    world = await new World({ onRefused: (node, reason) => refused.push(`${node}: ${reason}`) }, { limits: { stallTimeoutMs: 300 } }).start({ triggers: Array.from({ length: 2_000 }, (_, i) => `t${i}`) });
    const session = stalledClient(world.port, CDS, 'stuck');
    try {
      await eventually(async () => assert.deepEqual(refused, ['stuck: stalled: the client answered no response for 0.3 s']), 5_000, 'the stalled stream closed');
      assert.equal(world.ads.openStreams, 0);
    } finally {
      session.destroy();
    }
  });

  it('does not count requests with a stale nonce as answers: a client sending only those is closed as stalled', async () => {
    const refused: string[] = [];
    world = await new World({ onRefused: (node, reason) => refused.push(`${node}: ${reason}`) }, { limits: { stallTimeoutMs: 300 } }).start({ triggers: ['a'] });
    const client = world.client();
    const stream = client.sotw();
    const stale = setInterval(() => stream.send({ type_url: CDS, response_nonce: 'not-the-last-one' }), 100);
    try {
      stream.send({ type_url: CDS, node: { id: 'chatty' } });
      await stream.next(); // never answered
      await eventually(async () => assert.deepEqual(refused, ['chatty: stalled: the client answered no response for 0.3 s']), 3_000, 'closed despite the stale requests');
    } finally {
      clearInterval(stale);
      stream.cancel();
      client.close();
    }
  });

  it('keeps a stream whose client answers, however long it takes between changes', async () => {
    world = await new World({}, { limits: { stallTimeoutMs: 200 } }).start({ triggers: ['a'] });
    const client = world.client();
    const stream = client.sotw();
    try {
      stream.send({ type_url: CDS, node: { id: 'steady' } });
      const first = await stream.next();
      stream.send({ type_url: CDS, version_info: first.version_info, response_nonce: first.nonce });
      await new Promise((resolve) => setTimeout(resolve, 400)); // twice the stall timeout, with nothing outstanding
      world.set({ triggers: ['a', 'b'] });
      assert.equal((await stream.next()).resources.length, 2);
      assert.equal(world.ads.openStreams, 1);
    } finally {
      stream.cancel();
      client.close();
    }
  });
});
