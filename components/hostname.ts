/**
 * Hostname rules for the edge objects (Ingress `rules[].host`, Istio
 * `hosts`): the controller's own host check (controller/api/validate.ts, the
 * rule HTTPTrigger hosts follow), plus lower case, which Kubernetes requires of
 * an Ingress host while HTTPTrigger hosts are compared case-insensitively.
 */
import { hostProblems } from '../controller/api/validate';

/** Why `host` is not a valid ingress hostname, or `undefined` when it is. */
export function hostnameProblem(host: unknown): string | undefined {
  if (typeof host !== 'string') return `must be a string, got ${JSON.stringify(host)}`;
  if (host !== host.toLowerCase()) return `must be lowercase (use "${host.toLowerCase()}")`;
  // The shared messages start with the field they were written for; the caller names its own argument.
  const problem = hostProblems(host)[0];
  return problem?.replace(/^ingress\.host /, '');
}
