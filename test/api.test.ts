import * as assert from 'node:assert/strict';
import { parseGoDuration } from '../controller/api/duration';
import { validateSchema } from '../controller/api/schema';
import type { HTTPTrigger } from '../controller/api/types';
import { checkedHTTPTrigger, checkHTTPTrigger, hostProblems, triggerUpstreamHost } from '../controller/api/validate';
import { EndpointsByTrigger } from '../controller/resolve/endpoints';
import { resolveRoutes } from '../controller/resolve/resolve';
import { trigger } from './support/fixtures';

/** Resolves one trigger alone and returns its diagnostics. */
function diagnosticsFor(object: unknown) {
  return resolveRoutes({ triggers: [object], endpoints: new EndpointsByTrigger() }).diagnostics;
}

function withSpec(patch: (spec: any) => void): Record<string, unknown> {
  const t = trigger('t') as any;
  patch(t.spec);
  return t;
}

describe('api: HTTPTrigger schema (the CRD openAPIV3Schema)', () => {
  it('applies the CRD defaults: paths / Prefix, replicas 1, deployPolicy RollingUpdate', () => {
    const r = validateSchema<HTTPTrigger>('HTTPTrigger', trigger('t'));
    assert.ok(r.ok, JSON.stringify(r));
    assert.deepEqual(r.value.spec.ingress.paths, [{ path: '/', pathType: 'Prefix' }]);
    assert.equal(r.value.spec.replicas, 1);
    assert.equal(r.value.spec.deployPolicy, 'RollingUpdate');
  });

  it('does not modify the object it validates (defaults go on a copy)', () => {
    const t = trigger('t');
    const before = JSON.stringify(t);
    validateSchema('HTTPTrigger', t);
    assert.equal(JSON.stringify(t), before);
  });

  it('keeps values that are given instead of the defaults', () => {
    const r = validateSchema<HTTPTrigger>('HTTPTrigger', trigger('t', { paths: [['/a', 'Exact']], spec: { replicas: 3, deployPolicy: 'Recreate' } }));
    assert.ok(r.ok);
    assert.deepEqual(r.value.spec.ingress.paths, [{ path: '/a', pathType: 'Exact' }]);
    assert.equal(r.value.spec.replicas, 3);
    assert.equal(r.value.spec.deployPolicy, 'Recreate');
  });

  const fieldErrors: [string, (spec: any) => void, RegExp][] = [
    ['replicas of the wrong type', (s) => (s.replicas = 'two'), /^spec\.replicas: /],
    ['negative replicas', (s) => (s.replicas = -1), /^spec\.replicas: /],
    ['replicas beyond int32', (s) => (s.replicas = 2 ** 31), /^spec\.replicas: /],
    ['an unknown deployPolicy', (s) => (s.deployPolicy = 'Sometimes'), /^spec\.deployPolicy: must be one of "RollingUpdate", "Recreate"/],
    ['a host of the wrong type', (s) => (s.ingress.host = 42), /^spec\.ingress\.host: /],
    ['a missing host', (s) => delete s.ingress.host, /^spec\.ingress\.host: required field is missing/],
    ['a path entry without pathType', (s) => (s.ingress.paths = [{ path: '/' }]), /^spec\.ingress\.paths\[0\]\.pathType: required field is missing/],
    ['a missing template', (s) => delete s.template, /^spec\.template: required field is missing/],
    ['a component without image', (s) => (s.template.spec.components = [{ name: 'x' }]), /^spec\.template\.spec\.components\[0\]\.image: required/],
    ['a timeout longer than the schema allows', (s) => (s.timeout = '1'.repeat(40) + 's'), /^spec\.timeout: /],
  ];
  for (const [what, patch, expected] of fieldErrors) {
    it(`names the field for ${what}`, () => {
      const r = validateSchema('HTTPTrigger', withSpec(patch));
      assert.equal(r.ok, false);
      assert.ok(!r.ok && r.errors.some((e) => expected.test(e)), `${JSON.stringify(!r.ok && r.errors)} should match ${expected}`);
    });
  }

  it('names the alternatives of a oneOf for each volume that sets none or both, and keeps each volume\'s error', () => {
    const r = validateSchema('HTTPTrigger', withSpec((s) => (s.template.spec.volumes = [{ name: 'both', ephemeral: {}, hostPath: { path: '/d' } }, { name: 'none' }])));
    assert.ok(!r.ok);
    assert.deepEqual(r.errors, ['spec.template.spec.volumes[0]: set only one of ephemeral, hostPath', 'spec.template.spec.volumes[1]: set exactly one of ephemeral, hostPath']);
  });

  it('reports unknown fields (kubectl --validate=strict) instead of dropping them, at any depth', () => {
    const t = withSpec((s) => {
      s.replica = 2;
      s.ingress.hosts = ['x'];
      s.template.spec.components[0].imagee = 'typo';
    });
    (t as any).extra = true;
    const r = validateSchema('HTTPTrigger', t);
    assert.ok(!r.ok);
    for (const field of ['spec.replica', 'spec.ingress.hosts', 'spec.template.spec.components[0].imagee', 'extra']) {
      assert.ok(r.errors.includes(`${field}: unknown field`), `${field} in ${JSON.stringify(r.errors)}`);
    }
  });

  it('lets a pathType other than Exact/Prefix through (the resolver skips it, the API server must not reject it)', () => {
    const r = validateSchema('HTTPTrigger', trigger('t', { paths: [['/x', 'ImplementationSpecific']] }));
    assert.ok(r.ok, JSON.stringify(r));
  });

  it('validates the runtime kinds too: a Host needs hostId and a port in range', () => {
    const ok = validateSchema('Host', { apiVersion: 'runtime.wasmcloud.dev/v1alpha1', kind: 'Host', metadata: { name: 'h' }, hostId: 'h1', httpPort: 80 });
    assert.ok(ok.ok);
    const bad = validateSchema('Host', { apiVersion: 'runtime.wasmcloud.dev/v1alpha1', kind: 'Host', metadata: { name: 'h' }, httpPort: 70000 });
    assert.ok(!bad.ok);
    assert.ok(bad.errors.some((e) => e.startsWith('hostId: required')), JSON.stringify(bad.errors));
    assert.ok(bad.errors.some((e) => e.startsWith('httpPort: ')), JSON.stringify(bad.errors));
  });
});

