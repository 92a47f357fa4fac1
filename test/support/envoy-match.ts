/**
 * A test oracle for how Envoy picks a route from a RouteConfiguration (proto3
 * JSON as translated), following route.proto / route_components.proto:
 * - virtual host by `domains`: exact, then the longest suffix wildcard (`*.x`,
 *   `*-x`), then the longest prefix wildcard (`x.*`), then `*`; case-insensitive;
 *   the Host's `:port` is dropped only when `ignore_port_in_host_matching` is set;
 *   a wildcard never matches an empty string;
 * - then the FIRST route of that virtual host whose match holds; no fall-through
 *   to another virtual host.
 * Only the match features our translation could emit are modelled; anything
 * else throws so that a test never silently treats an unknown matcher as a hit.
 */
import type { ProtoJson } from '../../controller/envoy/protos';

export interface EnvoyRequest {
  /** The Host / :authority header as sent, possibly with `:port` and in any case. */
  host: string;
  /** The :path as sent, query string included. */
  path: string;
}

export interface EnvoyMatch {
  virtualHost: string;
  routeIndex: number;
  route: ProtoJson;
  /** `filter_metadata["control.cosmonic.io"].trigger` of the chosen route. */
  trigger: string | undefined;
  cluster: string | undefined;
}

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

export function selectVirtualHost(routeConfig: ProtoJson, hostHeader: string): Json | undefined {
  const ignorePort = routeConfig.ignore_port_in_host_matching === true;
  let host = hostHeader.toLowerCase();
  if (ignorePort) host = stripPort(host);
  const vhosts = (routeConfig.virtual_hosts ?? []) as Json[];
  const domains = vhosts.flatMap((vh) => (vh.domains as string[]).map((d) => ({ vh, d: d.toLowerCase() })));
  const exact = domains.find(({ d }) => !d.includes('*') && d === host);
  if (exact) return exact.vh;
  const longest = (list: { vh: Json; d: string }[]) => list.sort((a, b) => b.d.length - a.d.length)[0]?.vh;
  const suffix = domains.filter(({ d }) => d.length > 1 && d.startsWith('*') && host.length > d.length - 1 && host.endsWith(d.slice(1)));
  if (suffix.length > 0) return longest(suffix);
  const prefix = domains.filter(({ d }) => d.length > 1 && d.endsWith('*') && host.length > d.length - 1 && host.startsWith(d.slice(0, -1)));
  if (prefix.length > 0) return longest(prefix);
  return domains.find(({ d }) => d === '*')?.vh;
}

/** The route Envoy would use for the request, or undefined for a 404 (NR). */
export function envoyMatch(routeConfig: ProtoJson, request: EnvoyRequest): EnvoyMatch | undefined {
  const vh = selectVirtualHost(routeConfig, request.host);
  if (!vh) return undefined;
  const routes = (vh.routes ?? []) as Json[];
  const index = routes.findIndex((r) => routeMatches(r.match, request));
  if (index < 0) return undefined;
  const route = routes[index];
  return {
    virtualHost: vh.name,
    routeIndex: index,
    route,
    trigger: route.metadata?.filter_metadata?.['control.cosmonic.io']?.trigger,
    cluster: route.route?.cluster,
  };
}

export function routeMatches(match: Json, request: EnvoyRequest): boolean {
  const known = new Set(['path', 'prefix', 'safe_regex', 'path_separated_prefix', 'headers', 'case_sensitive']);
  for (const key of Object.keys(match)) if (!known.has(key)) throw new Error(`envoy-match: RouteMatch.${key} is not modelled`);
  const caseSensitive = match.case_sensitive !== false;
  const fold = (s: string) => (caseSensitive ? s : s.toLowerCase());
  const full = request.path;
  const withoutQuery = full.split('?')[0];
  let pathOk: boolean;
  if (typeof match.path === 'string') pathOk = fold(withoutQuery) === fold(match.path);
  else if (typeof match.prefix === 'string') pathOk = fold(full).startsWith(fold(match.prefix));
  else if (typeof match.path_separated_prefix === 'string') {
    const p = fold(match.path_separated_prefix);
    const q = fold(withoutQuery);
    pathOk = q === p || q.startsWith(`${p}/`);
  } else if (match.safe_regex) pathOk = re2(match.safe_regex.regex).test(withoutQuery);
  else throw new Error('envoy-match: RouteMatch has no path specifier');
  if (!pathOk) return false;
  return ((match.headers ?? []) as Json[]).every((h) => headerMatches(h, request));
}

function headerMatches(h: Json, request: EnvoyRequest): boolean {
  const name = String(h.name).toLowerCase();
  const value = name === ':authority' || name === 'host' ? request.host : name === ':path' ? request.path : undefined;
  let result: boolean;
  if (h.present_match !== undefined) result = (value !== undefined) === h.present_match;
  else if (value === undefined) result = false;
  else if (h.string_match) result = stringMatches(h.string_match, value);
  else throw new Error(`envoy-match: HeaderMatcher ${JSON.stringify(h)} is not modelled`);
  return h.invert_match ? !result : result;
}

function stringMatches(m: Json, value: string): boolean {
  const v = m.ignore_case ? value.toLowerCase() : value;
  const f = (s: string) => (m.ignore_case ? s.toLowerCase() : s);
  if (typeof m.exact === 'string') return v === f(m.exact);
  if (typeof m.prefix === 'string') return v.startsWith(f(m.prefix));
  if (typeof m.suffix === 'string') return v.endsWith(f(m.suffix));
  if (typeof m.contains === 'string') return v.includes(f(m.contains));
  if (m.safe_regex) return re2(m.safe_regex.regex).test(value);
  throw new Error(`envoy-match: StringMatcher ${JSON.stringify(m)} is not modelled`);
}

/**
 * An RE2 pattern as a JS RegExp with Envoy's full-match semantics. Only a leading
 * `(?i)` needs translating for what we emit; other RE2-only syntax throws here.
 */
export function re2(pattern: string): RegExp {
  let flags = '';
  let body = pattern;
  if (body.startsWith('(?i)')) {
    flags = 'i';
    body = body.slice(4);
  }
  if (/\(\?[a-zA-Z]/.test(body) || /\\[pPQEz]/.test(body)) throw new Error(`envoy-match: RE2 pattern ${pattern} needs more translation`);
  return new RegExp(`^(?:${body})$`, flags);
}

function stripPort(host: string): string {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end >= 0 ? host.slice(0, end + 1) : host;
  }
  const colon = host.lastIndexOf(':');
  return colon >= 0 && /^\d+$/.test(host.slice(colon + 1)) ? host.slice(0, colon) : host;
}
