import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import { hostProblems, metadataProblems, pathProblems, REJECTION_REASONS } from '../controller/api/validate';
import { decodeToJson, encodeJson, messageType, type ProtoJson } from '../controller/envoy/protos';
import { Pipeline, resourceList, type PipelineOutput } from '../controller/pipeline';
import { envoyMatch } from './support/envoy-match';
import { host, jsonCopy, routeConfig, trigger, workload } from './support/fixtures';
import { specMatch, type RuleSet } from './support/k8s-match';
import { pgvViolations } from './support/pgv';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

// Small pools so that generated triggers share hosts and paths and collide often.
const HOSTS = ['a.com', 'b.a.com', '*.a.com', '*.b.a.com', 'x.b.a.com', 'B.A.com', 'c.org'];
const SEGMENTS = ['a', 'aa', 'b', 'a.b', '%2F', 'A'];
const TIMES = ['2024-01-01T00:00:00Z', '2024-01-01T00:00:00.000Z', '2024-02-01T00:00:00Z', '2023-12-31T23:00:00-01:00'];

const pathArb = fc
  .tuple(fc.array(fc.constantFrom(...SEGMENTS), { maxLength: 3 }), fc.boolean())
  .map(([segs, slash]) => `/${segs.join('/')}${slash && segs.length > 0 ? '/' : ''}`);

interface Spec {
  namespace: string;
  name: string;
  host: string;
  paths: [string, string][];
  created?: string;
  timeout?: string;
}

const specArb = (pathTypes: string[]) =>
  fc.record(
    {
      namespace: fc.constantFrom('default', 'team'),
      name: fc.constantFrom('t0', 't1', 't2', 't3', 't4', 't5', 't6', 't7'),
      host: fc.constantFrom(...HOSTS),
      paths: fc.array(fc.tuple(pathArb, fc.constantFrom(...pathTypes)), { minLength: 1, maxLength: 3 }),
      created: fc.constantFrom(...TIMES),
      timeout: fc.constantFrom('300s', '1h30m', '250ms', '0'),
    },
    { requiredKeys: ['namespace', 'name', 'host', 'paths'] },
  );

const toManifest = (s: Spec) => trigger(s.name, { namespace: s.namespace, host: s.host, paths: s.paths, created: s.created, timeout: s.timeout });

/** Lists of triggers with distinct namespace/name (the usual case). */
const uniqueTriggersArb = (pathTypes = ['Exact', 'Prefix']) =>
  fc.uniqueArray(specArb(pathTypes), { maxLength: 10, selector: (s) => `${s.namespace}/${s.name}` });

const run = (triggers: unknown[]): PipelineOutput => new Pipeline().run({ triggers, workloads: [], hosts: [] });

const RUNS = { numRuns: 150 };