describe('api: structural checks (each invalid trigger → exactly one Invalid diagnostic)', () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['an empty host', trigger('t', { host: '' }), /ingress\.host is empty/],
    ['"*" alone as host', trigger('t', { host: '*' }), /"\*" is not allowed/],
    ['"*" not the whole first label', trigger('t', { host: '*foo.example.com' }), /wildcard must be the whole first label/],
    ['"*" in a later label', trigger('t', { host: 'foo.*.example.com' }), /wildcard must be the whole first label/],
    ['two wildcard labels', trigger('t', { host: '*.*.example.com' }), /wildcard must be the whole first label/],
    ['a host with a port', trigger('t', { host: 'example.com:8080' }), /has a port.*:8080/],
    ['an IP address as host', trigger('t', { host: '10.1.2.3' }), /IP address/],
    ['a label with an underscore', trigger('t', { host: 'my_app.example.com' }), /not a valid DNS name.*my_app/],
    ['no paths (paths: [])', withSpec((s) => (s.ingress.paths = [])), /spec\.ingress\.paths: must NOT have fewer than 1 items/],
    ['a path not starting with /', trigger('t', { paths: [['api', 'Prefix']] }), /ingress\.paths\[0\]\.path "api" must start with "\/"/],
    ['an empty path', trigger('t', { paths: [['/ok', 'Exact'], ['', 'Prefix']] }), /ingress\.paths\[1\]\.path "" must start with "\/"/],
    ['a path with a query string', trigger('t', { paths: [['/a?b=c', 'Exact']] }), /contains "\?" or "#"/],
    ['a bad timeout', trigger('t', { timeout: '5 minutes' }), /timeout: "5 minutes" is not a Go duration/],
    ['a negative timeout', trigger('t', { timeout: '-5s' }), /timeout: "-5s" is negative/],
    ['a name with a newline (it would reach the Host rewrite)', trigger('a\nb'), /metadata\.name "a\\nb" is not a valid Kubernetes name/],
    ['an upper-case name', trigger('Hello'), /metadata\.name "Hello" is not a valid Kubernetes name/],
    ['a name longer than 253 characters', trigger('a'.repeat(254)), /metadata\.name "a+" is not a valid Kubernetes name/],
    ['a namespace that is not a DNS label', trigger('t', { namespace: 'my.team' }), /metadata\.namespace "my\.team" is not a valid namespace/],
    ['a namespace that is a number', { ...trigger('t'), metadata: { name: 't', namespace: 5 } }, /metadata\.namespace 5 is not a valid namespace/],
    ['a creationTimestamp that is not a time', trigger('t', { created: 'yesterday' }), /creationTimestamp "yesterday" is not an RFC 3339 time/],
    ['a creationTimestamp Date.parse would read but RFC 3339 does not allow', trigger('t', { created: '5' }), /creationTimestamp "5" is not an RFC 3339 time/],
    ['a creationTimestamp that is a number', { ...trigger('t'), metadata: { name: 't', creationTimestamp: 1700000000 } }, /creationTimestamp 1700000000 is not/],
    ['a creationTimestamp object that cannot become a string', { ...trigger('t'), metadata: { name: 't', creationTimestamp: Object.create(null) } }, /creationTimestamp .* is not an RFC 3339 time/],
    [
      'a volume mount without its volume',
      withSpec((s) => (s.template.spec.components[0].localResources = { volumeMounts: [{ name: 'data', mountPath: '/data' }] })),
      /mounts volume "data", which is not in template\.spec\.volumes/,
    ],
  ];
  for (const [what, object, message] of cases) {
    it(`skips a trigger with ${what}`, () => {
      const ds = diagnosticsFor(object);
      assert.equal(ds.length, 1, JSON.stringify(ds));
      assert.equal(ds[0].reason, 'Invalid');
      const meta = (object as any).metadata;
      assert.equal(ds[0].trigger, `${typeof meta.namespace === 'string' ? meta.namespace : 'default'}/${meta.name}`);
      assert.match(ds[0].message, message);
      const model = resolveRoutes({ triggers: [object], endpoints: new EndpointsByTrigger() });
      assert.equal(model.admitted.length, 0);
      assert.equal(model.virtualHosts.length, 0);
    });
  }

  it('gives a trigger with an unsupported pathType one UnsupportedPathType diagnostic naming the type and path', () => {
    const ds = diagnosticsFor(trigger('t', { paths: [['/a', 'Prefix'], ['/b', 'ImplementationSpecific']] }));
    assert.equal(ds.length, 1);
    assert.equal(ds[0].reason, 'UnsupportedPathType');
    assert.match(ds[0].message, /"ImplementationSpecific"/);
    assert.match(ds[0].message, /\/b/);
  });

  it('treats pathType case-sensitively ("prefix" is not "Prefix")', () => {
    const ds = diagnosticsFor(trigger('t', { paths: [['/a', 'prefix']] }));
    assert.deepEqual(
      ds.map((d) => d.reason),
      ['UnsupportedPathType'],
    );
  });

  it('keeps the valid triggers working next to invalid ones', () => {
    const model = resolveRoutes({
      triggers: [trigger('bad', { host: '*' }), trigger('good', { host: 'ok.example.com' }), trigger('worse', { paths: [['x', 'Exact']] })],
      endpoints: new EndpointsByTrigger(),
    });
    assert.deepEqual(
      model.admitted.map((t) => t.key),
      ['default/good'],
    );
    assert.deepEqual(model.diagnostics.map((d) => d.trigger).sort(), ['default/bad', 'default/worse']);
  });

  const garbage: [string, unknown][] = [
    ['null', null],
    ['a string', 'HTTPTrigger'],
    ['an array', [trigger('t')]],
    ['an object without metadata', { apiVersion: 'control.cosmonic.io/v1alpha1', kind: 'HTTPTrigger', spec: {} }],
    ['metadata without name', { ...trigger('t'), metadata: { namespace: 'ns' } }],
    ['spec: null', { ...trigger('t'), spec: null }],
    ['paths as an object', withSpec((s) => (s.ingress.paths = { path: '/' }))],
  ];
  for (const [what, object] of garbage) {
    it(`turns ${what} into one Invalid diagnostic without throwing`, () => {
      const ds = diagnosticsFor(object);
      assert.equal(ds.length, 1, JSON.stringify(ds));
      assert.equal(ds[0].reason, 'Invalid');
      assert.ok(ds[0].message.length > 0);
    });
  }

  it('names an unnamed trigger "(unnamed)" in its namespace', () => {
    const [d] = diagnosticsFor({ ...trigger('t'), metadata: { namespace: 'ns' } });
    assert.equal(d.trigger, 'ns/(unnamed)');
    assert.match(d.message, /metadata\.name: required field is missing/);
  });
});

