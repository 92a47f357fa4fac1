import * as assert from 'node:assert/strict';
import { EndpointsByTrigger, triggerEndpoints } from '../controller/resolve/endpoints';
import { clusterName, resolveRoutes, Resolver } from '../controller/resolve/resolve';
import { host, trigger, workload } from './support/fixtures';

const NO_ENDPOINTS = new EndpointsByTrigger();
const resolve = (triggers: unknown[]) => resolveRoutes({ triggers, endpoints: NO_ENDPOINTS });
const admittedKeys = (triggers: unknown[]) => resolve(triggers).admitted.map((t) => t.key);

describe('resolve: conflicts', () => {
  const older = trigger('zeta', { created: '2024-01-01T00:00:00Z', paths: [['/foo', 'Prefix']] });
  const newer = trigger('alpha', { created: '2024-06-01T00:00:00Z', paths: [['/foo', 'Prefix']] });

  it('admits the oldest creationTimestamp, whatever the input order and the names', () => {
    assert.deepEqual(admittedKeys([older, newer]), ['default/zeta']);
    assert.deepEqual(admittedKeys([newer, older]), ['default/zeta']);
  });

  it('breaks a timestamp tie by the namespace/name string', () => {
    const a = trigger('b', { namespace: 'a', created: '2024-01-01T00:00:00Z' });
    const b = trigger('a', { namespace: 'b', created: '2024-01-01T00:00:00Z' });
    assert.deepEqual(admittedKeys([b, a]), ['a/b']);
    assert.deepEqual(admittedKeys([a, b]), ['a/b']);
  });

  it('sorts triggers without a creationTimestamp after those with one', () => {
    const undated = trigger('aaa');
    const dated = trigger('zzz', { created: '2030-01-01T00:00:00Z' });
    assert.deepEqual(admittedKeys([undated, dated]), ['default/zzz']);
  });

  it('compares times, not strings (fractional seconds and offsets)', () => {
    const a = trigger('a', { created: '2024-01-01T01:00:00+02:00' }); // 23:00 the day before, UTC
    const b = trigger('b', { created: '2023-12-31T23:30:00.5Z' });
    assert.deepEqual(admittedKeys([b, a]), ['default/a']);
  });

  it('skips the loser whole, with one Conflict diagnostic that names the winner', () => {
    const loser = trigger('alpha', { created: '2024-06-01T00:00:00Z', paths: [['/foo', 'Prefix'], ['/only-mine', 'Exact']] });
    const model = resolve([loser, older]);
    assert.deepEqual(model.diagnostics.length, 1);
    const [d] = model.diagnostics;
    assert.equal(d.trigger, 'default/alpha');
    assert.equal(d.reason, 'Conflict');
    assert.equal(d.winner, 'default/zeta');
    assert.match(d.message, /default\/zeta/);
    assert.match(d.message, /\/foo/);
    const routed = model.virtualHosts.flatMap((vh) => vh.routes.map((r) => r.match.path));
    assert.ok(!routed.includes('/only-mine'), 'the non-conflicting path of the loser is not routed either');
    assert.equal(model.clusters.length, 1);
  });

  it('lets a later trigger take a path that only a skipped trigger had claimed', () => {
    const a = trigger('a', { created: '2024-01-01T00:00:00Z', paths: [['/x', 'Prefix']] });
    const b = trigger('b', { created: '2024-01-02T00:00:00Z', paths: [['/x', 'Prefix'], ['/y', 'Prefix']] });
    const c = trigger('c', { created: '2024-01-03T00:00:00Z', paths: [['/y', 'Prefix']] });
    assert.deepEqual(admittedKeys([c, b, a]), ['default/a', 'default/c']);
  });

  it('treats Prefix /foo and Prefix /foo/ as the same rule (trailing "/" is ignored for Prefix)', () => {
    const a = trigger('a', { created: '2024-01-01T00:00:00Z', paths: [['/foo/', 'Prefix']] });
    const b = trigger('b', { created: '2024-01-02T00:00:00Z', paths: [['/foo', 'Prefix']] });
    const model = resolve([b, a]);
    assert.deepEqual(
      model.diagnostics.map((d) => [d.trigger, d.reason, d.winner]),
      [['default/b', 'Conflict', 'default/a']],
    );
  });

  it('does not treat Exact /foo and Exact /foo/ as the same rule', () => {
    const a = trigger('a', { paths: [['/foo/', 'Exact']] });
    const b = trigger('b', { paths: [['/foo', 'Exact']] });
    assert.deepEqual(admittedKeys([a, b]), ['default/a', 'default/b']);
  });

  it('does not treat Exact /foo and Prefix /foo as a conflict', () => {
    const a = trigger('a', { paths: [['/foo', 'Exact']] });
    const b = trigger('b', { paths: [['/foo', 'Prefix']] });
    const model = resolve([a, b]);
    assert.deepEqual(model.diagnostics, []);
    assert.equal(model.admitted.length, 2);
  });

  it('compares hosts case-insensitively', () => {
    const a = trigger('a', { host: 'Example.COM', created: '2024-01-01T00:00:00Z' });
    const b = trigger('b', { host: 'example.com', created: '2024-01-02T00:00:00Z' });
    assert.deepEqual(
      resolve([b, a]).diagnostics.map((d) => [d.trigger, d.reason]),
      [['default/b', 'Conflict']],
    );
  });

  it('lets the same path live on different hosts, and on an exact host and a wildcard over it', () => {
    const ts = [trigger('a', { host: 'a.example.com' }), trigger('b', { host: 'b.example.com' }), trigger('w', { host: '*.example.com' })];
    const model = resolve(ts);
    assert.deepEqual(model.diagnostics, []);
    assert.deepEqual(
      model.virtualHosts.map((vh) => vh.host),
      ['*.example.com', 'a.example.com', 'b.example.com'],
    );
  });

  it('reports a namespace/name defined twice once, keeping the oldest definition', () => {
    const first = trigger('dup', { created: '2024-01-01T00:00:00Z', host: 'one.example.com' });
    const second = trigger('dup', { created: '2024-01-02T00:00:00Z', host: 'two.example.com' });
    const model = resolve([second, first]);
    assert.deepEqual(
      model.admitted.map((t) => t.host),
      ['one.example.com'],
    );
    assert.deepEqual(
      model.diagnostics.map((d) => [d.trigger, d.reason]),
      [['default/dup', 'Invalid']],
    );
  });
});

