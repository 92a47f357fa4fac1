/** Change batching: a burst of source changes becomes one snapshot, and a steady stream of changes cannot postpone it past the maximum delay. */
import * as assert from 'node:assert/strict';
import pino from 'pino';
import { Controller } from '../controller/controller';
import { TestSource } from './support/test-source';

describe('controller: change batching', () => {
  let controller: Controller | undefined;
  afterEach(async () => controller?.close());

  async function started(holdOffMs: number): Promise<{ source: TestSource; resolvedAt: number[]; resolved: () => Promise<number> }> {
    const source = new TestSource();
    const resolvedAt: number[] = [];
    let waiter: ((at: number) => void) | undefined;
    controller = new Controller({
      source,
      xdsAddress: '127.0.0.1:0',
      adminAddress: '127.0.0.1:0',
      log: pino({ level: 'silent' }),
      holdOffMs,
      onResolved: () => {
        resolvedAt.push(Date.now());
        waiter?.(Date.now());
      },
    });
    await controller.start();
    resolvedAt.length = 0; // the initial resolve
    return { source, resolvedAt, resolved: () => new Promise((resolve) => (waiter = resolve)) };
  }

  it('reads nothing while the source is still starting, however long its listing takes', async () => {
    let finishListing = () => {};
    const source = new (class extends TestSource {
      override async start(onChange: () => void): Promise<void> {
        await super.start(onChange);
        // Objects arrive (and are reported) one kind at a time, with time between kinds.
        onChange();
        await new Promise<void>((resolve) => (finishListing = resolve));
      }
    })();
    const resolves: number[] = [];
    controller = new Controller({ source, xdsAddress: '127.0.0.1:0', adminAddress: '127.0.0.1:0', log: pino({ level: 'silent' }), holdOffMs: 0, onResolved: () => resolves.push(source.reads) });
    const starting = controller.start();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(source.reads, 0, 'a half-listed source was read');
    finishListing();
    await starting;
    assert.deepEqual(resolves, [1], 'one resolve, once listed');
  });

  it('resolves a change after a quiet spell at once, reading changes that arrive together once', async () => {
    const { source, resolved } = await started(200);
    await new Promise((r) => setTimeout(r, 250)); // quiet for longer than the hold-off
    const readsAtStart = source.reads;
    let next = resolved();
    const changedAt = Date.now();
    for (let i = 0; i < 50; i++) source.change();
    const at = await next;
    assert.equal(source.reads - readsAtStart, 1, 'one read for changes that arrived together');
    assert.ok(at - changedAt < 100, `a lone change waited ${at - changedAt} ms`);
    // Right after a resolve, a change waits for the rest of the hold-off.
    next = resolved();
    source.change();
    const held = await next;
    assert.ok(held - at >= 190, `resolved ${held - at} ms after the previous resolve, inside the 200 ms hold-off`);
  });

  it('coalesces changes that keep coming into one resolve per hold-off, none waiting longer', async () => {
    const { source, resolvedAt, resolved } = await started(50);
    const changes: number[] = [];
    // A change every 5 ms for 400 ms.
    await new Promise<void>((done) => {
      const ticker = setInterval(() => {
        changes.push(Date.now());
        source.change();
        if (changes.length >= 80) {
          clearInterval(ticker);
          done();
        }
      }, 5);
    });
    // The last change's resolve, unless it has happened already.
    if (!(resolvedAt.at(-1)! >= changes.at(-1)!)) await resolved();
    const gaps = resolvedAt.slice(1).map((t, i) => t - resolvedAt[i]);
    assert.ok(gaps.every((g) => g >= 45), `resolves ${gaps.join(', ')} ms apart: closer than the hold-off`);
    assert.ok(resolvedAt.length <= Math.ceil((changes.at(-1)! - changes[0]) / 50) + 2, `${resolvedAt.length} resolves for ${changes.length} changes`);
    // Every change is resolved no later than the hold-off (plus timer slack) after it arrived.
    const waits = changes.map((c) => resolvedAt.find((r) => r >= c)! - c);
    assert.ok(Math.max(...waits) <= 50 + 40, `a change waited ${Math.max(...waits)} ms`);
  });
});

describe('controller: diagnostics in the log', () => {
  let controller: Controller | undefined;
  afterEach(async () => controller?.close());

  it('logs a problem when it appears, not again on every resolve, and again if it comes back', async () => {
    const lines: { level: number; trigger?: string; reason?: string }[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const source = new TestSource();
    let waiter: (() => void) | undefined;
    controller = new Controller({ source, xdsAddress: '127.0.0.1:0', adminAddress: '127.0.0.1:0', log, holdOffMs: 1, onResolved: () => waiter?.() });
    const resolved = () => new Promise<void>((resolve) => (waiter = resolve));
    const bad = { apiVersion: 'control.cosmonic.io/v1alpha1', kind: 'HTTPTrigger', metadata: { name: 'bad', namespace: 'default' }, spec: { ingress: { host: '*' }, template: { spec: {} } } };
    source.triggers = [bad];
    await controller.start();
    const errorsFor = () => lines.filter((l) => l.level === 50 && l.trigger === 'default/bad').length;
    assert.equal(errorsFor(), 1);
    for (let i = 0; i < 3; i++) {
      const next = resolved();
      source.change();
      await next;
    }
    assert.equal(errorsFor(), 1, 'the same problem was logged again');
    source.triggers = [];
    let next = resolved();
    source.change();
    await next;
    source.triggers = [bad];
    next = resolved();
    source.change();
    await next;
    assert.equal(errorsFor(), 2, 'a problem that came back was not logged');
  });
});
