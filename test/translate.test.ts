import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { decodeToJson, encodeJson, messageType, TypeUrl, type ProtoJson } from '../controller/envoy/protos';
import { apiListener, DEFAULT_VIRTUAL_HOST, METADATA_NAMESPACE, RouteTable, Translator, VHDS_ROUTE_TABLE, virtualHostLookup, virtualHostResource, type EnvoyResource } from '../controller/envoy/translate';
import { packageRoot } from '../controller/package-root';
import { Pipeline, resourceList } from '../controller/pipeline';
import { EndpointsByTrigger } from '../controller/resolve/endpoints';
import { clusterName, resolveRoutes } from '../controller/resolve/resolve';
import { classifyObjects, emptyManifestObjects, loadManifests } from '../controller/sources/manifests';
import { envoyMatch, re2 } from './support/envoy-match';
import { host, jsonCopy, routeConfig, runTriggers, trigger, workload } from './support/fixtures';
import { specMatch, type RuleSet } from './support/k8s-match';
import { pgvViolations, scalarRules } from './support/pgv';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Triggers built from `[name, host, [[path, pathType]...]]`, oldest first in the listed order. */
function triggersOf(rules: [string, string, [string, string][]][]) {
  return rules.map(([name, h, paths], i) => trigger(name, { host: h, paths, created: new Date(Date.UTC(2024, 0, 1, 0, 0, i)).toISOString() }));
}

