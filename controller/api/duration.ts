/** Go duration strings (`300s`, `5m`, `1h30m`, `250ms`, `1.5h`), as `time.ParseDuration` reads them. */

const UNIT_NANOS: Record<string, bigint> = {
  ns: 1n,
  us: 1_000n,
  'µs': 1_000n, // U+00B5 micro sign
  'μs': 1_000n, // U+03BC Greek mu
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
};
const TERM = /(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)/y;
const MAX_NANOS = 2n ** 63n - 1n;

export interface Duration {
  seconds: number;
  nanos: number;
}

/**
 * Parses a non-negative Go duration. Returns an error message instead of
 * throwing, since the text comes straight from user manifests.
 */
export function parseGoDuration(text: string): Duration | { error: string } {
  const invalid = { error: `"${text}" is not a Go duration; write e.g. 300s, 5m, 1h30m or 250ms` };
  const rest = text.startsWith('+') ? text.slice(1) : text;
  if (rest.startsWith('-')) return { error: `"${text}" is negative; a timeout must be 0s or more` };
  if (rest === '0') return { seconds: 0, nanos: 0 };
  if (rest === '') return invalid;
  let total = 0n;
  let pos = 0;
  while (pos < rest.length) {
    TERM.lastIndex = pos;
    const m = TERM.exec(rest);
    if (!m || (m[1] === '' && (m[2] ?? '') === '')) return invalid;
    const unit = UNIT_NANOS[m[3]];
    const fraction = m[2] ?? '';
    total += BigInt(m[1] || '0') * unit + (fraction ? (BigInt(fraction) * unit) / 10n ** BigInt(fraction.length) : 0n);
    if (total > MAX_NANOS) return { error: `"${text}" is too long; Go durations end at about 292 years` };
    pos = TERM.lastIndex;
  }
  return { seconds: Number(total / 1_000_000_000n), nanos: Number(total % 1_000_000_000n) };
}
