import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { packageRoot } from '../controller/package-root';
import { envoyMatch } from './support/envoy-match';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

const CLI = path.join(packageRoot(), 'dist/controller/cli/translate.js');

function translate(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: packageRoot(), timeout: 20000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function translateJson(...args: string[]): { resources: Json[]; diagnostics: Json[] } {
  const r = translate(...args);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

/** Every object key in the proto3 JSON, except inside Struct values (free-form by nature). */
function keysOf(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((v) => keysOf(v, out));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      out.push(k);
      if (k !== 'filter_metadata' && k !== 'json_format') keysOf(v, out);
    }
  }
  return out;
}

const TRIGGER = (name: string, host: string, extra = '') => `apiVersion: control.cosmonic.io/v1alpha1
kind: HTTPTrigger
metadata:
  name: ${name}
  namespace: default
${extra}spec:
  ingress:
    host: ${host}
  template:
    spec:
      components:
        - name: http
          image: ghcr.io/example/http:0.1.0
`;

describe('translate CLI', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'translate-cli-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('prints the resources (with @type, snake_case fields) and diagnostics for examples/', () => {
    const out = translateJson('examples');
    assert.deepEqual(Object.keys(out).sort(), ['diagnostics', 'resources']);
    assert.deepEqual(out.diagnostics, []);
    const types = out.resources.map((r) => r['@type']);
    assert.ok(types.every((t) => typeof t === 'string' && t.startsWith('type.googleapis.com/envoy.')), JSON.stringify(types));
    for (const t of ['Cluster', 'ClusterLoadAssignment', 'Listener', 'RouteConfiguration']) assert.ok(types.some((x) => x.endsWith(`.${t}`)), t);
    for (const key of keysOf(out.resources)) assert.match(key, /^(@type|[a-z][a-z0-9_]*)$/, `field ${key} is not a .proto (snake_case) name`);
    const rc = out.resources.find((r) => r['@type'].endsWith('.RouteConfiguration'));
    assert.equal(envoyMatch(rc, { host: 'hello.localhost.cosmonic.sh', path: '/api/x' })?.trigger, 'default/api');
  });

  it('accepts the -- that npm run passes through', () => {
    const out = translateJson('--', 'examples/hello-world.yaml');
    assert.equal(out.resources.filter((r) => r['@type'].endsWith('.Cluster')).length, 1);
  });

  it('fails with a message naming a missing file', () => {
    const missing = path.join(dir, 'nope.yaml');
    const r = translate('examples', missing);
    assert.notEqual(r.status, 0);
    assert.ok(r.stderr.includes(missing), r.stderr);
    assert.equal(r.stdout, '', 'no partial JSON on stdout');
  });

  it('fails with a message naming a file that is not valid YAML, with the line', () => {
    const bad = path.join(dir, 'bad.yaml');
    fs.writeFileSync(bad, 'apiVersion: v1\nkind: [unclosed\nmetadata: {}\n');
    const r = translate(bad);
    assert.notEqual(r.status, 0);
    assert.ok(r.stderr.includes(bad), r.stderr);
    assert.match(r.stderr, /line \d+/);
  });

  it('fails with one line naming a file whose aliases cannot be resolved, not a stack trace', () => {
    const typo = path.join(dir, 'typo.yaml');
    fs.writeFileSync(typo, 'apiVersion: control.cosmonic.io/v1alpha1\nkind: HTTPTrigger\nmetadata: {name: x}\nspec:\n  ingress: {host: *nope}\n');
    const r = translate(typo);
    assert.equal(r.status, 1);
    assert.match(r.stderr, new RegExp(`^translate: ${typo.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*nope.*\n$`));
  });

  it('prints usage and fails without arguments', () => {
    const r = translate();
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /usage/);
  });

  it('applies HostPolicy manifests, and --unlisted-hosts deny refuses every host no policy names', () => {
    const policy = path.join(dir, 'policy.yaml');
    fs.writeFileSync(
      policy,
      'apiVersion: control.cosmonic.io/v1alpha1\nkind: HostPolicy\nmetadata: { name: hello }\nspec: { hosts: [hello.localhost.cosmonic.sh], namespaces: { names: [default] } }\n',
    );
    const reasons = (r: ReturnType<typeof translate>) => new Set((JSON.parse(r.stdout).diagnostics as { reason: string }[]).map((d) => d.reason));
    const allowed = translate('examples', policy);
    assert.equal(allowed.status, 0, allowed.stderr);
    assert.ok(!reasons(allowed).has('HostNotAllowed'));
    const denied = translate('--unlisted-hosts', 'deny', 'examples', policy);
    assert.equal(denied.status, 0, denied.stderr);
    const refused = (JSON.parse(denied.stdout).diagnostics as { reason: string; message: string }[]).filter((d) => d.reason === 'HostNotAllowed');
    assert.ok(refused.length > 0 && refused.every((d) => /named by no HostPolicy, and this controller refuses unlisted hosts/.test(d.message)), denied.stdout);
    assert.ok(!refused.some((d) => d.message.includes('host hello.localhost.cosmonic.sh ')), 'the policy grants hello to default');
    const bad = translate('--unlisted-hosts', 'sometimes', 'examples');
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--unlisted-hosts sometimes: use allow or deny/);
  });

  it('says what an OAM application is and what to write instead', () => {
    const oam = path.join(dir, 'oam.yaml');
    fs.writeFileSync(
      oam,
      'apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n  name: hello\nspec:\n  components:\n    - name: http\n      type: component\n',
    );
    const out = translateJson(oam);
    assert.equal(out.diagnostics.length, 1);
    const [d] = out.diagnostics;
    assert.equal(d.file, oam);
    assert.match(d.message, /OAM application/);
    assert.match(d.message, /HTTPTrigger/);
    assert.match(d.message, /WorkloadDeployment/);
  });

  it('reads multi-document files, folders recursively and kind: List, and passes over other kinds and files', () => {
    const root = path.join(dir, 'tree');
    fs.mkdirSync(path.join(root, 'nested/deeper'), { recursive: true });
    fs.writeFileSync(
      path.join(root, 'nested/app.yaml'),
      `${TRIGGER('one', 'one.example.com')}---\n${TRIGGER('two', 'two.example.com')}---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: passed-over\ndata: {}\n`,
    );
    fs.writeFileSync(
      path.join(root, 'nested/deeper/runtime.yml'),
      `apiVersion: runtime.wasmcloud.dev/v1alpha1
kind: Host
metadata: {name: h1, namespace: default}
hostId: h1
hostname: 10.1.0.1
httpPort: 8000
status: {conditions: [{type: Ready, status: 'True'}]}
---
apiVersion: v1
kind: List
items:
  - apiVersion: runtime.wasmcloud.dev/v1alpha1
    kind: Workload
    metadata: {name: w1, namespace: default, labels: {control.cosmonic.io/httptrigger: two}}
    spec: {components: [{name: http, image: x}]}
    status: {hostId: h1, conditions: [{type: Ready, status: 'True'}]}
  - ${'{'}apiVersion: v1, kind: Service, metadata: {name: s}${'}'}
`,
    );
    fs.writeFileSync(path.join(root, 'notes.txt'), 'this: is: not: yaml: [');
    fs.writeFileSync(path.join(root, '.hidden.yaml'), 'this: is: not: yaml: [');
    const out = translateJson(root);
    assert.deepEqual(out.diagnostics, []);
    const clusters = out.resources.filter((r) => r['@type'].endsWith('.Cluster')).map((r) => r.name);
    assert.equal(clusters.length, 2);
    const cla = out.resources.filter((r) => r['@type'].endsWith('.ClusterLoadAssignment'));
    const withEndpoints = cla.filter((a) => a.endpoints);
    assert.equal(withEndpoints.length, 1);
    assert.deepEqual(withEndpoints[0].endpoints[0].lb_endpoints[0].endpoint.address.socket_address, { address: '10.1.0.1', port_value: 8000 });
    const rc = out.resources.find((r) => r['@type'].endsWith('.RouteConfiguration'));
    assert.equal(envoyMatch(rc, { host: 'two.example.com', path: '/' })?.cluster, withEndpoints[0].cluster_name);
  });

  it('honours metadata.creationTimestamp for conflicts, whatever the file order', () => {
    const root = path.join(dir, 'conflict');
    fs.mkdirSync(root);
    // "a-newer" is read first (file order) but created later: "z-older" must win.
    fs.writeFileSync(path.join(root, 'a.yaml'), TRIGGER('a-newer', 'same.example.com', '  creationTimestamp: "2025-01-01T00:00:00Z"\n'));
    fs.writeFileSync(path.join(root, 'b.yaml'), TRIGGER('z-older', 'same.example.com', '  creationTimestamp: "2024-01-01T00:00:00Z"\n'));
    const out = translateJson(root);
    assert.equal(out.diagnostics.length, 1);
    assert.equal(out.diagnostics[0].trigger, 'default/a-newer');
    assert.equal(out.diagnostics[0].reason, 'Conflict');
    assert.equal(out.diagnostics[0].winner, 'default/z-older');
    const rc = out.resources.find((r) => r['@type'].endsWith('.RouteConfiguration'));
    assert.equal(envoyMatch(rc, { host: 'same.example.com', path: '/' })?.trigger, 'default/z-older');
  });
});
