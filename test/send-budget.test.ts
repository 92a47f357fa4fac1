/** The server's send budget on its own: admission, order of waiters, and stalled writes. */
import * as assert from 'node:assert/strict';
import { SendBudget, type BudgetWaiter } from '../controller/xds/send-budget';

/** A waiter that takes `bytes` when flushed and records when it got them. */
function waiter(budget: SendBudget, bytes: number, log: string[], name: string): BudgetWaiter & { release?: () => void } {
  const w: BudgetWaiter & { release?: () => void } = {
    flush: () => {
      const release = budget.take(bytes);
      if (!release) return false;
      w.release = release;
      log.push(name);
      return true;
    },
  };
  return w;
}

describe('send budget', () => {
  it('lets writes through up to the limit, one over-sized write alone, and wakes waiters in order as bytes come back', () => {
    const budget = new SendBudget({ limitBytes: 100 });
    const first = budget.take(60)!;
    assert.ok(first);
    assert.equal(budget.take(50), undefined, '60 + 50 is over the limit');
    const log: string[] = [];
    const [a, b] = [waiter(budget, 50, log, 'a'), waiter(budget, 30, log, 'b')];
    budget.wait(a);
    budget.wait(b);
    budget.wait(a); // asking twice queues once
    first();
    first(); // releasing twice gives back once
    assert.deepEqual(log, ['a', 'b']);
    assert.equal(budget.bytesInFlight, 80);
    a.release!();
    b.release!();
    assert.equal(budget.bytesInFlight, 0);
    const huge = budget.take(1000);
    assert.ok(huge, 'a write larger than the budget goes when nothing else is in flight');
    assert.equal(budget.peakBytes, 1000);
    huge!();
  });

  it('stops counting a write its peer does not drain, so waiters behind it go on', async () => {
    const budget = new SendBudget({ limitBytes: 100, stalledMs: 20 });
    assert.ok(budget.take(100)); // never released: a client that stopped reading
    const woken = new Promise<void>((resolve) => {
      budget.wait({
        flush: () => {
          const release = budget.take(10);
          if (release) resolve();
          return !!release;
        },
      });
    });
    await woken;
    assert.equal(budget.bytesInFlight, 10);
  });

  it('wakes waiters whose clients have read a response before ahead of new ones, each group in order', () => {
    const budget = new SendBudget({ limitBytes: 10 });
    const hold = budget.take(10)!;
    const log: string[] = [];
    const make = (name: string, proven: boolean) => Object.assign(waiter(budget, 1, log, name), { proven });
    for (const w of [make('new-1', false), make('known-1', true), make('new-2', false), make('known-2', true)]) budget.wait(w);
    hold();
    assert.deepEqual(log, ['known-1', 'known-2', 'new-1', 'new-2']);
  });

  it('forgets a waiter whose stream closed', () => {
    const budget = new SendBudget({ limitBytes: 10 });
    const release = budget.take(10)!;
    const log: string[] = [];
    const gone = waiter(budget, 5, log, 'gone');
    budget.wait(gone);
    budget.forget(gone);
    release();
    assert.deepEqual(log, []);
  });
});
