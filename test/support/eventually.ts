/**
 * Retries `check` until it passes or `ms` elapse, for state only visible by
 * asking (a remote client's routing, an admin endpoint); resolves with the time
 * it took. Bounded: the loop stops by itself, with the last failure.
 */
export async function eventually(check: () => Promise<unknown> | unknown, ms: number, what = 'the condition'): Promise<number> {
  const started = Date.now();
  for (;;) {
    try {
      await check();
      return Date.now() - started;
    } catch (err) {
      if (Date.now() - started > ms) throw new Error(`${what}: not within ${ms} ms: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}