describe('resolve: the routing model', () => {
  it('puts Exact routes first, then Prefix routes longest first, "/" last', () => {
    const model = resolve([
      trigger('a', { paths: [['/', 'Prefix'], ['/aaa', 'Prefix']] }),
      trigger('b', { paths: [['/aaa/bbb', 'Prefix'], ['/z', 'Exact']] }),
      trigger('c', { paths: [['/aaa/bbb/ccc', 'Exact'], ['/bb', 'Prefix']] }),
    ]);
    assert.equal(model.virtualHosts.length, 1);
    assert.deepEqual(
      model.virtualHosts[0].routes.map((r) => `${r.match.type} ${r.match.path}`),
      ['Exact /aaa/bbb/ccc', 'Exact /z', 'Prefix /aaa/bbb', 'Prefix /aaa', 'Prefix /bb', 'Prefix /'],
    );
  });

  it('gives each admitted trigger one cluster named after it, sorted by name, with its endpoints', () => {
    const endpoints = EndpointsByTrigger.of([['ns/b', [{ address: '10.0.0.2', port: 80, hostId: 'h' }]]]);
    const model = resolveRoutes({ triggers: [trigger('b', { namespace: 'ns', host: 'b.example.com' }), trigger('a', { namespace: 'ns' })], endpoints });
    assert.deepEqual(
      model.clusters.map((c) => [c.name, c.endpoints.length]),
      [
        [clusterName({ namespace: 'ns', name: 'a' }), 0],
        [clusterName({ namespace: 'ns', name: 'b' }), 1],
      ],
    );
    for (const vh of model.virtualHosts) for (const r of vh.routes) assert.equal(r.cluster, clusterName(r.trigger));
  });
});

