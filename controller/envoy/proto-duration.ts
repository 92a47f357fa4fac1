/** google.protobuf.Duration in its proto3 JSON form (`"15s"`, `"0.250s"`). */

const PROTO_DURATION = /^(-)?(\d+)(?:\.(\d{1,9}))?s$/;

/** Parses the proto3 JSON form of a Duration (`"1.5s"`). */
export function parseProtoDuration(text: string): { seconds: number; nanos: number } {
  const m = PROTO_DURATION.exec(text);
  if (!m) throw new Error(`"${text}" is not a protobuf Duration (expected seconds with an "s" suffix, e.g. "15s")`);
  const sign = m[1] ? -1 : 1;
  return { seconds: sign * Number(m[2]), nanos: sign * Number((m[3] ?? '').padEnd(9, '0')) };
}

/** Formats a Duration in its proto3 JSON form: `15s`, `0.250s`. */
export function formatProtoDuration(seconds: number, nanos: number): string {
  if (nanos === 0) return `${seconds}s`;
  const sign = seconds < 0 || nanos < 0 ? '-' : '';
  const frac = String(Math.abs(nanos)).padStart(9, '0').replace(/(000)+$/, '');
  return `${sign}${Math.abs(seconds)}.${frac}s`;
}
