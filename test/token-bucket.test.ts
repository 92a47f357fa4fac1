/** The reconciler's client-side rate limit. */
import * as assert from 'node:assert/strict';
import { TokenBucket } from '../controller/reconcile/token-bucket';

describe('TokenBucket', () => {
  it('lets a burst through at once, then paces takers at qps, in call order', async () => {
    const bucket = new TokenBucket(100, 5);
    const start = performance.now();
    const done: number[] = [];
    await Promise.all(Array.from({ length: 25 }, (_, i) => bucket.take().then(() => done.push(i))));
    const took = performance.now() - start;
    // 5 from the burst, 20 more at 10 ms each.
    assert.ok(took >= 195, `${took.toFixed(0)} ms`);
    assert.deepEqual(done, [...done].sort((a, b) => a - b));
    const early = new TokenBucket(100, 5);
    const t0 = performance.now();
    for (let i = 0; i < 5; i++) await early.take();
    assert.ok(performance.now() - t0 < 50, 'the burst waits for nothing');
  });

  it('refuses a limit that could never let anything through', () => {
    assert.throws(() => new TokenBucket(0, 5), /qps > 0/);
    assert.throws(() => new TokenBucket(10, 0), /burst >= 1/);
  });
});