describe('api: accepted hosts and normalisation', () => {
  it('accepts exact hosts and one-label wildcards', () => {
    for (const h of ['example.com', 'a-b.example.com', '*.example.com', 'localhost', 'x.y.z.example.co.uk']) {
      assert.deepEqual(hostProblems(h), [], h);
    }
  });

  it('normalises a valid trigger: host lower-cased, Prefix trailing "/" dropped once, "/" kept, duplicates merged', () => {
    const check = checkHTTPTrigger(
      trigger('t1', {
        namespace: 'ns',
        host: 'Hello.Example.COM',
        paths: [
          ['/', 'Prefix'],
          ['/foo/', 'Prefix'],
          ['/foo', 'Prefix'],
          ['/foo/', 'Exact'],
        ],
      }),
    );
    assert.ok(check.ok, JSON.stringify(check));
    assert.equal(check.trigger.host, 'hello.example.com');
    assert.equal(check.trigger.wildcard, false);
    assert.deepEqual(check.trigger.paths, [
      { type: 'Prefix', path: '/' },
      { type: 'Prefix', path: '/foo' },
      { type: 'Exact', path: '/foo/' },
    ]);
    assert.equal(check.trigger.key, 'ns/t1');
  });

  it('uses namespace "default" when the manifest has none', () => {
    const t = trigger('t') as any;
    delete t.metadata.namespace;
    const check = checkHTTPTrigger(t);
    assert.ok(check.ok);
    assert.equal(check.trigger.key, 'default/t');
  });

  it('defaults the timeout to 15s and reads spec.timeout', () => {
    const d = checkHTTPTrigger(trigger('t'));
    assert.ok(d.ok);
    assert.deepEqual(d.trigger.timeout, { seconds: 15, nanos: 0 });
    const s = checkHTTPTrigger(trigger('t', { timeout: '1h30m' }));
    assert.ok(s.ok);
    assert.deepEqual(s.trigger.timeout, { seconds: 5400, nanos: 0 });
  });

  it('gives each trigger a per-trigger upstream Host that is a valid DNS name, even for very long names', () => {
    assert.equal(triggerUpstreamHost('default', 'hello'), 'hello.default.trigger.internal');
    const long = triggerUpstreamHost('a'.repeat(63), 'b'.repeat(250));
    const other = triggerUpstreamHost('a'.repeat(63), `${'b'.repeat(249)}c`);
    assert.ok(long.length <= 253, `${long.length}`);
    assert.notEqual(long, other);
    for (const label of long.split('.')) assert.match(label, /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, label);
  });
});

