/**
 * Host ownership: which namespaces may claim which hosts, as HostPolicy objects
 * (control.cosmonic.io/v1alpha1, cluster-scoped) state it. Pure: shared by the
 * controller's resolver, the translate CLI and the Pulumi components, so all
 * three refuse a trigger with the same words.
 *
 * A policy's host pattern is exact (`api.example.com`) or a wildcard
 * (`*.example.com`) that covers every name under `example.com` at any depth, as
 * a Gateway API listener's hostname does: an administrator who reserves a domain
 * reserves all of it. A name is governed by the most specific pattern covering
 * it (the exact one, else the wildcard with the longest suffix); every policy
 * naming that pattern adds the namespaces it allows. A name no pattern covers
 * follows the unlisted-hosts setting (allow, unless the administrator denies).
 *
 * A trigger may claim its host when its namespace may claim every name the host
 * matches. For a wildcard trigger host `*.s` (one label, as Ingress hosts match)
 * those are the names the most specific wildcard over `*.s` governs and each
 * exact pattern one label under `s`: a wildcard cannot take a reserved name.
 */
import { validateSchema } from './schema';
import { hostProblems } from './validate';

export const HOST_POLICY_KIND = 'HostPolicy';

/** How a label selector requirement compares a label with its values. */
export const SelectorOperator = {
  In: 'In',
  NotIn: 'NotIn',
  Exists: 'Exists',
  DoesNotExist: 'DoesNotExist',
} as const;
export type SelectorOperator = (typeof SelectorOperator)[keyof typeof SelectorOperator];

/** A requirement on one label (metav1.LabelSelectorRequirement). */
export interface LabelSelectorRequirement {
  /** The label. */
  key: string;
  /** How the label is compared with `values`. */
  operator: SelectorOperator;
  /** For `In` and `NotIn`. */
  values?: string[];
}

/** metav1.LabelSelector over namespaces' labels; an empty one selects every namespace. */
export interface LabelSelector {
  /** Labels a namespace must have, with these values. */
  matchLabels?: { [key: string]: string };
  /** Requirements a namespace's labels must meet, all of them. */
  matchExpressions?: LabelSelectorRequirement[];
}

export interface HostPolicySpec {
  /** Exact hosts or `*.suffix` wildcards. */
  hosts: string[];
  /** Who may claim them: namespaces by name, by label selector, or both. */
  namespaces: { names?: string[]; selector?: LabelSelector };
}

export interface HostPolicy {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  spec: HostPolicySpec;
}

/** What hosts no HostPolicy names get: claimable from any namespace, or from none. */
export const UnlistedHosts = {
  Allow: 'allow',
  Deny: 'deny',
} as const;
export type UnlistedHosts = (typeof UnlistedHosts)[keyof typeof UnlistedHosts];
export const UNLISTED_HOSTS: readonly UnlistedHosts[] = Object.values(UnlistedHosts);

/** A flag's unlisted-hosts value; throws naming the flag otherwise. */
export function unlistedHostsSetting(flag: string, value: string): UnlistedHosts {
  if ((UNLISTED_HOSTS as readonly string[]).includes(value)) return value as UnlistedHosts;
  throw new Error(`${flag} ${value}: use ${UNLISTED_HOSTS.join(' or ')}`);
}

/** One policy's grant: the namespaces it lets claim its hosts. */
interface Grant {
  policy: string;
  names: ReadonlySet<string>;
  selector?: LabelSelector;
}

export interface ValidHostPolicy {
  name: string;
  /** Lower-case patterns that passed validation. */
  hosts: string[];
  grant: Grant;
}

/**
 * A policy ready for {@link HostOwnership}, and its problems. A policy with problems fails closed:
 * its readable hosts stay reserved, for no namespace, so a typo never opens a host to everyone.
 */
export function checkedHostPolicy(object: unknown): HostPolicyCheck {
  if (object === null || typeof object !== 'object') return checkHostPolicy(object);
  let check = policyChecks.get(object);
  if (!check) policyChecks.set(object, (check = checkHostPolicy(object)));
  return check;
}

