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
 * `stalledMs`, and its stream takes no more budget until it reads again (the
 * stream closes it after a longer deadline), so stuck clients cannot hold up the
 * rest. Waiters whose clients have shown they read are woken first: a fleet of
 * connected Envoys gets a change before streams that never took a response.
 */
export interface SendBudgetOptions {
  /** Bytes in flight across streams before further writes wait (one write always goes, however large). */
  limitBytes: number;
  /** After this long a write no longer counts against the budget (default 1 s). */
  stalledMs?: number;
}

/** A writer of queued responses that can be woken when budget frees up. */
export interface BudgetWaiter {
  /** Writes what it can; false if it stopped for lack of budget (it is then woken again later). */
  flush(): boolean;
  /** Its client has read a response before: woken ahead of those that have not. */
  readonly proven?: boolean;
}

export class SendBudget {
  private inFlight = 0;
  /** The most bytes ever in flight at once (for tests and /metrics). */
  peakBytes = 0;
  private readonly waiting: BudgetWaiter[] = [];
  readonly stalledMs: number;

  constructor(private readonly options: SendBudgetOptions) {
    this.stalledMs = options.stalledMs ?? 1000;
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

  /** Queues a waiter to be flushed when budget frees up (once, however often it asks): proven ones first, each group in order. */
  wait(waiter: BudgetWaiter): void {
    if (this.waiting.includes(waiter)) return;
    const firstUnproven = waiter.proven ? this.waiting.findIndex((w) => !w.proven) : -1;
    if (firstUnproven >= 0) this.waiting.splice(firstUnproven, 0, waiter);
    else this.waiting.push(waiter);
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
