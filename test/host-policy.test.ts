import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import { checkedHostPolicy, HostOwnership, selectorMatches, type HostPolicySpec, type LabelSelector, type UnlistedHosts, type ValidHostPolicy } from '../controller/api/host-policy';
import { Pipeline } from '../controller/pipeline';
import { classifyObjects, emptyManifestObjects } from '../controller/sources/manifests';
import { trigger } from './support/fixtures';

function policy(name: string, hosts: string[], namespaces: HostPolicySpec['namespaces']): Record<string, unknown> {
  return { apiVersion: 'control.cosmonic.io/v1alpha1', kind: 'HostPolicy', metadata: { name }, spec: { hosts, namespaces } };
}

function valid(name: string, hosts: string[], namespaces: HostPolicySpec['namespaces']): ValidHostPolicy {
  const { policy: checked, problems } = checkedHostPolicy(policy(name, hosts, namespaces));
  assert.deepEqual(problems, []);
  return checked!;
}

function ownership(policies: ValidHostPolicy[], unlisted: UnlistedHosts = 'allow', labels: Record<string, Record<string, string>> = {}): HostOwnership {
  return new HostOwnership(policies, unlisted, new Map(Object.entries(labels)));
}

describe('host ownership (HostPolicy)', () => {
  const teamA = valid('team-a', ['api.example.com', '*.a.example.com'], { names: ['team-a'] });
  const platform = valid('platform', ['*.example.com'], { names: ['platform'] });

  it('lets the namespaces a policy names claim its hosts, and refuses others naming the policy and the fix', () => {
    const rules = ownership([teamA]);
    assert.deepEqual(rules.check('team-a', 'api.example.com'), { allowed: true });
    const refused = rules.check('squat', 'api.example.com');
    assert.equal(refused.allowed, false);
    assert.match(
      (refused as { message: string }).message,
      /^host api\.example\.com is reserved through api\.example\.com by HostPolicy team-a, which does not let namespace squat claim it: ask a cluster administrator to add namespace squat to a HostPolicy for api\.example\.com/,
    );
  });

  it('covers every name under a wildcard pattern at any depth, but not the suffix itself', () => {
    const rules = ownership([platform]);
    for (const host of ['x.example.com', 'a.b.example.com', '*.example.com', '*.b.example.com']) assert.equal(rules.check('team-a', host).allowed, false, host);
    assert.equal(rules.check('team-a', 'example.com').allowed, true);
    assert.equal(rules.check('platform', 'deep.x.example.com').allowed, true);
  });

  it('lets the most specific pattern decide: an exact host before a wildcard, a longer suffix before a shorter one', () => {
    const rules = ownership([platform, teamA]);
    assert.equal(rules.check('team-a', 'api.example.com').allowed, true);
    assert.equal(rules.check('platform', 'api.example.com').allowed, false, 'delegated away from the wider wildcard');
    assert.equal(rules.check('team-a', 'x.a.example.com').allowed, true);
    assert.equal(rules.check('platform', 'x.a.example.com').allowed, false);
    assert.equal(rules.check('team-a', 'www.example.com').allowed, false);
  });

  it('refuses a wildcard trigger host that would take a name reserved for someone else', () => {
    const rules = ownership([teamA]);
    const refused = rules.check('squat', '*.example.com');
    assert.equal(refused.allowed, false);
    assert.match((refused as { message: string }).message, /^host \*\.example\.com covers api\.example\.com, which is reserved through api\.example\.com by HostPolicy team-a/);
    assert.equal(ownership([teamA, valid('squat-ok', ['*.example.com'], { names: ['squat'] })]).check('squat', '*.example.com').allowed, false, 'api. stays team-a\'s');
    assert.equal(rules.check('team-a', '*.example.com').allowed, true, 'the only reserved name under it is its own');
  });

  it('adds the namespaces of every policy naming the same pattern', () => {
    const rules = ownership([teamA, valid('team-b-too', ['api.example.com'], { names: ['team-b'] })]);
    assert.equal(rules.check('team-a', 'api.example.com').allowed, true);
    assert.equal(rules.check('team-b', 'api.example.com').allowed, true);
    assert.match((rules.check('team-c', 'api.example.com') as { message: string }).message, /by HostPolicy team-a, team-b-too, which does not let namespace team-c claim it/);
  });

  it('refuses unlisted hosts when told to, and allows them by default', () => {
    assert.equal(ownership([teamA]).check('anyone', 'other.org').allowed, true);
    const refused = ownership([teamA], 'deny').check('anyone', 'other.org');
    assert.match((refused as { message: string }).message, /^host other\.org is named by no HostPolicy, and this controller refuses unlisted hosts \(--unlisted-hosts=deny\)/);
    assert.equal(ownership([teamA], 'deny').check('team-a', 'api.example.com').allowed, true);
    assert.equal(ownership([], 'allow').allowsEverything, true);
    assert.equal(ownership([], 'deny').allowsEverything, false);
  });

  it('matches namespaces by label selector, and says "unknown" when the labels cannot be seen', () => {
    const byLabel = valid('teams', ['*.teams.example.com'], { selector: { matchLabels: { tenant: 'yes' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['gold', 'silver'] }] } });
    const rules = ownership([byLabel], 'allow', { gold: { tenant: 'yes', tier: 'gold' }, bronze: { tenant: 'yes', tier: 'bronze' } });
    assert.equal(rules.check('gold', 'x.teams.example.com').allowed, true);
    assert.match((rules.check('bronze', 'x.teams.example.com') as { message: string }).message, /reserved through \*\.teams\.example\.com by HostPolicy teams, which does not let namespace bronze claim it/);
    assert.equal(rules.check('unlabelled', 'x.teams.example.com').allowed, false, 'a namespace the controller has not seen has no labels');
    assert.deepEqual(new HostOwnership([byLabel]).check('gold', 'x.teams.example.com'), { allowed: 'unknown' });
  });

  it('evaluates label selectors as the API server does', () => {
    const cases: [LabelSelector, Record<string, string>, boolean][] = [
      [{}, {}, true],
      [{ matchLabels: { a: '1' } }, { a: '1', b: '2' }, true],
      [{ matchLabels: { a: '1' } }, { a: '2' }, false],
      [{ matchExpressions: [{ key: 'a', operator: 'NotIn', values: ['1'] }] }, {}, true],
      [{ matchExpressions: [{ key: 'a', operator: 'NotIn', values: ['1'] }] }, { a: '1' }, false],
      [{ matchExpressions: [{ key: 'a', operator: 'Exists' }] }, { a: '' }, true],
      [{ matchExpressions: [{ key: 'a', operator: 'DoesNotExist' }] }, { a: '' }, false],
      [{ matchExpressions: [{ key: 'a', operator: 'In', values: ['1'] }] }, {}, false],
    ];
    for (const [selector, labels, expected] of cases) assert.equal(selectorMatches(selector, labels), expected, JSON.stringify([selector, labels]));
  });

  it('fails closed: a policy with problems keeps its readable hosts reserved for no namespace', () => {
    const { policy: kept, problems } = checkedHostPolicy(policy('typo', ['api.example.com', 'bad host'], { names: ['team-a'] }));
    assert.match(problems.join('\n'), /spec\.hosts\[1\]: must match pattern|spec\.hosts\[1\] "bad host"/);
    assert.deepEqual(kept?.hosts, ['api.example.com']);
    assert.equal(ownership([kept!]).check('team-a', 'api.example.com').allowed, false);
    assert.match(checkedHostPolicy(policy('none', ['x.example.com'], {})).problems.join(), /spec\.namespaces: needs names, a selector, or both/);
    assert.match(
      checkedHostPolicy(policy('values', ['x.example.com'], { selector: { matchExpressions: [{ key: 'a', operator: 'Exists', values: ['1'] }] } })).problems.join(),
      /matchExpressions\[0\]: In and NotIn need values; Exists and DoesNotExist take none/,
    );
  });

  describe('in the pipeline', () => {
    const run = (objects: unknown[], unlistedHosts: UnlistedHosts = 'allow') => {
      const manifests = classifyObjects('test.yaml', objects, emptyManifestObjects());
      return { manifests, out: new Pipeline({ unlistedHosts }).run(manifests) };
    };

    it('refuses the squatter and admits the owner even when the squatter is older: the refused trigger takes no part in the conflict', () => {
      const { out } = run([
        policy('team-a', ['api.example.com'], { names: ['team-a'] }),
        trigger('squat', { namespace: 'squatters', host: 'api.example.com', created: '2024-01-01T00:00:00Z' }),
        trigger('api', { namespace: 'team-a', host: 'api.example.com', created: '2025-01-01T00:00:00Z' }),
      ]);
      assert.deepEqual(out.model.admitted.map((t) => t.key), ['team-a/api']);
      assert.deepEqual(out.diagnostics.map((d) => [d.trigger, d.reason]), [['squatters/squat', 'HostNotAllowed']]);
      assert.match(out.diagnostics[0].message, /HostPolicy team-a/);
    });

    it('reads Namespace manifests for selector rules, and a bad HostPolicy becomes a diagnostic naming it', () => {
      const namespace = (name: string, labels: Record<string, string>) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
      const { manifests, out } = run(
        [
          policy('tenants', ['*.apps.example.com'], { selector: { matchLabels: { tenant: 'true' } } }),
          policy('broken', ['Not A Host'], { names: ['x'] }),
          namespace('blue', { tenant: 'true' }),
          namespace('red', {}),
          trigger('blue', { namespace: 'blue', host: 'blue.apps.example.com' }),
          trigger('red', { namespace: 'red', host: 'red.apps.example.com' }),
          trigger('elsewhere', { namespace: 'red', host: 'red.example.org' }),
        ],
        'deny',
      );
      assert.deepEqual(out.model.admitted.map((t) => t.key).sort(), ['blue/blue']);
      assert.deepEqual(out.diagnostics.map((d) => [d.trigger, d.reason]), [['red/elsewhere', 'HostNotAllowed'], ['red/red', 'HostNotAllowed']]);
      assert.deepEqual(manifests.diagnostics.map((d) => d.object), ['HostPolicy broken']);
      assert.match(manifests.diagnostics[0].message, /names no valid host and is skipped/);
    });
  });

  describe('one pipeline across changes', () => {
    it('re-decides at once when a namespace\'s labels or the policies change, and reuses its verdicts while they do not', () => {
      const pipeline = new Pipeline();
      const policies = [valid('tenants', ['*.apps.example.com'], { selector: { matchLabels: { tenant: 'true' } } })];
      const triggers = [trigger('red', { namespace: 'red', host: 'red.apps.example.com' }), trigger('blue', { namespace: 'blue', host: 'blue.apps.example.com' })];
      const check = HostOwnership.prototype.check;
      let checks = 0;
      HostOwnership.prototype.check = function (...args) {
        checks++;
        return check.apply(this, args);
      };
      try {
        const admitted = (namespaces: { name: string; labels: Record<string, string> }[], hostPolicies = policies, run = triggers) => {
          checks = 0;
          return pipeline.run({ triggers: run, workloads: [], hosts: [], hostPolicies, namespaces }).model.admitted.map((t) => t.key);
        };
        const unlabelled = [{ name: 'red', labels: {} }];
        assert.deepEqual(admitted(unlabelled), []);
        assert.equal(checks, 2);
        assert.deepEqual(admitted(unlabelled), [], 'same objects, same verdicts');
        assert.equal(checks, 0, 'nothing checked again');
        assert.deepEqual(admitted(unlabelled, policies, [triggers[0], trigger('blue', { namespace: 'blue', host: 'blue.apps.example.com', timeout: '5s' })]), []);
        assert.equal(checks, 1, 'only the edited trigger');
        assert.deepEqual(admitted([{ name: 'red', labels: { tenant: 'true' } }]), ['red/red']);
        const byName = [valid('named', ['*.apps.example.com'], { names: ['red', 'blue'] })];
        admitted(unlabelled, byName);
        assert.deepEqual(admitted([{ name: 'red', labels: { any: 'label' } }, { name: 'new', labels: {} }], byName).sort(), ['blue/blue', 'red/red']);
        assert.equal(checks, 0, 'no selector grant: namespaces created or relabelled change no verdict');
        assert.deepEqual(admitted(unlabelled), []);
        assert.deepEqual(admitted(unlabelled, []).sort(), ['blue/blue', 'red/red'], 'the policy deleted');
      } finally {
        HostOwnership.prototype.check = check;
      }
    });
  });

  describe('property: a policy never admits a trigger the rules do not allow', () => {
    // A small world of names, so that rules and triggers overlap often.
    const LABELS = ['a', 'b', 'c'];
    const SUFFIXES = ['x.io', 'a.x.io', 'b.a.x.io', 'y.io'];
    const NAMESPACES = ['n1', 'n2', 'n3'];
    const patternArb = fc.tuple(fc.boolean(), fc.constantFrom(...LABELS), fc.constantFrom(...SUFFIXES)).map(([wild, label, suffix]) => (wild ? `*.${suffix}` : `${label}.${suffix}`));
    const policyArb = fc.record({ hosts: fc.uniqueArray(patternArb, { minLength: 1, maxLength: 3 }), names: fc.subarray(NAMESPACES) });
    const covers = (pattern: string, name: string) => (pattern.startsWith('*.') ? name.endsWith(pattern.slice(1)) : pattern === name);
    /** Brute force: the namespaces that may claim one concrete name. */
    const allowedFor = (name: string, policies: { hosts: string[]; names: string[] }[], unlisted: UnlistedHosts): Set<string> | 'any' => {
      const patterns = policies.flatMap((p) => p.hosts).filter((h) => covers(h, name));
      if (patterns.length === 0) return unlisted === 'allow' ? 'any' : new Set();
      // Most specific: exact, else the longest wildcard.
      const best = patterns.includes(name) ? name : patterns.sort((l, r) => r.length - l.length)[0];
      return new Set(policies.filter((p) => p.hosts.includes(best)).flatMap((p) => p.names));
    };

    it('checks every concrete name a trigger host matches, a fresh label for a wildcard\'s "any other" included', () => {
      fc.assert(
        fc.property(
          fc.array(policyArb, { maxLength: 4 }),
          fc.constantFrom<UnlistedHosts>('allow', 'deny'),
          patternArb,
          fc.constantFrom(...NAMESPACES),
          (specs, unlisted, host, namespace) => {
            const policies = specs.map((p, i) => valid(`p${i}`, p.hosts, { names: p.names }));
            const verdict = ownership(policies, unlisted).check(namespace, host);
            const names = host.startsWith('*.') ? [...LABELS, 'fresh'].map((l) => `${l}.${host.slice(2)}`) : [host];
            const allowedEverywhere = names.every((n) => {
              const allowed = allowedFor(n, specs, unlisted);
              return allowed === 'any' || allowed.has(namespace);
            });
            assert.equal(verdict.allowed, allowedEverywhere, JSON.stringify({ specs, unlisted, host, namespace, verdict }));
          },
        ),
        { numRuns: 2000 },
      );
    });
  });
});