export interface HostPolicyCheck {
  policy?: ValidHostPolicy;
  problems: string[];
}

/** Memoized per object, as trigger checks are: an unchanged policy keeps its identity, and the verdicts made with it. */
const policyChecks = new WeakMap<object, HostPolicyCheck>();

function checkHostPolicy(object: unknown): HostPolicyCheck {
  const raw = object as { metadata?: { name?: unknown }; spec?: { hosts?: unknown } } | undefined;
  const name = typeof raw?.metadata?.name === 'string' ? raw.metadata.name : '(unnamed)';
  const schema = validateSchema<HostPolicy>('HostPolicy', object);
  const hosts = schema.ok ? schema.value.spec.hosts : Array.isArray(raw?.spec?.hosts) ? raw.spec.hosts.filter((h): h is string => typeof h === 'string') : [];
  const problems = schema.ok ? [] : [...schema.errors];
  const valid: string[] = [];
  hosts.forEach((host, i) => {
    const found = hostProblems(host, `spec.hosts[${i}]`);
    if (found.length > 0) problems.push(...found);
    else valid.push(host.toLowerCase());
  });
  if (valid.length === 0 && problems.length > 0) return { problems };
  const namespaces = schema.ok ? schema.value.spec.namespaces : {};
  // The CRD's CEL rules, which the schema check above does not evaluate.
  if (schema.ok && namespaces.names === undefined && namespaces.selector === undefined) problems.push('spec.namespaces: needs names, a selector, or both');
  (namespaces.selector?.matchExpressions ?? []).forEach((e, i) => {
    const takesValues = e.operator === 'In' || e.operator === 'NotIn';
    if (takesValues !== (e.values ?? []).length > 0) problems.push(`spec.namespaces.selector.matchExpressions[${i}]: In and NotIn need values; Exists and DoesNotExist take none`);
  });
  const grant: Grant = problems.length > 0 ? { policy: name, names: new Set() } : { policy: name, names: new Set(namespaces.names ?? []), selector: namespaces.selector };
  return { policy: { name, hosts: valid, grant }, problems };
}

/** Whether `labels` satisfy `selector`, as the API server evaluates metav1.LabelSelector (an empty selector selects everything). */
export function selectorMatches(selector: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) if (labels[key] !== value) return false;
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, key);
    const ok =
      operator === 'In' ? has && values.includes(labels[key]) : operator === 'NotIn' ? !has || !values.includes(labels[key]) : operator === 'Exists' ? has : !has;
    if (!ok) return false;
  }
  return true;
}

/** Allowed, refused (with the reason), or not known yet (a selector over labels the caller cannot see, as in a preview). */
export type HostVerdict = { allowed: true } | { allowed: false; message: string } | { allowed: 'unknown' };

const ALLOWED: HostVerdict = { allowed: true };
const UNKNOWN: HostVerdict = { allowed: 'unknown' };

export class HostOwnership {
  private readonly exact = new Map<string, Grant[]>();
  /** Wildcard grants by suffix (`example.com` for `*.example.com`). */
  private readonly wildcard = new Map<string, Grant[]>();
  /** Exact patterns by the suffix one label up (`example.com` holds `api.example.com`). */
  private readonly exactUnder = new Map<string, string[]>();

  /**
   * @param namespaceLabels every namespace's labels (a namespace missing has none); absent when
   *   they cannot be known, which makes selector grants `unknown` instead of refused.
   */
  constructor(
    policies: readonly ValidHostPolicy[],
    readonly unlisted: UnlistedHosts = 'allow',
    private readonly namespaceLabels?: ReadonlyMap<string, Readonly<Record<string, string>>>,
  ) {
    for (const { hosts, grant } of policies) {
      for (const host of hosts) {
        const [table, key] = host.startsWith('*.') ? [this.wildcard, host.slice(2)] : [this.exact, host];
        let grants = table.get(key);
        if (!grants) {
          table.set(key, (grants = []));
          const parent = table === this.exact ? parentOf(host) : undefined;
          if (parent !== undefined) this.exactUnder.set(parent, [...(this.exactUnder.get(parent) ?? []), host]);
        }
        if (!grants.includes(grant)) grants.push(grant);
      }
    }
  }

