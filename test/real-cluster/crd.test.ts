/**
 * The HTTPTrigger CRD and the examples against a real kube-apiserver: the CRD is
 * accepted (structural, every CEL rule compiles), the server applies its
 * defaults, every manifest in examples/ applies with `kubectl apply
 * --server-side`, and each invalid case the CRD's rules exist for is refused by
 * the server with the message a user sees, and by the controller's own
 * validation (which the Pulumi components share) too. The same for the
 * HostPolicy CRD.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as YAML from 'yaml';
import { checkedHostPolicy } from '../../controller/api/host-policy';
import { crd, HOSTPOLICY_CRD_PATH, HTTPTRIGGER_CRD_PATH } from '../../controller/api/schema';
import { checkHTTPTrigger } from '../../controller/api/validate';
import { packageRoot } from '../../controller/package-root';
import { trigger } from '../support/fixtures';
import { RealCluster } from '../support/real-cluster';
import { RUNTIME_CRDS_PATH } from '../support/runtime-crds';

const ROOT = packageRoot();
const CRD_FILE = path.join(ROOT, HTTPTRIGGER_CRD_PATH);

type Obj = Record<string, any>;

/** Every x-kubernetes-validations rule in a schema, with where it sits. */
function celRules(schema: Obj, at = ''): { at: string; rule: string; message: string }[] {
  const own = ((schema['x-kubernetes-validations'] ?? []) as { rule: string; message: string }[]).map((v) => ({ at, rule: v.rule, message: v.message }));
  const nested = [
    ...Object.entries((schema.properties ?? {}) as Obj).flatMap(([k, v]) => celRules(v, `${at}.${k}`)),
    ...(schema.items ? celRules(schema.items, `${at}[]`) : []),
    ...(schema.additionalProperties && typeof schema.additionalProperties === 'object' ? celRules(schema.additionalProperties, `${at}{}`) : []),
  ];
  return [...own, ...nested];
}

function withSpec(name: string, patch: (spec: Obj) => void): Obj {
  const t = trigger(name) as Obj;
  patch(t.spec);
  return t;
}

const hostInterface = (extra: Obj = {}) => ({ namespace: 'wasmcloud', package: 'messaging', interfaces: ['consumer'], ...extra });

/** Objects violating each CEL rule of the CRD, keyed by the rule's message. A rule added without a case here fails the coverage test. */
const CEL_CASES: Record<string, Obj> = {
  'hostInterfaces must not repeat the same namespace, package, name and version': withSpec('cel-repeat', (s) => {
    s.template.spec.hostInterfaces = [hostInterface({ name: 'a', version: '0.2.0' }), hostInterface({ name: 'a', version: '0.2.0' })];
  }),
  'at most one unnamed hostInterface is allowed per namespace:package; set a unique name': withSpec('cel-unnamed', (s) => {
    s.template.spec.hostInterfaces = [hostInterface({ version: '0.2.0' }), hostInterface({ version: '0.3.0' })];
  }),
};

