/** What both benchmarks print: medians, percentiles, sizes and the machine. */
import * as os from 'node:os';

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

export function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

export function machine(): string {
  return `Node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model}, ${mib(os.totalmem())}`;
}

/** Milliseconds `f` takes. */
export function time(f: () => void): number {
  const start = process.hrtime.bigint();
  f();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** Runs a bench entry point, printing the machine first; exits 0 when it is done, 1 with the error when it fails. */
export function runBench(title: string, bench: () => Promise<void> | void): void {
  console.log(`${title} — ${machine()}`);
  Promise.resolve()
    .then(bench)
    .then(
      () => process.exit(0),
      (err: Error) => {
        console.error(err);
        process.exit(1);
      },
    );
}