  /** True when no rule can refuse anything: the resolver skips the checks. */
  get allowsEverything(): boolean {
    return this.unlisted === 'allow' && this.exact.size === 0 && this.wildcard.size === 0;
  }

  /** May a trigger in `namespace` claim `host` (lower-case; exact or `*.suffix`)? */
  check(namespace: string, host: string): HostVerdict {
    if (this.allowsEverything) return ALLOWED;
    const units: { name: string; pattern?: string; grants?: Grant[] }[] = [];
    if (host.startsWith('*.')) {
      const suffix = host.slice(2);
      const governing = this.wildcardOver(suffix);
      units.push({ name: host, ...governing });
      for (const reserved of this.exactUnder.get(suffix) ?? []) units.push({ name: reserved, pattern: reserved, grants: this.exact.get(reserved) });
    } else {
      const reserved = this.exact.get(host);
      const parent = parentOf(host);
      units.push(reserved ? { name: host, pattern: host, grants: reserved } : { name: host, ...(parent === undefined ? {} : this.wildcardOver(parent)) });
    }
    let verdict = ALLOWED;
    for (const unit of units) {
      const allowed = unit.grants ? this.granted(unit.grants, namespace) : this.unlisted === 'allow';
      if (allowed === false) return { allowed: false, message: this.refusal(namespace, host, unit) };
      if (allowed === 'unknown') verdict = UNKNOWN;
    }
    return verdict;
  }

  /** The most specific wildcard covering names under `suffix` (itself, then shorter suffixes). */
  private wildcardOver(suffix: string): { pattern?: string; grants?: Grant[] } {
    for (let s: string | undefined = suffix; s !== undefined; s = parentOf(s)) {
      const grants = this.wildcard.get(s);
      if (grants) return { pattern: `*.${s}`, grants };
    }
    return {};
  }

  private granted(grants: readonly Grant[], namespace: string): boolean | 'unknown' {
    let unknown = false;
    for (const grant of grants) {
      if (grant.names.has(namespace)) return true;
      if (!grant.selector) continue;
      if (!this.namespaceLabels) unknown = true;
      else if (selectorMatches(grant.selector, this.namespaceLabels.get(namespace) ?? {})) return true;
    }
    return unknown ? 'unknown' : false;
  }

  private refusal(namespace: string, host: string, unit: { name: string; pattern?: string; grants?: Grant[] }): string {
    // Only the names a wildcard trigger host matches in general can be unlisted; a reserved one has grants.
    if (!unit.grants) {
      return (
        `host ${host} is named by no HostPolicy, and this controller refuses unlisted hosts (--unlisted-hosts=deny): ` +
        `ask a cluster administrator for a HostPolicy that lets namespace ${namespace} claim it`
      );
    }
    // The policies by name only: what they grant other namespaces is not this namespace's business.
    const who = [...new Set(unit.grants.map((g) => g.policy))].sort().join(', ');
    const what = unit.name === host ? `host ${host}` : `host ${host} covers ${unit.name}, which`;
    return (
      `${what} is reserved through ${unit.pattern} by HostPolicy ${who}, which does not let namespace ${namespace} claim it: ` +
      `ask a cluster administrator to add namespace ${namespace} to a HostPolicy for ${unit.pattern}, or claim a host this namespace may claim (the whole trigger is skipped)`
    );
  }
}

/** `example.com` for `api.example.com`; undefined for a single label. */
function parentOf(host: string): string | undefined {
  const dot = host.indexOf('.');
  return dot < 0 ? undefined : host.slice(dot + 1);
}
