/**
 * A client-side rate limit, as client-go's token bucket: `qps` tokens a second, up to `burst`
 * saved; `take()` resolves when a token is free, in call order.
 */
export class TokenBucket {
  private tokens: number;
  private last = performance.now();

  constructor(
    private readonly qps: number,
    private readonly burst: number,
  ) {
    if (!(qps > 0) || !(burst >= 1)) throw new Error(`a rate limit needs qps > 0 and burst >= 1 (got qps ${qps}, burst ${burst})`);
    this.tokens = burst;
  }

  async take(): Promise<void> {
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.qps) / 1000);
    this.last = now;
    this.tokens -= 1;
    if (this.tokens >= 0) return;
    // In debt: this token is free once the debt (every earlier taker's too) is paid back.
    await new Promise((resolve) => setTimeout(resolve, (-this.tokens * 1000) / this.qps));
  }
}