describe('api: Go durations', () => {
  const valid: [string, number, number][] = [
    ['300s', 300, 0],
    ['5m', 300, 0],
    ['1h30m', 5400, 0],
    ['250ms', 0, 250_000_000],
    ['1.5h', 5400, 0],
    ['0', 0, 0],
    ['0s', 0, 0],
    ['+5s', 5, 0],
    ['.5s', 0, 500_000_000],
    ['1h1m1s1ms1us1ns', 3661, 1_001_001],
    ['2µs', 0, 2000],
    ['2μs', 0, 2000],
    ['1.000000001s', 1, 1],
  ];
  for (const [text, seconds, nanos] of valid) {
    it(`reads ${text}`, () => assert.deepEqual(parseGoDuration(text), { seconds, nanos }));
  }
  const invalid = ['', '5', '1d', 's', '.s', '5 s', ' 5s', '5s ', '1h30', '1.5.5s', '-5s', '5S', '1e3s', '9999999999h', 'abc'];
  for (const text of invalid) {
    it(`rejects ${JSON.stringify(text)} with a message quoting it`, () => {
      const r = parseGoDuration(text);
      assert.ok('error' in r, JSON.stringify(r));
      assert.ok(r.error.includes(JSON.stringify(text)), r.error);
    });
  }
  it('accepts the largest Go duration and rejects one nanosecond more', () => {
    assert.deepEqual(parseGoDuration('9223372036854775807ns'), { seconds: 9223372036, nanos: 854775807 });
    assert.ok('error' in parseGoDuration('9223372036854775808ns'));
  });
});

describe('api: checkedHTTPTrigger', () => {
  it('checks an object once (the resolver and the reconciler share the result) and a new object again', () => {
    const manifest = { apiVersion: 'control.cosmonic.io/v1alpha1', kind: 'HTTPTrigger', metadata: { name: 'once' }, spec: { ingress: { host: 'once.example.com' }, template: { spec: {} } } };
    const first = checkedHTTPTrigger(manifest);
    assert.equal(first.ok, true);
    assert.equal(checkedHTTPTrigger(manifest), first);
    const edited = structuredClone(manifest);
    edited.spec.ingress.host = 'bad host';
    assert.equal(checkedHTTPTrigger(edited).ok, false);
    assert.equal(checkedHTTPTrigger(null).ok, false);
  });
});