describe('properties of the routing core', () => {
  it('does not depend on the order of the input', () => {
    fc.assert(
      fc.property(
        // Duplicate namespace/name allowed here too: the tie-break must not depend on order either.
        fc.array(specArb(['Exact', 'Prefix', 'ImplementationSpecific']), { maxLength: 10 }).chain((specs) =>
          fc.tuple(fc.constant(specs), fc.shuffledSubarray(specs, { minLength: specs.length, maxLength: specs.length })),
        ),
        ([specs, shuffled]) => {
          const a = run(specs.map(toManifest));
          const b = run(shuffled.map(toManifest));
          assert.deepEqual(jsonCopy(resourceList(b.resources)), jsonCopy(resourceList(a.resources)));
          // The list itself, not only its contents: CLI output and status writes must be stable.
          assert.deepEqual(b.diagnostics, a.diagnostics);
        },
      ),
      RUNS,
    );
  });

  it('gives, through one pipeline reused across edits in place (the incremental path), what a fresh pipeline gives', () => {
    const edit = fc.record({ at: fc.nat(), host: fc.constantFrom(...HOSTS), paths: fc.array(fc.tuple(pathArb, fc.constantFrom('Exact', 'Prefix')), { minLength: 1, maxLength: 3 }) });
    fc.assert(
      fc.property(uniqueTriggersArb().filter((specs) => specs.length > 0), fc.array(edit, { minLength: 1, maxLength: 6 }), (specs, edits) => {
        const reused = new Pipeline();
        let current = specs.map(toManifest);
        reused.run({ triggers: current, workloads: [], hosts: [] });
        for (const e of edits) {
          // An edit keeps the trigger's name and creation time, and changes its host or paths (conflicts come and go).
          const i = e.at % specs.length;
          current = current.map((t, j) => (j === i ? toManifest({ ...specs[i], host: e.host, paths: e.paths }) : t));
          const view = (out: PipelineOutput) => ({
            virtualHosts: out.model.virtualHosts.map((v) => [v.host, v.routes.map((r) => [r.trigger.key, r.match.type, r.match.path])]),
            clusters: out.model.clusters.map((c) => c.name),
            diagnostics: out.diagnostics,
            routes: out.resources.routeConfigurations,
          });
          assert.deepEqual(view(reused.run({ triggers: current, workloads: [], hosts: [] })), view(run(current)));
        }
      }),
      RUNS,
    );
  });

  it('gives well-formed route tables: unique matches per virtual host, unique domains, every cluster routed to exists', () => {
    fc.assert(
      fc.property(uniqueTriggersArb(), (specs) => {
        const out = run(specs.map(toManifest));
        const rc = routeConfig(out) as Json;
        const clusters = new Set((out.resources.clusters as Json[]).map((c) => c.name));
        assert.equal(clusters.size, out.resources.clusters.length, 'cluster names are unique');
        assert.deepEqual(new Set((out.resources.clusterLoadAssignments as Json[]).map((a) => a.cluster_name)), clusters);
        const domains = new Set<string>();
        for (const vh of rc.virtual_hosts ?? []) {
          for (const d of vh.domains) {
            assert.ok(!domains.has(d.toLowerCase()), `domain ${d} appears twice`);
            domains.add(d.toLowerCase());
          }
          const matches = new Set<string>();
          for (const r of vh.routes) {
            const key = JSON.stringify(r.match);
            assert.ok(!matches.has(key), `${vh.name}: two routes match ${key}`);
            matches.add(key);
            assert.ok(clusters.has(r.route.cluster), `route to missing cluster ${r.route.cluster}`);
          }
        }
        // Every admitted trigger is routed to, and only admitted ones.
        const routedClusters = new Set((rc.virtual_hosts ?? []).flatMap((vh: Json) => vh.routes.map((r: Json) => r.route.cluster)));
        assert.deepEqual(routedClusters, clusters);
      }),
      RUNS,
    );
  });

  it('gives every skipped trigger exactly one diagnostic (Conflict, UnsupportedPathType or Invalid), and admitted ones none', () => {
    fc.assert(
      fc.property(fc.array(specArb(['Exact', 'Prefix', 'Prefix', 'ImplementationSpecific']), { maxLength: 10 }), (specs) => {
        const out = run(specs.map(toManifest));
        const admitted = new Set(out.model.admitted.map((t) => t.key));
        assert.equal(admitted.size, out.model.admitted.length);
        const keys = specs.map((s) => `${s.namespace}/${s.name}`);
        for (const key of new Set(keys)) {
          const skipped = keys.filter((k) => k === key).length - (admitted.has(key) ? 1 : 0);
          const ds = out.diagnostics.filter((d) => d.trigger === key);
          assert.equal(ds.length, skipped, `${key}: ${JSON.stringify(ds)}`);
          for (const d of ds) assert.ok(REJECTION_REASONS.has(d.reason), d.reason);
        }
      }),
      RUNS,
    );
  });

  it('admits triggers oldest first and skips whoever claims a taken (host, path, pathType), naming an older holder', () => {
    // An independent model of admission, written from the rules.
    const claimKey = (h: string, p: string, t: string) => `${h.toLowerCase()} ${t} ${t === 'Prefix' && p.length > 1 ? p.replace(/\/$/, '') : p}`;
    const time = (s: Spec) => (s.created === undefined ? Infinity : Date.parse(s.created));
    fc.assert(
      fc.property(uniqueTriggersArb(), (specs) => {
        const order = [...specs].sort((a, b) => time(a) - time(b) || (`${a.namespace}/${a.name}` < `${b.namespace}/${b.name}` ? -1 : 1));
        const claims = new Map<string, string>();
        const expected: string[] = [];
        for (const s of order) {
          const mine = s.paths.map(([p, t]) => claimKey(s.host, p, t));
          if (mine.some((k) => claims.has(k))) continue;
          for (const k of mine) claims.set(k, `${s.namespace}/${s.name}`);
          expected.push(`${s.namespace}/${s.name}`);
        }
        const out = run(specs.map(toManifest));
        assert.deepEqual(
          out.model.admitted.map((t) => t.key),
          expected,
        );
        const spec = new Map(specs.map((s) => [`${s.namespace}/${s.name}`, s]));
        for (const d of out.diagnostics) {
          assert.equal(d.reason, 'Conflict');
          const [loser, winner] = [spec.get(d.trigger)!, spec.get(d.winner!)!];
          assert.ok(expected.includes(d.winner!), 'the winner was admitted');
          assert.ok(time(winner) <= time(loser), 'the winner is not younger');
          const theirs = new Set(winner.paths.map(([p, t]) => claimKey(winner.host, p, t)));
          assert.ok(
            loser.paths.some(([p, t]) => theirs.has(claimKey(loser.host, p, t))),
            'the winner holds one of the loser\'s rules',
          );
        }
      }),
      RUNS,
    );
  });

  it('routes every request as the Kubernetes rules say (Envoy matching oracle vs the specification oracle)', () => {
    const requestArb = fc.record({
      host: fc.oneof(fc.constantFrom(...HOSTS.filter((h) => !h.includes('*')), 'z.a.com', 'y.z.b.a.com', 'a.com.', 'com'), fc.constantFrom('q.a.com', 'q.b.a.com')),
      port: fc.option(fc.constantFrom(':80', ':8080'), { nil: undefined }),
      upper: fc.boolean(),
      path: pathArb,
      tail: fc.constantFrom('', 'x', 'ab'),
      query: fc.option(fc.constantFrom('?q=1', '?/a/', '?'), { nil: undefined }),
    });
    fc.assert(
      fc.property(uniqueTriggersArb(), fc.array(requestArb, { minLength: 1, maxLength: 15 }), (specs, requests) => {
        const out = run(specs.map(toManifest));
        const admitted = new Set(out.model.admitted.map((t) => t.key));
        const rules: RuleSet[] = specs
          .filter((s) => admitted.has(`${s.namespace}/${s.name}`))
          .map((s) => ({ trigger: `${s.namespace}/${s.name}`, host: s.host, paths: s.paths.map(([path, pathType]) => ({ path, pathType })) }));
        const rc = routeConfig(out);
        for (const r of requests) {
          const hostHeader = `${r.upper ? r.host.toUpperCase() : r.host}${r.port ?? ''}`;
          const path = `${r.path}${r.tail}${r.query ?? ''}`;
          const got = envoyMatch(rc, { host: hostHeader, path });
          const want = specMatch(rules, hostHeader, path);
          assert.equal(got?.trigger, want?.trigger, `${hostHeader}${path}`);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('emits resources that round-trip through the Envoy protos and break no PGV rule', () => {
    fc.assert(
      fc.property(
        uniqueTriggersArb(['Exact', 'Prefix', 'Bogus']),
        fc.array(fc.tuple(fc.constantFrom('t0', 't1', 't2'), fc.constantFrom('h1', 'h2', 'h3')), { maxLength: 5 }),
        (specs, placements) => {
          const out = new Pipeline({ listenerPort: 10000 }).run({
            triggers: specs.map(toManifest),
            workloads: placements.map(([t, h], i) => workload(`w${i}`, t, h)),
            hosts: [host('h1', { hostname: '10.0.0.1' }), host('h2', { hostname: 'fd00::2', httpPort: 65535 }), host('h3', { hostname: '10.0.0.3', httpPort: 1 })],
          });
          for (const r of resourceList(out.resources) as ProtoJson[]) {
            assertRoundTrip(r);
            assert.deepEqual(pgvViolations(r), [], JSON.stringify(r));
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('rejects or safely uses any name and namespace (both reach cluster names, metadata and the Host rewrite)', () => {
    const text = fc.oneof(
      fc.constantFrom('t', 'a.b', 'x-1', 'A', 'a\nb', 'a b', 'a/b', 'é', '-a', 'a.', 'a'.repeat(64), `${'a'.repeat(63)}.${'b'.repeat(63)}`, 'b'.repeat(254)),
      fc.string({ unit: 'binary', maxLength: 10 }),
      fc.string({ unit: fc.constantFrom('a', 'b', '-', '.', '0'), minLength: 1, maxLength: 8 }),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(text, text), { minLength: 1, maxLength: 4 }), (names) => {
        const out = run(names.map(([namespace, name], i) => trigger(name, { namespace, host: `h${i}.example.com` })));
        assert.equal(out.model.admitted.length + out.diagnostics.filter((d) => REJECTION_REASONS.has(d.reason)).length, names.length);
        for (const t of out.model.admitted) {
          assert.match(t.upstreamHost, /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/, t.upstreamHost);
        }
        for (const r of resourceList(out.resources) as ProtoJson[]) {
          assertRoundTrip(r);
          assert.deepEqual(pgvViolations(r), []);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('never throws on malformed triggers: each becomes a diagnostic, and what is admitted is still valid Envoy config', () => {
    const weird = fc.oneof(
      fc.constant(null),
      fc.constant(undefined),
      fc.constantFrom(0, -1, 1e308, -1e308, 2 ** 53, Number.MAX_SAFE_INTEGER + 2, 0.5, NaN, Infinity),
      fc.boolean(),
      fc.string({ maxLength: 20 }),
      fc.string({ unit: 'binary', maxLength: 12 }),
      fc.constantFrom('x'.repeat(5000), '/'.repeat(300), `/${'a'.repeat(2000)}`, 'a\nb', 'tab\there', '*', '', ' ', '\u0000'),
      fc.array(fc.oneof(fc.string({ maxLength: 5 }), fc.integer()), { maxLength: 3 }),
      fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 3 }),
      fc.constantFrom([], {}, [[]], [{ path: '/', pathType: 'Prefix' }], { path: '/' }, Object.create(null), 10n),
    );
    const fieldPaths = [
      [],
      ['apiVersion'],
      ['kind'],
      ['metadata'],
      ['metadata', 'name'],
      ['metadata', 'namespace'],
      ['metadata', 'creationTimestamp'],
      ['spec'],
      ['spec', 'replicas'],
      ['spec', 'deployPolicy'],
      ['spec', 'timeout'],
      ['spec', 'hostSelector'],
      ['spec', 'ingress'],
      ['spec', 'ingress', 'host'],
      ['spec', 'ingress', 'paths'],
      ['spec', 'ingress', 'paths', '0'],
      ['spec', 'ingress', 'paths', '0', 'path'],
      ['spec', 'ingress', 'paths', '0', 'pathType'],
      ['spec', 'template'],
      ['spec', 'template', 'spec'],
      ['spec', 'template', 'spec', 'components'],
      ['spec', 'template', 'spec', 'components', '0', 'name'],
    ];
    const mutationArb = fc.tuple(fc.constantFrom(...fieldPaths), weird, fc.boolean());
    const malformedArb = fc.tuple(specArb(['Exact', 'Prefix']), fc.array(mutationArb, { minLength: 1, maxLength: 3 })).map(([s, mutations]) => {
      let object: Json = toManifest(s);
      for (const [path, value, remove] of mutations) {
        if (path.length === 0) {
          object = value;
          continue;
        }
        let node = object;
        for (const key of path.slice(0, -1)) {
          if (node === null || typeof node !== 'object') break;
          node = node[key];
        }
        if (node === null || typeof node !== 'object') continue;
        if (remove) delete node[path[path.length - 1]];
        else node[path[path.length - 1]] = value;
      }
      return object;
    });
    fc.assert(
      fc.property(fc.array(fc.oneof(malformedArb, specArb(['Exact', 'Prefix']).map(toManifest)), { maxLength: 8 }), (objects) => {
        let out: PipelineOutput;
        assert.doesNotThrow(() => (out = run(objects)));
        out = out!;
        const skipped = out.diagnostics.filter((d) => REJECTION_REASONS.has(d.reason));
        assert.equal(out.model.admitted.length + skipped.length, objects.length, 'each input is admitted or has one diagnostic');
        for (const d of out.diagnostics) {
          assert.equal(typeof d.message, 'string');
          assert.ok(d.message.length > 0);
          assert.equal(typeof d.trigger, 'string');
        }
        for (const r of resourceList(out.resources) as ProtoJson[]) {
          assertRoundTrip(r);
          assert.deepEqual(pgvViolations(r), [], JSON.stringify(r).slice(0, 2000));
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('properties of the name, host and path checks', () => {
  // The checks take valid values in one regex and explain failures label by label.
  // These oracles are the rules written out plainly; the two must never disagree.
  const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
  const validHost = (host: string) => {
    const labels = host.toLowerCase().split('.');
    const named = labels[0] === '*' ? labels.slice(1) : labels;
    return (
      host.length <= 253 &&
      !/^\d{1,3}(\.\d{1,3}){3}$/.test(host) &&
      named.length > 0 &&
      named.every((l) => l.length <= 63 && DNS_LABEL.test(l))
    );
  };
  const validName = (name: string) => name.length <= 253 && name.split('.').every((l) => l.length <= 63 && DNS_LABEL.test(l));
  const validPath = (path: string) => path.startsWith('/') && !/[?#\s\u0000-\u001f\u007f]/.test(path);
  const text = (units: string[], maxLength: number) =>
    fc.oneof(
      fc.string({ unit: fc.constantFrom(...units), maxLength }),
      // Labels and names around the length limits.
      fc.tuple(fc.integer({ min: 60, max: 66 }), fc.integer({ min: 1, max: 5 })).map(([n, count]) => Array.from({ length: count }, () => 'a'.repeat(n)).join('.')),
    );
  const hostUnits = ['a', 'B', '0', '9', '-', '.', '*', ':', '[', ' ', '\u212a' /* Kelvin sign: lower-cases to k */, 'é'];

  it('hostProblems finds nothing exactly for the hosts Kubernetes IngressRule.host allows', () => {
    fc.assert(
      fc.property(text(hostUnits, 16), (host) => {
        assert.equal(hostProblems(host).length === 0, validHost(host), JSON.stringify(host));
      }),
      { numRuns: 3000 },
    );
  });

  it('metadataProblems finds nothing exactly for a DNS subdomain name in a DNS label namespace', () => {
    const names = text(['a', 'B', '0', '-', '.', ' ', '/', '\u212a'], 12);
    fc.assert(
      fc.property(names, fc.option(names, { nil: undefined }), (name, namespace) => {
        const valid = validName(name) && (namespace === undefined || (namespace.length <= 63 && DNS_LABEL.test(namespace)));
        assert.equal(metadataProblems(namespace, name).length === 0, valid, JSON.stringify([namespace, name]));
      }),
      { numRuns: 3000 },
    );
  });

  it('pathProblems finds nothing exactly for absolute paths without query, fragment, space or control characters', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('/', 'a', '%', '?', '#', ' ', '\t', '\u007f', '\u00a0', '\u2028', 'é', '\ud83d'), maxLength: 10 }), (path) => {
        assert.equal(pathProblems(path, 0).length === 0, validPath(path), JSON.stringify(path));
      }),
      { numRuns: 3000 },
    );
  });
});


function assertRoundTrip(resource: ProtoJson): void {
  const { '@type': typeUrl, ...fields } = resource;
  assert.match(String(typeUrl), /^type\.googleapis\.com\/envoy\./);
  const type = messageType(String(typeUrl));
  assert.deepEqual(decodeToJson(type, encodeJson(type, fields)), jsonCopy(fields));
}
