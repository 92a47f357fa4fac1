/**
 * A cap on response bytes handed to gRPC and not yet written out, across every
 * stream of a server.
 *
 * grpc-js copies each message when it frames it, and keeps the copy until the
 * bytes are on the socket. When many Envoys connect at once (a controller or
 * Envoy fleet restart), each is sent the whole state: 100 of them at 10k triggers
 * is ~700 MB of copies at the same moment, enough to get the controller pod
 * OOM-killed and the fleet to reconnect again. With a budget, streams past it
 * wait their turn (in order), so the copies alive at once stay near the budget.
 *
 * A write the peer does not drain (it stopped reading) stops counting after
 * `stalledMs`, so one stuck client cannot hold up the rest.
 */
export interface SendBudgetOptions {
  /** Bytes in flight across streams before further writes wait (one write always goes, however large). */
  limitBytes: number;
  /** After this long a write no longer counts against the budget (default 5 s). */
  stalledMs?: number;
}

/** A writer of queued responses that can be woken when budget frees up. */
export interface BudgetWaiter {
  /** Writes what it can; false if it stopped for lack of budget (it is then woken again later). */
  flush(): boolean;
}

export class SendBudget {
  private inFlight = 0;
  /** The most bytes ever in flight at once (for tests and /metrics). */
  peakBytes = 0;
  private readonly waiting: BudgetWaiter[] = [];
  private readonly stalledMs: number;

  constructor(private readonly options: SendBudgetOptions) {
    this.stalledMs = options.stalledMs ?? 5000;
  }

  get bytesInFlight(): number {
    return this.inFlight;
  }

  /**
   * Takes `bytes` if they fit, or if nothing is in flight (so a response larger
   * than the budget still goes, alone). Returns a release function, called once
   * the write is done (or its stream closed); undefined if the caller must wait.
   */
  take(bytes: number): (() => void) | undefined {
    if (this.inFlight > 0 && this.inFlight + bytes > this.options.limitBytes) return undefined;
    this.inFlight += bytes;
    this.peakBytes = Math.max(this.peakBytes, this.inFlight);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      clearTimeout(stalled);
      this.inFlight -= bytes;
      this.wake();
    };
    const stalled = setTimeout(release, this.stalledMs);
    stalled.unref();
    return release;
  }

  /** Queues a waiter to be flushed when budget frees up (once, however often it asks). */
  wait(waiter: BudgetWaiter): void {
    if (!this.waiting.includes(waiter)) this.waiting.push(waiter);
  }

  /** Forgets a waiter (its stream closed). */
  forget(waiter: BudgetWaiter): void {
    const at = this.waiting.indexOf(waiter);
    if (at >= 0) this.waiting.splice(at, 1);
  }

  private wake(): void {
    while (this.waiting.length > 0) {
      const next = this.waiting[0];
      if (!next.flush()) return;
      this.waiting.shift();
    }
  }
}
