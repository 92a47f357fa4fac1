/** Change batching: a burst of source changes becomes one snapshot, and a steady stream of changes cannot postpone it past the maximum delay. */
import * as assert from 'node:assert/strict';
import pino from 'pino';
import { Controller } from '../controller/controller';
import { emptyManifestObjects } from '../controller/sources/manifests';
import type { Source, SourceObjects } from '../controller/sources/source';

/** A source whose changes the test fires by hand. */
class ManualSource implements Source {
  private notify: () => void = () => undefined;
  reads = 0;
  triggers: unknown[] = [];

  async start(onChange: () => void): Promise<void> {
    this.notify = onChange;
  }

  read(): SourceObjects {
    this.reads++;
    return { ...emptyManifestObjects(), triggers: this.triggers };
  }

  change(): void {
    this.notify();
  }

  async close(): Promise<void> {}
}

describe('controller: change batching', () => {
  let controller: Controller | undefined;
  afterEach(async () => controller?.close());

  async function started(
    holdOffMs: number,
    maxDelayMs: number,
    log = pino({ level: 'silent' }),
  ): Promise<{ source: ManualSource; resolved: () => Promise<number> }> {
    const source = new ManualSource();
    let waiter: ((at: number) => void) | undefined;
    controller = new Controller({
      source,
      xdsAddress: '127.0.0.1:0',
      adminAddress: '127.0.0.1:0',
      log,
      holdOffMs,
      maxDelayMs,
      onResolved: () => waiter?.(Date.now()),
    });
    await controller.start();
    return { source, resolved: () => new Promise((resolve) => (waiter = resolve)) };
  }

  it('resolves a burst of changes once, after the hold-off', async () => {
    const { source, resolved } = await started(30, 1000);
    const readsAtStart = source.reads;
    const next = resolved();
    const firstChangeAt = Date.now();
    for (let i = 0; i < 50; i++) source.change();
    const at = await next;
    assert.equal(source.reads - readsAtStart, 1, 'one read for the whole burst');
    assert.ok(at - firstChangeAt >= 25, `resolved ${at - firstChangeAt} ms after the burst, before the hold-off`);
  });

  it('resolves within the maximum delay while changes keep coming', async () => {
    const { source, resolved } = await started(50, 150);
    const next = resolved();
    const firstChangeAt = Date.now();
    // A change every 10 ms (inside the 50 ms hold-off each time) for at most 2 s: only the cap can end the wait.
    const ticker = setInterval(() => source.change(), 10);
    let giveUp: NodeJS.Timeout | undefined;
    source.change();
    try {
      const at = await Promise.race([next, new Promise<number>((_, reject) => (giveUp = setTimeout(() => reject(new Error('not resolved within 2 s')), 2000)))]);
      assert.ok(at - firstChangeAt < 150 + 250, `resolved ${at - firstChangeAt} ms after the first change (cap 150 ms)`);
      assert.ok(at - firstChangeAt >= 140, `resolved ${at - firstChangeAt} ms after the first change: before the cap, so not held off`);
    } finally {
      clearInterval(ticker);
      clearTimeout(giveUp);
    }
  });
});

describe('controller: diagnostics in the log', () => {
  let controller: Controller | undefined;
  afterEach(async () => controller?.close());

  it('logs a problem when it appears, not again on every resolve, and again if it comes back', async () => {
    const lines: { level: number; trigger?: string; reason?: string }[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const source = new ManualSource();
    let waiter: (() => void) | undefined;
    controller = new Controller({ source, xdsAddress: '127.0.0.1:0', adminAddress: '127.0.0.1:0', log, holdOffMs: 1, maxDelayMs: 5, onResolved: () => waiter?.() });
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
