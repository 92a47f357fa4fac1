/**
 * Hostname rules shared by the edge objects (Ingress `rules[].host`, Istio
 * `hosts`): a lowercase DNS-1123 subdomain, optionally a wildcard (`*.` as the
 * whole first label), not an IP address. Kept to one exported function so the
 * controller API's shared validator can replace it.
 */
const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Why `host` is not a valid ingress hostname, or `undefined` when it is. */
export function hostnameProblem(host: unknown): string | undefined {
  if (typeof host !== 'string') return `must be a string, got ${JSON.stringify(host)}`;
  if (host === '') return 'is empty';
  if (host.length > 253) return `is ${host.length} characters long; at most 253 are allowed`;
  if (host !== host.toLowerCase()) return `must be lowercase (use "${host.toLowerCase()}")`;
  if (host.includes(':')) return 'must not contain ":" (no port, no IPv6 address); give a DNS name';
  if (/^[0-9.]+$/.test(host)) return 'is an IP address; give a DNS name';
  const labels = host.split('.');
  const [first, ...rest] = labels;
  if (first === '*' && rest.length === 0) return 'is a bare "*"; a wildcard needs a domain, e.g. "*.example.com"';
  for (const label of first === '*' ? rest : labels) {
    if (label.includes('*')) return 'may only use "*" as its whole first label, e.g. "*.example.com"';
    if (!LABEL.test(label)) {
      return `has an invalid label "${label}": labels are 1-63 characters of a-z, 0-9 and "-", starting and ending with a letter or digit`;
    }
  }
  return undefined;
}