/** Which trigger Envoy would send the request to (undefined = 404), checked against the spec oracle too. */
function routedTo(rules: [string, string, [string, string][]][], hostHeader: string, requestPath: string): string | undefined {
  const out = runTriggers(triggersOf(rules));
  assert.deepEqual(out.diagnostics, [], 'the table rows are all admissible');
  const envoy = envoyMatch(routeConfig(out), { host: hostHeader, path: requestPath })?.trigger;
  const spec = specMatch(
    rules.map(([name, h, paths]): RuleSet => ({ trigger: `default/${name}`, host: h, paths: paths.map(([p, t]) => ({ path: p, pathType: t })) })),
    hostHeader,
    requestPath,
  )?.trigger;
  assert.equal(envoy, spec, 'the Envoy oracle and the spec oracle agree');
  return envoy?.replace(/^default\//, '');
}

describe('translate: the Kubernetes Ingress documentation examples, end to end through Envoy route matching', () => {
  const H = 'foo.com';
  // [rules (each path in its own HTTPTrigger), request path, expected trigger or undefined for no match]
  const table: [string, [string, string][], string, string | undefined][] = [
    ['Prefix / matches everything', [['/', 'Prefix']], '/anything/at/all', 'r0'],
    ['Prefix / matches /', [['/', 'Prefix']], '/', 'r0'],
    ['Exact /foo matches /foo', [['/foo', 'Exact']], '/foo', 'r0'],
    ['Exact /foo does not match /bar', [['/foo', 'Exact']], '/bar', undefined],
    ['Exact /foo does not match /foo/', [['/foo', 'Exact']], '/foo/', undefined],
    ['Exact /foo/ does not match /foo', [['/foo/', 'Exact']], '/foo', undefined],
    ['Exact is case-sensitive', [['/foo', 'Exact']], '/FOO', undefined],
    ['Prefix /foo matches /foo', [['/foo', 'Prefix']], '/foo', 'r0'],
    ['Prefix /foo matches /foo/', [['/foo', 'Prefix']], '/foo/', 'r0'],
    ['Prefix /foo/ matches /foo', [['/foo/', 'Prefix']], '/foo', 'r0'],
    ['Prefix /foo/ matches /foo/', [['/foo/', 'Prefix']], '/foo/', 'r0'],
    ['Prefix /foo does not match /foobar', [['/foo', 'Prefix']], '/foobar', undefined],
    ['Prefix /aaa/bb does not match /aaa/bbb', [['/aaa/bb', 'Prefix']], '/aaa/bbb', undefined],
    ['Prefix /aaa/bbb matches /aaa/bbb', [['/aaa/bbb', 'Prefix']], '/aaa/bbb', 'r0'],
    ['Prefix /aaa/bbb/ matches /aaa/bbb', [['/aaa/bbb/', 'Prefix']], '/aaa/bbb', 'r0'],
    ['Prefix /aaa/bbb matches /aaa/bbb/', [['/aaa/bbb', 'Prefix']], '/aaa/bbb/', 'r0'],
    ['Prefix /aaa/bbb matches /aaa/bbb/ccc', [['/aaa/bbb', 'Prefix']], '/aaa/bbb/ccc', 'r0'],
    ['Prefix /aaa/bbb does not match /aaa/bbbxyz', [['/aaa/bbb', 'Prefix']], '/aaa/bbbxyz', undefined],
    ['Prefix is case-sensitive', [['/aaa', 'Prefix']], '/AAA/b', undefined],
    ['Prefixes /, /aaa: /aaa/ccc goes to /aaa', [['/', 'Prefix'], ['/aaa', 'Prefix']], '/aaa/ccc', 'r1'],
    ['Prefixes /aaa, / (listed the other way): /aaa/ccc goes to /aaa', [['/aaa', 'Prefix'], ['/', 'Prefix']], '/aaa/ccc', 'r0'],
    ['Prefixes /, /aaa, /aaa/bbb: /aaa/bbb goes to /aaa/bbb', [['/', 'Prefix'], ['/aaa', 'Prefix'], ['/aaa/bbb', 'Prefix']], '/aaa/bbb', 'r2'],
    ['Prefixes /, /aaa, /aaa/bbb: /ccc goes to /', [['/', 'Prefix'], ['/aaa', 'Prefix'], ['/aaa/bbb', 'Prefix']], '/ccc', 'r0'],
    ['Prefixes /, /aaa, /aaa/bbb: /aaa/bbbxyz goes to /aaa', [['/', 'Prefix'], ['/aaa', 'Prefix'], ['/aaa/bbb', 'Prefix']], '/aaa/bbbxyz', 'r1'],
    ['Prefix /aaa does not match /ccc', [['/aaa', 'Prefix']], '/ccc', undefined],
    ['Prefix /foo and Exact /foo: /foo goes to Exact', [['/foo', 'Prefix'], ['/foo', 'Exact']], '/foo', 'r1'],
    ['Exact /foo and Prefix /foo: /foo goes to Exact (other order)', [['/foo', 'Exact'], ['/foo', 'Prefix']], '/foo', 'r0'],
    ['Prefix /foo and Exact /foo: /foo/ goes to Prefix', [['/foo', 'Prefix'], ['/foo', 'Exact']], '/foo/', 'r0'],
    ['Exact /foo/ beats Prefix /foo on /foo/', [['/foo', 'Prefix'], ['/foo/', 'Exact']], '/foo/', 'r1'],
    ['a shorter Exact does not catch a longer path', [['/a', 'Exact'], ['/', 'Prefix']], '/a/b', 'r1'],
    ['Exact ignores the query string', [['/foo', 'Exact']], '/foo?x=1', 'r0'],
    ['Prefix /foo matches /foo?x', [['/foo', 'Prefix']], '/foo?x=1', 'r0'],
    ['Prefix /foo matches /foo/?x', [['/foo', 'Prefix']], '/foo/?x=/y', 'r0'],
    ['Prefix /foo does not match /foobar?x', [['/foo', 'Prefix']], '/foobar?x=/foo/', undefined],
    ['Prefix / matches a query on /', [['/', 'Prefix']], '/?q', 'r0'],
    ['no percent-decoding: Prefix /a%2Fb does not match /a/b', [['/a%2Fb', 'Prefix']], '/a/b', undefined],
    ['no dot-segment normalisation: Prefix /a does not match /b/../a', [['/a', 'Prefix']], '/b/../a', undefined],
  ];
  for (const [what, rules, requestPath, expected] of table) {
    it(what, () => {
      const named = rules.map((r, i): [string, string, [string, string][]] => [`r${i}`, H, [r]]);
      assert.equal(routedTo(named, H, requestPath), expected);
    });
  }

  describe('hosts', () => {
    const W: [string, string, [string, string][]] = ['w', '*.foo.com', [['/', 'Prefix']]];
    const E: [string, string, [string, string][]] = ['e', 'bar.foo.com', [['/', 'Prefix']]];
    // [what, rules, Host header, path, expected trigger or undefined for no match]
    const hosts: [string, [string, string, [string, string][]][], string, string, string | undefined][] = [
      ['*.foo.com matches bar.foo.com', [W], 'bar.foo.com', '/', 'w'],
      ['*.foo.com does not match baz.bar.foo.com (one label only)', [W], 'baz.bar.foo.com', '/', undefined],
      ['*.foo.com does not match foo.com', [W], 'foo.com', '/', undefined],
      ['*.foo.com does not match xfoo.com', [W], 'xfoo.com', '/', undefined],
      ['*.foo.com matches with a port and in another case', [W], 'BAR.Foo.COM:8443', '/', 'w'],
      ['an exact host matches with a port', [['e', 'foo.com', [['/', 'Prefix']]]], 'foo.com:8080', '/', 'e'],
      ['an exact host matches in another case', [['e', 'foo.com', [['/', 'Prefix']]]], 'FOO.com', '/', 'e'],
      ['an exact host written in capitals matches in lower case', [['e', 'FOO.com', [['/', 'Prefix']]]], 'foo.com', '/', 'e'],
      ['an exact host does not match a subdomain', [['e', 'foo.com', [['/', 'Prefix']]]], 'www.foo.com', '/', undefined],
      ['an exact host beats a wildcard', [W, E], 'bar.foo.com', '/', 'e'],
      ['an exact host beats a wildcard (other order)', [E, W], 'bar.foo.com:80', '/x', 'e'],
      ['the wildcard still serves the other labels', [W, E], 'baz.foo.com:80', '/', 'w'],
      ['no fall-through from the exact host to the wildcard', [W, ['e', 'bar.foo.com', [['/api', 'Prefix']]]], 'bar.foo.com', '/other', undefined],
      ['a deeper wildcard takes its own label', [W, ['d', '*.bar.foo.com', [['/', 'Prefix']]]], 'baz.bar.foo.com', '/', 'd'],
      ['two triggers on one host: / goes to the root one', [['root', 'foo.com', [['/', 'Prefix']]], ['api', 'foo.com', [['/api', 'Prefix']]]], 'foo.com', '/', 'root'],
      ['two triggers on one host: /api/v1 goes to the api one', [['root', 'foo.com', [['/', 'Prefix']]], ['api', 'foo.com', [['/api', 'Prefix']]]], 'foo.com', '/api/v1', 'api'],
      ['two triggers on one wildcard host with different paths', [['x', '*.foo.com', [['/x', 'Prefix']]], ['y', '*.foo.com', [['/y', 'Exact']]]], 'a.foo.com', '/y', 'y'],
      ['two triggers on one wildcard host: the one-label rule holds for each', [['x', '*.foo.com', [['/x', 'Prefix']]], ['y', '*.foo.com', [['/y', 'Exact']]]], 'a.b.foo.com', '/y', undefined],
    ];
    for (const [what, rules, hostHeader, requestPath, expected] of hosts) {
      it(what, () => assert.equal(routedTo(rules, hostHeader, requestPath), expected));
    }
  });
});

describe('translate: Envoy resources', () => {
  const two = () => [
    trigger('root', { host: 'hello.example.com', paths: [['/', 'Prefix']] }),
    trigger('api', { namespace: 'team', host: 'hello.example.com', paths: [['/api', 'Prefix'], ['/health', 'Exact']], timeout: '300s' }),
    trigger('wild', { host: '*.example.com', timeout: '250ms' }),
  ];

  it('has one virtual host per distinct host, named <table>/<host> (its VHDS name), and ignores ports in host matching', () => {
    const rc = routeConfig(runTriggers(two())) as Json;
    assert.equal(rc['@type'], TypeUrl.RouteConfiguration);
    assert.equal(rc.ignore_port_in_host_matching, true);
    assert.deepEqual(
      rc.virtual_hosts.map((vh: Json) => [vh.name, vh.domains]),
      [
        ['ingress_http/*.example.com', ['*.example.com']],
        ['ingress_http/hello.example.com', ['hello.example.com']],
      ],
    );
  });

  it('expresses Exact as path, Prefix /x as path + prefix "/x/", and Prefix / as prefix "/" (no path_separated_prefix)', () => {
    const rc = routeConfig(runTriggers(two())) as Json;
    const hello = rc.virtual_hosts.find((vh: Json) => vh.domains[0] === 'hello.example.com');
    assert.deepEqual(
      hello.routes.map((r: Json) => r.match),
      [{ path: '/health' }, { path: '/api' }, { prefix: '/api/' }, { prefix: '/' }],
    );
    assert.ok(!JSON.stringify(rc).includes('path_separated_prefix'));
  });

  it('leaves out the path half of a Prefix when an Exact route on the same path precedes it', () => {
    const out = runTriggers([trigger('p', { paths: [['/foo', 'Prefix']] }), trigger('e', { paths: [['/foo', 'Exact']] })]);
    const routes = (routeConfig(out) as Json).virtual_hosts[0].routes;
    assert.deepEqual(
      routes.map((r: Json) => [r.match, r.metadata.filter_metadata[METADATA_NAMESPACE].trigger]),
      [
        [{ path: '/foo' }, 'default/e'],
        [{ prefix: '/foo/' }, 'default/p'],
      ],
    );
  });

  it('restricts wildcard virtual hosts to one label with an :authority regex, and only those', () => {
    const rc = routeConfig(runTriggers(two())) as Json;
    for (const vh of rc.virtual_hosts) {
      for (const r of vh.routes) {
        if (vh.domains[0].startsWith('*.')) {
          assert.equal(r.match.headers.length, 1);
          assert.equal(r.match.headers[0].name, ':authority');
          const rx = re2(r.match.headers[0].string_match.safe_regex.regex);
          for (const ok of ['a.example.com', 'A-1.Example.COM:8080']) assert.ok(rx.test(ok), ok);
          for (const bad of ['example.com', 'a.b.example.com', '.example.com', 'a.example.com.evil', 'aexample.com', 'a.example.com:']) {
            assert.ok(!rx.test(bad), bad);
          }
        } else {
          assert.equal(r.match.headers, undefined);
        }
      }
    }
  });

  it('gives every route its trigger in metadata, its cluster, the timeout (default 15s) and the Host rewrite', () => {
    const triggers = two();
    const names: [string, string][] = [['root', 'default'], ['api', 'team'], ['wild', 'default']];
    const out = new Pipeline().run({
      triggers,
      workloads: names.map(([name, namespace]) => workload(`w-${name}`, name, 'h', { namespace })),
      hosts: [host('h')],
    });
    const expected: Record<string, { timeout: string; host: string }> = {
      'default/root': { timeout: '15s', host: 'root.default.trigger.internal' },
      'team/api': { timeout: '300s', host: 'api.team.trigger.internal' },
      'default/wild': { timeout: '0.250s', host: 'wild.default.trigger.internal' },
    };
    const seen = new Set<string>();
    for (const vh of (routeConfig(out) as Json).virtual_hosts) {
      for (const r of vh.routes) {
        const key = r.metadata.filter_metadata[METADATA_NAMESPACE].trigger;
        seen.add(key);
        const [namespace, name] = key.split('/');
        assert.equal(r.route.cluster, clusterName({ namespace, name }));
        assert.equal(r.route.timeout, expected[key].timeout);
        // Host becomes the trigger's identity: the hostname every endpoint of its cluster carries.
        assert.equal(r.route.auto_host_rewrite, true);
        assert.equal(r.route.append_x_forwarded_host, true);
        const assignment = out.resources.clusterLoadAssignments.find((c) => c.cluster_name === r.route.cluster) as Json;
        assert.deepEqual(
          assignment.endpoints[0].lb_endpoints.map((e: Json) => e.endpoint.hostname),
          [expected[key].host],
        );
      }
    }
    assert.deepEqual([...seen].sort(), Object.keys(expected).sort());
  });

  it('writes timeout "0" as 0s (no timeout) and 1h30m as 5400s', () => {
    const out = runTriggers([trigger('z', { host: 'z.example.com', timeout: '0' }), trigger('l', { host: 'l.example.com', timeout: '1h30m' })]);
    const timeouts = (routeConfig(out) as Json).virtual_hosts.map((vh: Json) => vh.routes[0].route.timeout);
    assert.deepEqual(timeouts, ['5400s', '0s']);
  });

  it('has one EDS cluster per admitted trigger over ADS, round robin, with a connect timeout and outlier detection', () => {
    const out = runTriggers([...two(), trigger('zz-loser', { host: 'hello.example.com', paths: [['/', 'Prefix']] })]);
    const clusters = out.resources.clusters as Json[];
    assert.deepEqual(
      clusters.map((c) => c.name).sort(),
      ['default/root', 'team/api', 'default/wild'].map((k) => clusterName({ namespace: k.split('/')[0], name: k.split('/')[1] })).sort(),
    );
    for (const c of clusters) {
      assert.equal(c['@type'], TypeUrl.Cluster);
      assert.equal(c.type, 'EDS');
      assert.deepEqual(c.eds_cluster_config.eds_config.ads, {});
      assert.ok(c.lb_policy === undefined || c.lb_policy === 'ROUND_ROBIN', c.lb_policy);
      assert.match(c.connect_timeout, /^\d+(\.\d+)?s$/);
      assert.notEqual(parseFloat(c.connect_timeout), 0);
      // Gateway errors only: Envoy (and gRPC) enforce success-rate ejection unless it is set to 0.
      assert.equal(c.outlier_detection.enforcing_consecutive_gateway_failure, 100);
      assert.equal(c.outlier_detection.enforcing_consecutive_5xx, 0);
      assert.equal(c.outlier_detection.enforcing_success_rate, 0);
    }
  });

  it('assigns endpoints in one locality {} with load_balancing_weight 1, and none when nothing is Ready', () => {
    const out = new Pipeline().run({
      triggers: two(),
      workloads: [workload('w1', 'root', 'h1'), workload('w2', 'root', 'h2'), workload('w3', 'api', 'h1', { namespace: 'team' })],
      hosts: [host('h1', { hostname: '10.0.0.1', httpPort: 9191 }), host('h2', { hostname: '10.0.0.2', httpPort: 9292 })],
    });
    const byName = new Map((out.resources.clusterLoadAssignments as Json[]).map((a) => [a.cluster_name, a]));
    assert.deepEqual(new Set(byName.keys()), new Set((out.resources.clusters as Json[]).map((c) => c.name)));
    const root = byName.get(clusterName({ namespace: 'default', name: 'root' }));
    assert.equal(root['@type'], TypeUrl.ClusterLoadAssignment);
    assert.equal(root.endpoints.length, 1);
    assert.deepEqual(root.endpoints[0].locality, {});
    assert.equal(root.endpoints[0].load_balancing_weight, 1);
    assert.deepEqual(
      root.endpoints[0].lb_endpoints.map((e: Json) => e.endpoint.address.socket_address),
      [
        { address: '10.0.0.1', port_value: 9191 },
        { address: '10.0.0.2', port_value: 9292 },
      ],
    );
    assert.equal(byName.get(clusterName({ namespace: 'team', name: 'api' })).endpoints[0].lb_endpoints.length, 1);
    assert.equal(byName.get(clusterName({ namespace: 'default', name: 'wild' })).endpoints, undefined);
  });

  it('has one listener on 0.0.0.0:8080 whose connection manager reads the route configuration over ADS and ends with the router', () => {
    const out = runTriggers(two());
    assert.equal(out.resources.listeners.length, 1);
    const l = out.resources.listeners[0] as Json;
    assert.equal(l['@type'], TypeUrl.Listener);
    assert.deepEqual(l.address.socket_address, { address: '0.0.0.0', port_value: 8080 });
    const filters = l.filter_chains.flatMap((fc: Json) => fc.filters);
    assert.equal(filters.length, 1);
    const hcm = filters[0].typed_config;
    assert.match(hcm['@type'], /HttpConnectionManager$/);
    assert.equal(typeof hcm.stat_prefix, 'string');
    assert.ok(hcm.stat_prefix.length > 0);
    assert.deepEqual(hcm.rds.config_source.ads, {});
    assert.equal(hcm.rds.route_config_name, (routeConfig(out) as Json).name);
    assert.equal(hcm.http_filters.at(-1).typed_config['@type'], 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router');
  });

  it('binds the listener where told', () => {
    const out = new Pipeline({ listenerAddress: '127.0.0.1', listenerPort: 10080 }).run({ triggers: two(), workloads: [], hosts: [] });
    assert.deepEqual((out.resources.listeners[0] as Json).address.socket_address, { address: '127.0.0.1', port_value: 10080 });
  });

  it('emits no virtual host, cluster or assignment when no trigger is admitted, and the empty route table still round-trips', () => {
    const out = runTriggers([trigger('bad', { host: '*' })]);
    assert.deepEqual(out.resources.clusters, []);
    assert.deepEqual(out.resources.clusterLoadAssignments, []);
    const rc = routeConfig(out);
    assert.equal((rc as Json).virtual_hosts, undefined, 'an empty repeated field is left out, like every other default');
    assertRoundTrips(rc);
  });
});

/** Encodes with the controller's encoder, decodes with protobufjs, and compares. */
export function assertRoundTrips(resource: ProtoJson): void {
  const { '@type': typeUrl, ...fields } = resource;
  assert.equal(typeof typeUrl, 'string');
  const type = messageType(typeUrl as string);
  assert.deepEqual(decodeToJson(type, encodeJson(type, fields)), jsonCopy(fields));
}

describe('translate: reuse across calls', () => {
  const base = () => [
    trigger('a', { host: 'a.example.com' }),
    trigger('b', { host: 'b.example.com', paths: [['/b', 'Prefix']] }),
    trigger('b2', { host: 'b.example.com', paths: [['/b2', 'Prefix']] }),
    trigger('c', { host: 'c.example.com' }),
  ];

  for (const via of ['Pipeline', 'Resolver + Translator'] as const) {
    it(`after one trigger changes, unchanged virtual hosts, clusters and assignments are the same objects (${via})`, () => {
      const run = (() => {
        if (via === 'Pipeline') {
          const p = new Pipeline();
          return (triggers: unknown[]) => p.run({ triggers, workloads: [], hosts: [] }).envoy;
        }
        const { Resolver } = require('../controller/resolve/resolve') as typeof import('../controller/resolve/resolve');
        const r = new Resolver();
        const t = new Translator();
        return (triggers: unknown[]) => t.translate(r.resolve({ triggers, endpoints: new EndpointsByTrigger() }));
      })();
      const triggers = base();
      const first = run(triggers);
      const next = [...triggers];
      next[1] = trigger('b', { host: 'b.example.com', paths: [['/bee', 'Prefix']] });
      const second = run(next);
      const vhs = (r: typeof first) => new Map((r.routeConfigurations[0] as RouteTable).virtualHosts.map((v) => [v.host, v]));
      const [v1, v2] = [vhs(first), vhs(second)];
      assert.equal(v2.get('a.example.com'), v1.get('a.example.com'));
      assert.equal(v2.get('c.example.com'), v1.get('c.example.com'));
      assert.notEqual(v2.get('b.example.com'), v1.get('b.example.com'));
      assert.ok(JSON.stringify(v2.get('b.example.com')!.toJson()).includes('/bee/'));
      const byName = (list: EnvoyResource[]) => new Map(list.map((x) => [x.name, x]));
      for (const kind of ['clusters', 'clusterLoadAssignments'] as const) {
        const [c1, c2] = [byName(first[kind]), byName(second[kind])];
        // Clusters and assignments depend on the trigger's name and endpoints only, so even
        // the changed trigger's (same name, no endpoints) are reused.
        for (const n of ['a', 'b', 'b2', 'c']) assert.equal(c2.get(clusterName({ namespace: 'default', name: n })), c1.get(clusterName({ namespace: 'default', name: n })), `${kind} ${n}`);
      }
      assert.equal(second.listeners[0], first.listeners[0]);
    });
  }

  it('reuses unchanged virtual hosts, clusters and assignments when an addition shifts every position', () => {
    const p = new Pipeline();
    const triggers = base();
    const first = p.run({ triggers, workloads: [], hosts: [] }).envoy;
    // Sorts before every other host and cluster name.
    const second = p.run({ triggers: [trigger('0', { host: '0.example.com' }), ...triggers], workloads: [], hosts: [] }).envoy;
    const [t1, t2] = [first, second].map((r) => (r.routeConfigurations[0] as RouteTable).virtualHosts);
    assert.equal(t2[0].host, '0.example.com');
    assert.deepEqual(
      t2.slice(1).map((vh, i) => vh === t1[i]),
      t1.map(() => true),
    );
    for (const kind of ['clusters', 'clusterLoadAssignments'] as const) {
      assert.equal(second[kind].length, first[kind].length + 1);
      assert.ok(second[kind].slice(1).every((r, i) => r === first[kind][i]), kind);
    }
  });

  it('gives the same resources as a fresh pipeline after several changes', () => {
    const p = new Pipeline();
    p.run({ triggers: base(), workloads: [], hosts: [] });
    const next = base();
    next[0] = trigger('a', { host: 'b.example.com', paths: [['/b', 'Prefix']], created: '2000-01-01T00:00:00Z' });
    const reused = p.run({ triggers: next, workloads: [workload('w', 'c', 'h')], hosts: [host('h')] });
    const fresh = new Pipeline().run({ triggers: next, workloads: [workload('w', 'c', 'h')], hosts: [host('h')] });
    assert.deepEqual(jsonCopy(resourceList(reused.resources)), jsonCopy(resourceList(fresh.resources)));
    assert.deepEqual(reused.diagnostics, fresh.diagnostics);
  });
});

describe('translate: the product documentation examples (examples/)', () => {
  const examples = path.join(packageRoot(), 'examples');

  it('routes hello-world and api on one host, blobby on its own, with the local hosts as endpoints and no diagnostics', () => {
    const objects = loadManifests([examples]);
    assert.deepEqual(objects.diagnostics, []);
    assert.equal(objects.workloadDeployments.length, 2, 'task-worker and index-service are WorkloadDeployments');
    const out = new Pipeline().run(objects);
    assert.deepEqual(out.diagnostics, []);
    const rc = routeConfig(out);
    const to = (h: string, p: string) => envoyMatch(rc, { host: h, path: p })?.trigger;
    assert.equal(to('hello.localhost.cosmonic.sh', '/'), 'default/example');
    assert.equal(to('hello.localhost.cosmonic.sh:8080', '/api'), 'default/api');
    assert.equal(to('hello.localhost.cosmonic.sh', '/api/items?x=1'), 'default/api');
    assert.equal(to('hello.localhost.cosmonic.sh', '/apis'), 'default/example');
    assert.equal(to('blobby.wasmworkloads.io', '/any/blob'), 'default/blobby');
    assert.equal(to('other.example.com', '/'), undefined);
    const api = (rc as Json).virtual_hosts.flatMap((vh: Json) => vh.routes).find((r: Json) => r.route.cluster === clusterName({ namespace: 'default', name: 'api' }));
    assert.equal(api.route.timeout, '300s');
    const endpoints = new Map(
      (out.resources.clusterLoadAssignments as Json[]).map((a) => [
        a.cluster_name,
        (a.endpoints ?? []).flatMap((l: Json) => l.lb_endpoints.map((e: Json) => `${e.endpoint.address.socket_address.address}:${e.endpoint.address.socket_address.port_value}`)),
      ]),
    );
    assert.deepEqual(endpoints.get(clusterName({ namespace: 'default', name: 'example' })), ['127.0.0.1:9191', '127.0.0.1:9192']);
    assert.deepEqual(endpoints.get(clusterName({ namespace: 'default', name: 'api' })), ['127.0.0.1:9191']);
    assert.deepEqual(endpoints.get(clusterName({ namespace: 'default', name: 'blobby' })), []);
  });

  it('gives resources that round-trip through the Envoy protos and break no PGV rule', () => {
    const out = new Pipeline().run(loadManifests([examples]));
    const resources = resourceList(out.resources) as ProtoJson[];
    assert.equal(resources.length, 3 + 3 + 1 + 1);
    for (const r of resources) {
      assertRoundTrips(r);
      assert.deepEqual(pgvViolations(r), [], JSON.stringify(r));
    }
    // What delta clients get instead of the table: the VHDS table, the default virtual host and each trigger host's.
    const table = out.envoy.routeConfigurations[0] as RouteTable;
    for (const r of [VHDS_ROUTE_TABLE, DEFAULT_VIRTUAL_HOST, ...table.virtualHosts.map(virtualHostResource)].map((x) => x.toJson())) {
      assertRoundTrips(r);
      assert.deepEqual(pgvViolations(r), [], JSON.stringify(r));
    }
  });

  it('explains an OAM application instead of ignoring it, and passes over kinds it does not use', () => {
    const objects = classifyObjects(
      'app.yaml',
      [
        { apiVersion: 'core.oam.dev/v1beta1', kind: 'Application', metadata: { name: 'hello' }, spec: { components: [] } },
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm' }, data: {} },
        { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' } },
        { apiVersion: 'runtime.wasmcloud.dev/v1alpha1', kind: 'Artifact', metadata: { name: 'a' } },
      ],
      emptyManifestObjects(),
    );
    assert.equal(objects.diagnostics.length, 1);
    const [d] = objects.diagnostics;
    assert.equal(d.file, 'app.yaml');
    assert.equal(d.reason, 'Unsupported');
    assert.match(d.message, /OAM application/);
    assert.match(d.message, /HTTPTrigger/);
    assert.match(d.message, /WorkloadDeployment/);
    assert.deepEqual([objects.triggers.length, objects.workloads.length, objects.hosts.length, objects.workloadDeployments.length], [0, 0, 0, 0]);
  });

  it('skips a runtime object that breaks its schema with a diagnostic naming it, and keeps the rest', () => {
    const objects = classifyObjects('hosts.yaml', [
      { apiVersion: 'runtime.wasmcloud.dev/v1alpha1', kind: 'Host', metadata: { name: 'bad' }, hostname: '10.0.0.1' },
      host('good'),
    ]);
    assert.deepEqual(
      objects.hosts.map((h) => h.hostId),
      ['good'],
    );
    assert.equal(objects.diagnostics.length, 1);
    assert.match(objects.diagnostics[0].message, /Host default\/bad.*hostId: required/);
  });
});

describe('PGV checker (test support)', () => {
  const valid = () => jsonCopy(resourceList(runTriggers([trigger('t', { host: '*.example.com' })]).resources)) as Json[];
  const ofType = (list: Json[], url: string) => list.find((r) => r['@type'] === url);

  it('finds nothing wrong in a translated set of resources', () => {
    for (const r of valid()) assert.deepEqual(pgvViolations(r), []);
  });

  it('catches an empty stat_prefix inside the listener\'s Any-typed connection manager', () => {
    const l = ofType(valid(), TypeUrl.Listener);
    l.filter_chains[0].filters[0].typed_config.stat_prefix = '';
    const v = pgvViolations(l);
    assert.equal(v.length, 1, JSON.stringify(v));
    assert.equal(v[0].rule, 'string.min_len');
    assert.match(v[0].field, /filter_chains\[0\]\.filters\[0\]\.typed_config<.*HttpConnectionManager>\.stat_prefix$/);
  });

  it('catches a missing required oneof, a port out of range, a zero weight and a non-positive connect timeout', () => {
    const rs = valid();
    const rc = ofType(rs, TypeUrl.RouteConfiguration);
    delete rc.virtual_hosts[0].routes[0].route.cluster;
    assert.deepEqual(
      pgvViolations(rc).map((v) => v.rule),
      ['oneof.required'],
    );
    const l = ofType(rs, TypeUrl.Listener);
    l.address.socket_address.port_value = 70000;
    assert.deepEqual(
      pgvViolations(l).map((v) => v.rule),
      ['uint32.lte'],
    );
    const c = ofType(rs, TypeUrl.Cluster);
    c.connect_timeout = '0s';
    assert.deepEqual(
      pgvViolations(c).map((v) => v.rule),
      ['duration.gt'],
    );
    const cla = { '@type': TypeUrl.ClusterLoadAssignment, cluster_name: 'x', endpoints: [{ locality: {}, load_balancing_weight: 0 }] };
    assert.deepEqual(
      pgvViolations(cla).map((v) => v.rule),
      ['uint32.gte'],
    );
  });

  it('catches a domain or Host rewrite with a newline, an empty virtual host and an empty cluster_name', () => {
    const rc = ofType(valid(), TypeUrl.RouteConfiguration);
    rc.virtual_hosts[0].routes[0].route.host_rewrite_literal = 'a\nb';
    rc.virtual_hosts.push({ name: 'x', domains: [] });
    const rules = pgvViolations(rc).map((v) => `${v.field} ${v.rule}`);
    assert.deepEqual(rules.sort(), ['virtual_hosts[0].routes[0].route.host_rewrite_literal string.well_known_regex', 'virtual_hosts[1].domains repeated.min_items'].sort());
    assert.deepEqual(
      pgvViolations({ '@type': TypeUrl.ClusterLoadAssignment }).map((v) => v.rule),
      ['string.min_len'],
    );
  });

  it('applies the string and number rules it models, as PGV defines them', () => {
    const rules = (kind: string, r: Record<string, unknown>, value: unknown) => scalarRules(kind, r, value, undefined, 'f').map((v) => v.rule);
    assert.deepEqual(rules('string', { prefix: '/' }, 'x'), ['string.prefix']);
    assert.deepEqual(rules('string', { prefix: '/' }, '/x'), []);
    assert.deepEqual(rules('string', { min_bytes: 3 }, 'é'), ['string.min_bytes']);
    assert.deepEqual(rules('string', { max_len: 1 }, 'é'), [], 'max_len counts characters, not bytes');
    assert.deepEqual(rules('string', { min_len: 1, ignore_empty: true }, ''), []);
    assert.deepEqual(rules('string', { well_known_regex: 'HTTP_HEADER_NAME' }, 'x y'), ['string.well_known_regex']);
    assert.deepEqual(rules('string', { well_known_regex: 'HTTP_HEADER_NAME', strict: false }, 'x y'), []);
    assert.deepEqual(rules('string', { well_known_regex: 'HTTP_HEADER_VALUE' }, 'a\u0001'), ['string.well_known_regex']);
    assert.deepEqual(rules('string', { pattern: '^[^?#]+[^?#/]$' }, '/a/'), ['string.pattern']);
    assert.deepEqual(rules('uint32', { gt: 0, lte: 10 }, 0), ['uint32.gt']);
    assert.deepEqual(rules('uint32', { gt: 0, lte: 10 }, 11), ['uint32.lte']);
    assert.deepEqual(rules('uint32', { gt: 0, lte: 10 }, 5), []);
    assert.deepEqual(rules('string', { hostname: true }, 'x'), ['string.hostname'], 'an unmodelled rule is reported, not ignored');
  });

  it('catches an undefined enum value', () => {
    const c = ofType(valid(), TypeUrl.Cluster);
    c.lb_policy = 99;
    assert.deepEqual(
      pgvViolations(c).map((v) => v.rule),
      ['enum.defined_only'],
    );
  });
});

describe('resolveRoutes + Translator', () => {
  it('translates a model without the pipeline (resolver and translator are usable alone)', () => {
    const model = resolveRoutes({ triggers: [trigger('t')], endpoints: new EndpointsByTrigger() });
    const res = new Translator().translate(model);
    assert.equal(res.clusters.length, 1);
    assert.equal((res.routeConfigurations[0] as RouteTable).virtualHosts.length, 1);
  });
});

describe('translate: options', () => {
  it('refuses a listener port Envoy would reject, naming it', () => {
    assert.throws(() => new Translator({ listenerPort: 70000 }), /listener port 70000 is not a TCP port/);
    assert.throws(() => new Translator({ listenerPort: 0 }), /listener port 0/);
    assert.throws(() => new Translator({ listenerAddress: ' ' }), /listener address is empty/);
    assert.doesNotThrow(() => new Translator({ listenerPort: 65535, listenerAddress: '::' }));
  });
});

describe('translate: proxyless gRPC listeners', () => {
  const table = runTriggers([
    trigger('a', { host: 'a.example.com' }),
    trigger('any', { host: '*.example.com' }),
    trigger('any-b', { host: '*.b.example.com' }),
  ]).envoy.routeConfigurations[0];

  it('picks the virtual host Envoy would: exact, else the longest wildcard; port and case ignored', () => {
    const lookup = virtualHostLookup(table);
    assert.equal(lookup('a.example.com')?.host, 'a.example.com');
    assert.equal(lookup('A.Example.COM:443')?.host, 'a.example.com');
    assert.equal(lookup('x.example.com')?.host, '*.example.com');
    assert.equal(lookup('x.b.example.com')?.host, '*.b.example.com');
    assert.equal(lookup('example.com'), undefined);
    assert.equal(lookup('a.example.org'), undefined);
  });

  it('carries only that virtual host, inline, in an api_listener that round-trips through the Envoy protos', () => {
    const json = apiListener('x.example.com', virtualHostLookup(table)('x.example.com'));
    const { '@type': type, ...fields } = json;
    assert.equal(type, 'type.googleapis.com/envoy.config.listener.v3.Listener');
    assert.deepEqual(decodeToJson(messageType(type as string), encodeJson(messageType(type as string), fields)), fields);
    const hcm = (fields.api_listener as { api_listener: { route_config: { virtual_hosts: { name: string }[] }; http_filters: { name: string }[] } }).api_listener;
    assert.deepEqual(hcm.route_config.virtual_hosts.map((v) => v.name), ['ingress_http/*.example.com']);
    assert.equal(hcm.http_filters.at(-1)!.name, 'envoy.filters.http.router');
    const none = apiListener('nowhere.test', undefined) as { api_listener: { api_listener: { route_config: object } } };
    assert.deepEqual(Object.keys(none.api_listener.api_listener.route_config).sort(), ['ignore_port_in_host_matching', 'name']);
  });
});