/** Schema violations: the server's words (kubectl's stderr) and the field our own validation names. */
const SCHEMA_CASES: { what: string; object: Obj; server: RegExp; ours: RegExp }[] = [
  { what: 'a missing host', object: withSpec('no-host', (s) => delete s.ingress.host), server: /spec\.ingress\.host: Required value/, ours: /spec\.ingress\.host: required field is missing/ },
  { what: 'negative replicas', object: withSpec('neg', (s) => (s.replicas = -1)), server: /spec\.replicas: Invalid value: -1: spec\.replicas in body should be greater than or equal to 0/, ours: /spec\.replicas: / },
  {
    what: 'an unknown deployPolicy',
    object: withSpec('policy', (s) => (s.deployPolicy = 'Sometimes')),
    server: /spec\.deployPolicy: Unsupported value: "Sometimes": supported values: "RollingUpdate", "Recreate"/,
    ours: /spec\.deployPolicy: must be one of "RollingUpdate", "Recreate"/,
  },
  { what: 'an empty paths list', object: withSpec('no-paths', (s) => (s.ingress.paths = [])), server: /spec\.ingress\.paths: Invalid value: 0: spec\.ingress\.paths in body should have at least 1 items/, ours: /spec\.ingress\.paths: / },
  {
    what: 'a component without image',
    object: withSpec('no-image', (s) => (s.template.spec.components = [{ name: 'x' }])),
    server: /spec\.template\.spec\.components\[0\]\.image: Required value/,
    ours: /spec\.template\.spec\.components\[0\]\.image: required field is missing/,
  },
  {
    what: 'a volume that is neither ephemeral nor hostPath',
    object: withSpec('volume', (s) => (s.template.spec.volumes = [{ name: 'data' }])),
    server: /"spec\.template\.spec\.volumes\[0\]" must validate one and only one schema \(oneOf\)\. Found none valid/,
    ours: /spec\.template\.spec\.volumes\[0\]: set exactly one of ephemeral, hostPath/,
  },
  {
    what: 'a volume that is both ephemeral and hostPath',
    object: withSpec('volume-both', (s) => (s.template.spec.volumes = [{ name: 'data', ephemeral: {}, hostPath: { path: '/data' } }])),
    server: /"spec\.template\.spec\.volumes\[0\]" must validate one and only one schema \(oneOf\)\. Found 2 valid alternatives/,
    ours: /spec\.template\.spec\.volumes\[0\]: set only one of ephemeral, hostPath/,
  },
  {
    what: 'an egress host the runtime cannot parse',
    object: withSpec('egress', (s) => (s.template.spec.components[0].localResources = { allowedHosts: ['http://exa mple.com'] })),
    server: /spec\.template\.spec\.components\[0\]\.localResources\.allowedHosts\[0\]: Invalid value: "http:\/\/exa mple\.com": spec\.template\.spec\.components\[0\]\.localResources\.allowedHosts\[0\] in body should match/,
    ours: /spec\.template\.spec\.components\[0\]\.localResources\.allowedHosts\[0\]: /,
  },
];

