/**
 * The admin and debug HTTP endpoints as an attacker or a careless client uses
 * them: other verbs, query strings, the debug views on a separate loopback
 * address, and a config dump of 10k triggers that must neither stall the event
 * loop nor be built several times at once.
 */
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import pino from 'pino';
import { Controller } from '../controller/controller';
import { SHUTDOWN_GRACE_MS } from '../controller/xds/server';
import { eventually } from './support/eventually';
import { trigger } from './support/fixtures';
import { TestSource } from './support/test-source';

function request(port: number, path: string, method = 'GET'): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('admin endpoints', function () {
  this.timeout(30_000);
  const controllers: Controller[] = [];
  afterEach(async () => {
    await Promise.all(controllers.splice(0).map((c) => c.close()));
  });

  async function started(triggers: unknown[], debugAddress?: string): Promise<Controller> {
    const c = new Controller({ source: new TestSource(triggers), xdsAddress: '127.0.0.1:0', adminAddress: '127.0.0.1:0', debugAddress, log: pino({ level: 'silent' }) });
    controllers.push(c);
    await c.start();
    return c;
  }

  it('answers GET and HEAD only (405 with Allow otherwise), and ignores query strings', async () => {
    const c = await started([trigger('a', { host: 'a.example.com' })]);
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const r = await request(c.adminPort, '/healthz', method);
      assert.equal(r.status, 405, method);
      assert.equal(r.headers.allow, 'GET, HEAD');
    }
    assert.equal((await request(c.adminPort, '/readyz?verbose=1')).status, 200);
    assert.equal((await request(c.adminPort, '/debug/routes?x=1')).status, 200);
    assert.equal((await request(c.adminPort, '/healthz', 'HEAD')).status, 200);
  });

  it('puts process metrics on /metrics: resident memory, heap, event-loop lag', async () => {
    const c = await started([]);
    const metrics = (await request(c.adminPort, '/metrics')).body;
    for (const name of ['process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds', 'wasm_control_triggers']) {
      assert.match(metrics, new RegExp(`^${name}`, 'm'), name);
    }
  });

  it('serves the debug views on the debug address only, when one is given', async () => {
    const c = await started([trigger('a', { host: 'a.example.com' })], '127.0.0.1:0');
    assert.notEqual(c.debugPort, 0);
    const refused = await request(c.adminPort, '/debug/routes');
    assert.equal(refused.status, 404);
    assert.ok(refused.body.includes(`the debug views are served on 127.0.0.1:${c.debugPort} only`), refused.body);
    assert.equal((await request(c.adminPort, '/healthz')).status, 200);
    const routes = JSON.parse((await request(c.debugPort, '/debug/routes')).body) as { host: string }[];
    assert.deepEqual(routes.map((r) => r.host), ['a.example.com']);
    assert.equal((await request(c.debugPort, '/healthz')).status, 200);
  });

  it('writes a 10k-trigger config dump without stalling the event loop, and one at a time', async () => {
    const triggers = Array.from({ length: 10_000 }, (_, i) => trigger(`t${i}`, { host: `t${i}.example.com` }));
    const c = await started(triggers);
    // The first dump's reader does not read: the server stays in the middle of writing it.
    const first = await new Promise<http.IncomingMessage>((resolve, reject) => http.get({ host: '127.0.0.1', port: c.adminPort, path: '/debug/config_dump' }, resolve).on('error', reject));
    assert.equal(first.statusCode, 200);
    const second = await request(c.adminPort, '/debug/config_dump');
    assert.equal(second.status, 503);
    assert.equal(second.headers['retry-after'], '1');
    assert.equal((await request(c.adminPort, '/healthz')).status, 200, 'health answers during a dump');

    // Read the first one now, watching the event loop while the server writes the rest.
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    const chunks: Buffer[] = [];
    for await (const chunk of first) chunks.push(chunk as Buffer);
    delay.disable();
    const dump = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { resources: { virtual_hosts?: unknown[] }[]; diagnostics: unknown[] };
    assert.equal(dump.resources.find((r) => r.virtual_hosts)!.virtual_hosts!.length, 10_000, 'every trigger\'s virtual host');
    assert.deepEqual(dump.diagnostics, []);
    // Built in one go, the 25 MB document held the loop for ~0.8 s on this machine.
    assert.ok(delay.max / 1e6 < 250, `the event loop stalled ${(delay.max / 1e6).toFixed(0)} ms`);
    assert.equal((await request(c.adminPort, '/debug/config_dump')).status, 200, 'the next dump is served once the first is done');

    // A reader that goes away mid-dump frees the slot too.
    const abandoned = await new Promise<http.IncomingMessage>((resolve, reject) => http.get({ host: '127.0.0.1', port: c.adminPort, path: '/debug/config_dump' }, resolve).on('error', reject));
    abandoned.destroy();
    await eventually(async () => assert.equal((await request(c.adminPort, '/debug/config_dump')).status, 200), 5_000, 'a dump after an abandoned one');
  });

  it('closes within the shutdown grace though a client never reads its dump', async () => {
    const c = await started(Array.from({ length: 5_000 }, (_, i) => trigger(`t${i}`, { host: `t${i}.example.com` })));
    controllers.pop();
    const reader = await new Promise<http.IncomingMessage>((resolve, reject) => http.get({ host: '127.0.0.1', port: c.adminPort, path: '/debug/config_dump' }, resolve).on('error', reject));
    reader.pause();
    reader.on('error', () => undefined);
    const closing = performance.now();
    await c.close(); // before: waited for the reader forever
    assert.ok(performance.now() - closing < SHUTDOWN_GRACE_MS + 1_000, `closed after ${(performance.now() - closing).toFixed(0)} ms`);
    reader.destroy();
  });
});
