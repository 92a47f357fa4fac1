/**
 * The specification as a test oracle, written from the issue and the Kubernetes
 * Ingress documentation (not from the production code): which of the admitted
 * rules serves a request.
 * - Host: exact (case-insensitive, `:port` ignored) beats a `*.suffix` wildcard
 *   that covers exactly one leading label; once a host group is chosen there is
 *   no fall-through.
 * - Path (query removed): any Exact match beats any Prefix match; Prefix is
 *   element-wise with one trailing `/` of the rule ignored; the longest rule wins.
 */

export interface RuleSet {
  trigger: string;
  host: string;
  paths: { path: string; pathType: string }[];
}

export interface SpecMatch {
  trigger: string;
  pathType: 'Exact' | 'Prefix';
  path: string;
}

export function hostCovers(ruleHost: string, requestHost: string): 'exact' | 'wildcard' | undefined {
  const rule = ruleHost.toLowerCase();
  const h = requestHost.toLowerCase().replace(/:\d+$/, '');
  if (!rule.startsWith('*.')) return rule === h ? 'exact' : undefined;
  const dot = h.indexOf('.');
  return dot > 0 && h.slice(dot) === rule.slice(1) ? 'wildcard' : undefined;
}

export function prefixCovers(rulePath: string, requestPath: string): boolean {
  const rule = rulePath.length > 1 && rulePath.endsWith('/') ? rulePath.slice(0, -1) : rulePath;
  if (rule === '/') return true;
  return requestPath === rule || requestPath.startsWith(`${rule}/`);
}

export function specMatch(rules: readonly RuleSet[], requestHost: string, requestPath: string): SpecMatch | undefined {
  const exactHost = rules.filter((r) => hostCovers(r.host, requestHost) === 'exact');
  const group = exactHost.length > 0 ? exactHost : rules.filter((r) => hostCovers(r.host, requestHost) === 'wildcard');
  const path = requestPath.split('?')[0];
  const candidates = group.flatMap((r) => r.paths.map((p) => ({ trigger: r.trigger, ...p })));
  const exact = candidates.find((c) => c.pathType === 'Exact' && c.path === path);
  if (exact) return { trigger: exact.trigger, pathType: 'Exact', path: exact.path };
  const norm = (p: string) => (p === '/' ? 0 : p.replace(/\/$/, '').length);
  const prefixes = candidates.filter((c) => c.pathType === 'Prefix' && prefixCovers(c.path, path)).sort((a, b) => norm(b.path) - norm(a.path));
  const best = prefixes[0];
  return best && { trigger: best.trigger, pathType: 'Prefix', path: best.path };
}