describe('real API server: the HTTPTrigger CRD and the examples', function () {
  // The first run on a machine builds the control plane from Go modules (test/cluster/build.sh).
  this.timeout(60_000);
  let cluster: RealCluster;

  before(async function () {
    this.timeout(45 * 60_000);
    cluster = await RealCluster.start({ controllerManager: false });
  });

  after(async () => {
    await cluster?.stop();
  });

  it('is the pinned Kubernetes release, as clients read it (an unstamped build says v0.0, which the Pulumi provider refuses)', async () => {
    const { serverVersion } = JSON.parse(await cluster.kubectlOk(['version', '-o', 'json']));
    const pinned = /^K8S_VERSION=(v1\.(\d+)\.\d+)$/m.exec(fs.readFileSync(path.join(ROOT, 'test/cluster/versions.sh'), 'utf8'))!;
    assert.deepEqual([serverVersion.gitVersion, serverVersion.major, serverVersion.minor], [pinned[1], '1', pinned[2]]);
  });

  it('accepts the CRD: structural, every CEL rule compiles, names accepted, established', async () => {
    // A CEL rule that does not compile (e.g. a reserved word such as `namespace` used plainly) makes the server refuse the whole CRD here.
    await cluster.apply([CRD_FILE]);
    await cluster.kubectlOk(['wait', '--for=condition=Established', '--timeout=30s', 'crd/httptriggers.control.cosmonic.io']);
    const stored = JSON.parse(await cluster.kubectlOk(['get', 'crd', 'httptriggers.control.cosmonic.io', '-o', 'json']));
    const conditions = Object.fromEntries((stored.status.conditions as Obj[]).map((c) => [c.type, c.status]));
    assert.equal(conditions.NamesAccepted, 'True');
    assert.equal(conditions.Established, 'True');
    assert.equal(conditions.NonStructuralSchema, undefined, 'a non-structural schema is reported as a condition');
    const rules = celRules(stored.spec.versions[0].schema.openAPIV3Schema);
    assert.deepEqual(rules.map((r) => r.rule), celRules((crd(HTTPTRIGGER_CRD_PATH) as Obj).spec.versions[0].schema.openAPIV3Schema).map((r) => r.rule), 'the server kept every rule as written');
  });

  it('has a rejection case for every CEL rule of the CRD, and the server refuses each with the rule\'s message', async () => {
    const rules = celRules((crd(HTTPTRIGGER_CRD_PATH) as Obj).spec.versions[0].schema.openAPIV3Schema);
    assert.ok(rules.length > 0);
    assert.deepEqual(rules.map((r) => r.message).sort(), Object.keys(CEL_CASES).sort(), 'each CEL rule needs a case in CEL_CASES');
    for (const rule of rules) {
      const result = await cluster.kubectl(['create', '-f', '-'], { input: JSON.stringify(CEL_CASES[rule.message]) });
      assert.notEqual(result.code, 0, `the server accepted an object that breaks: ${rule.rule}`);
      assert.match(result.stderr, new RegExp(`spec\\.template\\.spec\\.hostInterfaces: Invalid value: (?:"array": )?${escape(rule.message)}`));
      const ours = checkHTTPTrigger(CEL_CASES[rule.message]);
      assert.ok(!ours.ok && ours.diagnostic.message.includes('hostInterfaces'), `our validation accepts what the server refuses: ${rule.rule}`);
    }
  });

  it('applies the CRD defaults (paths / Prefix, replicas 1, deployPolicy RollingUpdate), as the controller\'s validation does', async () => {
    await cluster.kubectlOk(['create', '-f', '-'], { input: JSON.stringify(trigger('defaults')) });
    const stored = JSON.parse(await cluster.kubectlOk(['get', 'httptrigger', 'defaults', '-o', 'json']));
    assert.deepEqual(stored.spec.ingress.paths, [{ path: '/', pathType: 'Prefix' }]);
    assert.equal(stored.spec.replicas, 1);
    assert.equal(stored.spec.deployPolicy, 'RollingUpdate');
    const ours = checkHTTPTrigger(trigger('defaults'));
    assert.ok(ours.ok);
    assert.deepEqual(ours.trigger.source.spec.ingress.paths, stored.spec.ingress.paths);
  });

  for (const { what, object, server, ours } of SCHEMA_CASES) {
    it(`refuses ${what}, naming the field (server and controller)`, async () => {
      const result = await cluster.kubectl(['create', '-f', '-'], { input: JSON.stringify(object) });
      assert.notEqual(result.code, 0, 'the server accepted it');
      assert.match(result.stderr, server);
      const mine = checkHTTPTrigger(object);
      assert.ok(!mine.ok, 'the controller accepts what the server refuses');
      assert.match(mine.diagnostic.message, ours);
    });
  }

  it('applies every manifest in examples/ with kubectl apply --server-side (runtime CRDs installed)', async () => {
    await cluster.apply([path.join(ROOT, RUNTIME_CRDS_PATH)]);
    await cluster.kubectlOk(['wait', '--for=condition=Established', '--timeout=30s', 'crd', '--all']);
    const manifests = fs
      .readdirSync(path.join(ROOT, 'examples'))
      .filter((f) => f.endsWith('.yaml'))
      // kind's own cluster config is read by `kind create cluster`, not by the API server.
      .filter((f) => !YAML.parseAllDocuments(fs.readFileSync(path.join(ROOT, 'examples', f), 'utf8')).some((d) => String(d.toJS()?.apiVersion).startsWith('kind.x-k8s.io/')));
    assert.ok(manifests.length >= 5, manifests.join(', '));
    for (const file of manifests) {
      const out = await cluster.kubectl(['apply', '--server-side', '--field-manager=examples', '-f', path.join(ROOT, 'examples', file)]);
      assert.equal(out.code, 0, `${file}: ${out.stderr}`);
    }
    const triggers = JSON.parse(await cluster.kubectlOk(['get', 'httptriggers', '-A', '-o', 'json'])).items as Obj[];
    assert.ok(triggers.some((t) => t.metadata.name === 'example' && t.spec.ingress.host === 'hello.localhost.cosmonic.sh'));
  });

  describe('the HostPolicy CRD', () => {
    const policy = (name: string, spec: Obj) => ({ apiVersion: 'control.cosmonic.io/v1alpha1', kind: 'HostPolicy', metadata: { name }, spec });
    const schema = () => (crd(HOSTPOLICY_CRD_PATH) as Obj).spec.versions[0].schema.openAPIV3Schema;
    /** One policy breaking each CEL rule, by the rule's message; and schema violations. */
    const CASES: Record<string, Obj> = {
      'namespaces needs names, a selector, or both': policy('no-namespaces', { hosts: ['a.example.com'], namespaces: {} }),
      'In and NotIn need values; Exists and DoesNotExist take none': policy('values', {
        hosts: ['a.example.com'],
        namespaces: { selector: { matchExpressions: [{ key: 'team', operator: 'Exists', values: ['a'] }] } },
      }),
      'a host that is not a DNS name or a one-label wildcard': policy('bad-host', { hosts: ['*.*.example.com'], namespaces: { names: ['a'] } }),
      'a namespace name that is not a DNS label': policy('bad-namespace', { hosts: ['a.example.com'], namespaces: { names: ['Team_A'] } }),
    };

    it('is accepted (cluster-scoped, every CEL rule compiles) and prints its hosts and namespaces', async () => {
      await cluster.apply([path.join(ROOT, HOSTPOLICY_CRD_PATH)]);
      await cluster.kubectlOk(['wait', '--for=condition=Established', '--timeout=30s', 'crd/hostpolicies.control.cosmonic.io']);
      const stored = JSON.parse(await cluster.kubectlOk(['get', 'crd', 'hostpolicies.control.cosmonic.io', '-o', 'json']));
      assert.equal(stored.spec.scope, 'Cluster');
      assert.deepEqual(celRules(stored.spec.versions[0].schema.openAPIV3Schema).map((r) => r.rule), celRules(schema()).map((r) => r.rule));
      const good = policy('team-a', { hosts: ['api.example.com', '*.team-a.example.com'], namespaces: { names: ['team-a'], selector: { matchLabels: { team: 'a' } } } });
      await cluster.kubectlOk(['create', '-f', '-'], { input: JSON.stringify(good) });
      assert.deepEqual(checkedHostPolicy(good).problems, []);
      const table = await cluster.kubectlOk(['get', 'hostpolicies']);
      assert.match(table, /^NAME\s+HOSTS\s+NAMESPACES\s+SELECTOR\s+AGE$/m);
      assert.match(table, /^team-a\s+\["api\.example\.com","\*\.team-a\.example\.com"\]\s+\["team-a"\]/m);
    });

    it('is refused by the server and by the controller\'s validation for each bad case, a case for every CEL rule', async () => {
      const messages = celRules(schema()).map((r) => r.message);
      assert.ok(messages.every((m) => m in CASES), 'each CEL rule needs a case');
      for (const [what, object] of Object.entries(CASES)) {
        const result = await cluster.kubectl(['create', '-f', '-'], { input: JSON.stringify(object) });
        assert.notEqual(result.code, 0, `the server accepted ${what}`);
        if (messages.includes(what)) assert.match(result.stderr, new RegExp(escape(what)));
        assert.notDeepEqual(checkedHostPolicy(object).problems, [], `the controller accepts ${what}`);
      }
    });
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