describe('resolve: endpoints of a trigger', () => {
  it('maps a Ready workload on a Ready host to hostname:httpPort', () => {
    const r = triggerEndpoints([workload('w1', 'hello', 'h1')], [host('h1', { hostname: '10.1.1.1', httpPort: 8000 })]);
    assert.deepEqual(r.byTrigger.get('default', 'hello'), [{ address: '10.1.1.1', port: 8000, hostId: 'h1' }]);
    assert.deepEqual(r.diagnostics, []);
  });

  it('keys endpoints by the workload namespace and the trigger label', () => {
    const r = triggerEndpoints([workload('w1', 'hello', 'h1', { namespace: 'team' })], [host('h1')]);
    assert.deepEqual(r.byTrigger.keys(), ['team/hello']);
  });

  const none: [string, Parameters<typeof triggerEndpoints>][] = [
    ['a workload that is not Ready', [[workload('w', 't', 'h1', { ready: false })], [host('h1')]]],
    ['a host that is not Ready', [[workload('w', 't', 'h1')], [host('h1', { ready: false })]]],
    ['an unknown host', [[workload('w', 't', 'nowhere')], [host('h1')]]],
    ['a workload without the trigger label', [[{ ...workload('w', 't', 'h1'), metadata: { name: 'w', namespace: 'default' } }], [host('h1')]]],
    ['a workload not placed yet', [[{ ...workload('w', 't', 'h1'), status: { conditions: [{ type: 'Ready', status: 'True' }] } }], [host('h1')]]],
  ];
  for (const [what, args] of none) {
    it(`gives no endpoint and no diagnostic for ${what}`, () => {
      const r = triggerEndpoints(...args);
      assert.equal(r.byTrigger.keys().length, 0);
      assert.deepEqual(r.diagnostics, []);
    });
  }

  it('ignores a host whose hostname is not an IP, with an EndpointIgnored diagnostic naming the workload and host', () => {
    const r = triggerEndpoints([workload('w1', 't', 'h1')], [host('h1', { hostname: 'node-1.cluster.local' })]);
    assert.equal(r.byTrigger.keys().length, 0);
    assert.equal(r.diagnostics.length, 1);
    assert.equal(r.diagnostics[0].reason, 'EndpointIgnored');
    assert.equal(r.diagnostics[0].trigger, 'default/t');
    assert.match(r.diagnostics[0].message, /default\/w1/);
    assert.match(r.diagnostics[0].message, /node-1\.cluster\.local.*not an IP/);
  });

  it('ignores a host without an HTTP port, with an EndpointIgnored diagnostic', () => {
    const r = triggerEndpoints([workload('w1', 't', 'h1')], [host('h1', { httpPort: undefined })]);
    assert.equal(r.byTrigger.keys().length, 0);
    assert.deepEqual(
      r.diagnostics.map((d) => d.reason),
      ['EndpointIgnored'],
    );
    assert.match(r.diagnostics[0].message, /no HTTP port/);
  });

  it('accepts IPv6 host addresses', () => {
    const r = triggerEndpoints([workload('w1', 't', 'h1')], [host('h1', { hostname: 'fd00::1' })]);
    assert.deepEqual(r.byTrigger.get('default', 't'), [{ address: 'fd00::1', port: 9191, hostId: 'h1' }]);
  });

  it('dedupes two workloads on one host and sorts by address then port', () => {
    const r = triggerEndpoints(
      [workload('w1', 't', 'h2'), workload('w2', 't', 'h1'), workload('w3', 't', 'h1'), workload('w4', 't', 'h3')],
      [host('h1', { hostname: '10.0.0.9' }), host('h2', { hostname: '10.0.0.10', httpPort: 81 }), host('h3', { hostname: '10.0.0.10', httpPort: 80 })],
    );
    assert.deepEqual(
      r.byTrigger.get('default', 't')!.map((e) => `${e.address}:${e.port}`),
      ['10.0.0.10:80', '10.0.0.10:81', '10.0.0.9:9191'],
    );
  });
});

describe('resolve: reuse across calls', () => {
  const base = () => [
    trigger('a', { host: 'a.example.com' }),
    trigger('b', { host: 'b.example.com' }),
    trigger('c1', { host: 'c.example.com', paths: [['/one', 'Prefix']] }),
    trigger('c2', { host: 'c.example.com', paths: [['/two', 'Prefix']] }),
  ];

  it('returns the same virtual host and cluster objects for what did not change, new ones for what did', () => {
    const resolver = new Resolver();
    const triggers = base();
    const endpoints = EndpointsByTrigger.of([['default/a', [{ address: '10.0.0.1', port: 80, hostId: 'h' }]]]);
    const first = resolver.resolve({ triggers, endpoints });
    const changed = [...triggers];
    changed[2] = trigger('c1', { host: 'c.example.com', paths: [['/uno', 'Prefix']] });
    const second = resolver.resolve({ triggers: changed, endpoints: EndpointsByTrigger.of([['default/a', [{ address: '10.0.0.1', port: 80, hostId: 'h' }]]]) });
    const vh = (m: typeof first, h: string) => m.virtualHosts.find((v) => v.host === h)!;
    const cl = (m: typeof first, n: string) => m.clusters.find((c) => c.name === clusterName({ namespace: 'default', name: n }))!;
    assert.equal(vh(second, 'a.example.com'), vh(first, 'a.example.com'));
    assert.equal(vh(second, 'b.example.com'), vh(first, 'b.example.com'));
    assert.notEqual(vh(second, 'c.example.com'), vh(first, 'c.example.com'));
    assert.equal(cl(second, 'a'), cl(first, 'a'), 'equal endpoints in a new Map and new arrays keep the cluster');
    assert.equal(cl(second, 'c2'), cl(first, 'c2'));
    assert.notEqual(cl(second, 'c1'), cl(first, 'c1'));
    assert.deepEqual(
      vh(second, 'c.example.com').routes.map((r) => r.match.path),
      ['/two', '/uno'],
    );
  });

  it('builds a new cluster when only its endpoints change, and keeps every virtual host', () => {
    const resolver = new Resolver();
    const triggers = base();
    const first = resolver.resolve({ triggers, endpoints: NO_ENDPOINTS });
    const second = resolver.resolve({ triggers, endpoints: EndpointsByTrigger.of([['default/b', [{ address: '10.0.0.5', port: 80, hostId: 'h' }]]]) });
    first.virtualHosts.forEach((v, i) => assert.equal(second.virtualHosts[i], v));
    const b = clusterName({ namespace: 'default', name: 'b' });
    first.clusters.forEach((c, i) => (c.name === b ? assert.notEqual(second.clusters[i], c) : assert.equal(second.clusters[i], c)));
    assert.equal(second.clusters.find((c) => c.name === b)!.endpoints.length, 1);
  });

  it('gives the same result as a fresh resolver after changes', () => {
    const resolver = new Resolver();
    resolver.resolve({ triggers: base(), endpoints: NO_ENDPOINTS });
    const next = [trigger('c2', { host: 'c.example.com', paths: [['/one', 'Prefix']], created: '2020-01-01T00:00:00Z' }), ...base()];
    const reused = resolver.resolve({ triggers: next, endpoints: NO_ENDPOINTS });
    const fresh = resolveRoutes({ triggers: next, endpoints: NO_ENDPOINTS });
    const view = (m: typeof fresh) => ({
      vhosts: m.virtualHosts.map((v) => [v.host, v.routes.map((r) => [r.trigger.key, r.match.type, r.match.path, r.cluster])]),
      clusters: m.clusters.map((c) => c.name),
      diagnostics: m.diagnostics,
    });
    assert.deepEqual(view(reused), view(fresh));
  });
});
