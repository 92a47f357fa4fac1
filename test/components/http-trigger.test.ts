import * as assert from 'node:assert/strict';
import * as pulumi from '@pulumi/pulumi';
import { ControlPlane, ControlPlaneArgs, HostGroup, HttpTrigger, HttpTriggerArgs, PathType } from '../../components';
import { controlPlaneInternals } from '../../components/control-plane-registry';
import { edgeObjectName, hostCovers } from '../../components/http-trigger';
import { resolveSettings } from '../../components/settings';
import { validateSchema } from '../../controller/api/schema';
import { checkHTTPTrigger } from '../../controller/api/validate';
import { build, object, objects, Registered, valueOf } from './harness';
import { validateObject } from './k8s-schemas';
import { ChildOptions, failure } from './workloads-harness';

const CONTROLLER = { image: 'ghcr.io/example/wasm-control:0.1.0' };
const HELLO: HttpTriggerArgs = {
  components: [{ name: 'http', image: 'ghcr.io/cosmonic-labs/control-demos/hello-world:0.1.2' }],
  ingress: { host: 'hello.localhost.cosmonic.sh' },
};
const WEBGPU = { namespace: 'wasi', package: 'webgpu', version: '0.0.1', interfaces: ['webgpu'] };

/** Arguments as another language (YAML, Python) may send them: anything goes. */
function loose(args: Record<string, unknown>): HttpTriggerArgs {
  return { ...HELLO, ...args } as unknown as HttpTriggerArgs;
}

function trigger(r: Registered[], name: string): Record<string, any> {
  return object(r, 'HTTPTrigger', name);
}

describe('HttpTrigger (Pulumi mocks)', () => {
  describe('the HTTPTrigger resource', () => {
    let r: Registered[];
    let t: HttpTrigger;
    before(async () => {
      r = await build(() => {
        t = new HttpTrigger('hello', HELLO);
      });
    });

    it('writes the chart values into an HTTPTrigger the CRD schema and the controller accept', () => {
      const cr = trigger(r, 'hello');
      assert.equal(cr.apiVersion, 'control.cosmonic.io/v1alpha1');
      assert.deepEqual(cr.metadata, { name: 'hello', namespace: 'default' });
      assert.deepEqual(cr.spec.ingress, { host: 'hello.localhost.cosmonic.sh', paths: [{ path: '/', pathType: 'Prefix' }] });
      assert.deepEqual(cr.spec.template, { spec: { components: HELLO.components } });
      const schema = validateSchema('HTTPTrigger', cr);
      assert.ok(schema.ok, JSON.stringify(schema));
      assert.ok(checkHTTPTrigger(cr).ok);
    });

    it('reports the URL and the Host header the workload is reached with', async () => {
      assert.equal(await valueOf(t.url), 'http://hello.localhost.cosmonic.sh/');
      assert.equal(await valueOf(t.upstreamHost), 'hello.default.trigger.internal');
      assert.equal(await valueOf(t.triggerName), 'hello');
    });

    it('creates nothing at the edge without a control plane', () => {
      assert.equal(objects(r, 'Ingress').length, 0);
    });
  });

  it('passes every chart value through: paths, interfaces, volumes, service, timeout, replicas', async () => {
    const args: HttpTriggerArgs = {
      name: 'api',
      namespace: 'apps',
      components: [
        {
          name: 'api',
          image: 'ghcr.io/example/api:0.1.0',
          poolSize: 2,
          maxInvocations: 100,
          localResources: { allowedHosts: ['https://upstream.example.com'], volumeMounts: [{ name: 'data', mountPath: '/data', readOnly: true }], config: { a: 'b' } },
        },
      ],
      ingress: { host: 'hello.localhost.cosmonic.sh', paths: [{ path: '/api', pathType: PathType.Prefix }, { path: '/healthz', pathType: PathType.Exact }] },
      hostInterfaces: [{ namespace: 'wasi', package: 'logging', version: '0.1.0-draft', interfaces: ['logging'] }],
      hostSelector: { hostgroup: 'default' },
      volumes: [{ name: 'data', ephemeral: {} }],
      service: { image: 'ghcr.io/example/index-service:0.1.0' },
      replicas: 3,
      timeout: '300s',
    };
    const r = await build(() => new HttpTrigger('api-trigger', args));
    const cr = trigger(r, 'api');
    assert.equal(cr.metadata.namespace, 'apps');
    assert.deepEqual(cr.spec.ingress.paths, args.ingress.paths);
    assert.equal(cr.spec.timeout, '300s');
    assert.equal(cr.spec.replicas, 3);
    assert.deepEqual(cr.spec.hostSelector, { hostgroup: 'default' });
    assert.deepEqual(cr.spec.template.spec, { components: args.components, hostInterfaces: args.hostInterfaces, volumes: args.volumes, service: args.service });
    assert.ok(validateSchema('HTTPTrigger', cr).ok);
  });

  it('accepts a redundant wasi:http/incoming-handler, which the controller merges into the one it adds', async () => {
    const r = await build(() => new HttpTrigger('hello', { ...HELLO, hostInterfaces: [{ namespace: 'wasi', package: 'http', interfaces: ['incoming-handler', 'outgoing-handler'] }] }));
    assert.equal(objects(r, 'HTTPTrigger').length, 1);
  });

  it('accepts an image that is the output of another resource', async () => {
    const r = await build(() => new HttpTrigger('built', { ...HELLO, components: [{ name: 'http', image: pulumi.output('registry.example.com/hello@sha256:abc') }] }));
    assert.equal(trigger(r, 'built').spec.template.spec.components[0].image, 'registry.example.com/hello@sha256:abc');
  });

  describe('with a ControlPlane', () => {
    async function withControlPlane(cpArgs: Omit<ControlPlaneArgs, 'controller'>, args: HttpTriggerArgs = HELLO) {
      const children = new ChildOptions();
      let cp: ControlPlane;
      const r = await build(() => {
        cp = new ControlPlane('cp', { controller: CONTROLLER, ...cpArgs });
        new HttpTrigger('hello', { ...args, controlPlane: cp }, children.opts);
      });
      return { r, children, internals: controlPlaneInternals(cp!)! };
    }

    describe('host policy declared on the ControlPlane', () => {
      const policies = { policies: [{ name: 'platform', hosts: ['*.localhost.cosmonic.sh'], namespaces: { names: ['platform'] } }] };

      it('creates the HostPolicy CRD and objects, and tells the controller what unlisted hosts get', async () => {
        const { r, children, internals } = await withControlPlane({ hostPolicy: { unlistedHosts: 'deny', ...policies } }, { ...HELLO, namespace: 'platform' });
        assert.equal(internals.triggersAfter.length, 2, 'the CRD and the policy');
        assert.deepEqual(children.dependsOn('hello-httptrigger'), internals.triggersAfter, 'no trigger is judged before its policy exists');
        const policy = object(r, 'HostPolicy', 'platform');
        assert.deepEqual(policy.spec, { hosts: ['*.localhost.cosmonic.sh'], namespaces: { names: ['platform'] } });
        assert.equal(validateSchema('HostPolicy', policy).ok, true);
        assert.ok(objects(r, 'CustomResourceDefinition').some((c) => c.inputs.metadata.name === 'hostpolicies.control.cosmonic.io'));
        const args: string[] = object(r, 'Deployment', 'wasm-control-controller').spec.template.spec.containers[0].args;
        assert.equal(args[args.indexOf('--unlisted-hosts') + 1], 'deny');
      });

      it('fails pulumi preview for a trigger whose namespace may not claim its host, in the controller\'s words', async () => {
        let cp: ControlPlane;
        const error = await failure(() => {
          cp = new ControlPlane('cp', { controller: CONTROLLER, hostPolicy: policies });
          new HttpTrigger('hello', { ...HELLO, controlPlane: cp });
        });
        const refusal = controlPlaneInternals(cp!)!.settings.hostPolicy.ownership.check('default', 'hello.localhost.cosmonic.sh');
        assert.equal(refusal.allowed, false);
        assert.ok(String(error.message).includes(`the controller would skip this trigger (HostNotAllowed): ${(refusal as { message: string }).message}`), error.message);
        const allowed = await withControlPlane({ hostPolicy: policies }, { ...HELLO, namespace: 'platform' });
        assert.equal(objects(allowed.r, 'HTTPTrigger').length, 1);
        const unchecked = await withControlPlane({ hostPolicy: { ...policies, checkTriggers: false } });
        assert.equal(objects(unchecked.r, 'HTTPTrigger').length, 1, 'with checkTriggers: false the controller decides alone (policies applied elsewhere may grant it)');
      });

      it('leaves a label-selector grant to the controller, which sees the namespace labels', async () => {
        const { r } = await withControlPlane({ hostPolicy: { policies: [{ name: 'tenants', hosts: ['*.localhost.cosmonic.sh'], namespaces: { selector: { matchLabels: { tenant: 'yes' } } } }] } });
        assert.equal(objects(r, 'HTTPTrigger').length, 1);
      });

      it('refuses a bad policy with the controller\'s words, naming the argument', async () => {
        assert.throws(
          () => resolveSettings({ controller: CONTROLLER, hostPolicy: { policies: [{ name: 'p', hosts: ['*'], namespaces: { names: ['a'] } }] } }),
          /ControlPlane argument `hostPolicy.policies\[0\]` \(HostPolicy p\): .*spec\.hosts\[0\]/,
        );
        assert.throws(() => resolveSettings({ controller: CONTROLLER, hostPolicy: { unlistedHosts: 'nobody' as 'deny' } }), /`hostPolicy.unlistedHosts` "nobody" is not supported: use one of "allow", "deny"/);
      });
    });

    it('is created after the HTTPTrigger CRD', async () => {
      const { children, internals } = await withControlPlane({});
      assert.deepEqual(children.dependsOn('hello-httptrigger'), internals.triggersAfter);
      assert.equal(internals.triggersAfter.length, 1, 'the CRD, and no HostPolicy here');
    });

    it('routes its host from Traefik to Envoy, with its own paths, after the Traefik chart', async () => {
      const { r, children, internals } = await withControlPlane({}, { ...HELLO, ingress: { host: 'hello.localhost.cosmonic.sh', paths: [{ path: '/api/', pathType: PathType.Prefix }] } });
      const ingress = object(r, 'Ingress', 'trigger-default-hello');
      assert.equal(ingress.metadata.namespace, 'cosmonic-system');
      assert.equal(ingress.spec.ingressClassName, 'traefik');
      assert.equal(ingress.metadata.annotations['traefik.ingress.kubernetes.io/router.entrypoints'], 'web,websecure');
      assert.deepEqual(ingress.spec.rules, [
        { host: 'hello.localhost.cosmonic.sh', http: { paths: [{ path: '/api', pathType: 'Prefix', backend: { service: { name: 'ingress', port: { number: 80 } } } }] } },
      ]);
      assert.deepEqual(children.dependsOn('hello-edge'), [internals.traefik]);
      await validateObject(ingress);
    });

    it('adds nothing at the edge when the control plane already routes the host, exactly or by wildcard', async () => {
      for (const host of ['hello.localhost.cosmonic.sh', '*.localhost.cosmonic.sh']) {
        const { r } = await withControlPlane({ ingress: { hosts: [{ host }] } });
        assert.deepEqual(
          objects(r, 'Ingress').map((i) => i.inputs.metadata.name),
          [host.startsWith('*') ? 'wildcard-localhost-cosmonic-sh' : 'hello-localhost-cosmonic-sh', 'perses'],
        );
      }
    });

    it('with Istio, binds a Gateway for its host and a VirtualService with its paths', async () => {
      const { r } = await withControlPlane(
        { ingress: { provider: 'istio', istio: { ingressGatewaySelector: { app: 'edge' } } } },
        { ...HELLO, ingress: { host: 'hello.example.com', paths: [{ path: '/', pathType: PathType.Prefix }, { path: '/exact', pathType: PathType.Exact }] } },
      );
      const gateway = object(r, 'Gateway', 'trigger-default-hello');
      assert.deepEqual(gateway.spec, { selector: { app: 'edge' }, servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['hello.example.com'] }] });
      const vs = object(r, 'VirtualService', 'trigger-default-hello');
      assert.deepEqual(vs.spec.gateways, ['trigger-default-hello']);
      assert.deepEqual(vs.spec.http[0].match, [{ uri: { prefix: '/' } }, { uri: { exact: '/exact' } }]);
      assert.deepEqual(vs.spec.http[0].route, [{ destination: { host: 'ingress.cosmonic-system.svc.cluster.local', port: { number: 80 } } }]);
      await validateObject(gateway);
      await validateObject(vs);
    });

    it('adds nothing at the edge when Envoy is exposed directly', async () => {
      const { r } = await withControlPlane({ ingress: { enabled: false } });
      assert.equal(objects(r, 'Ingress').length + objects(r, 'VirtualService').length, 0);
      assert.equal(objects(r, 'HTTPTrigger').length, 1);
    });
  });

  describe('runs on a HostGroup', () => {
    it('selects the group by its label', async () => {
      const r = await build(() => {
        const general = new HostGroup('general', {});
        new HttpTrigger('hello', { ...HELLO, hostGroup: general, hostInterfaces: [{ namespace: 'wasi', package: 'blobstore', version: '0.2.0-draft', interfaces: ['blobstore'] }] });
      });
      assert.deepEqual(trigger(r, 'hello').spec.hostSelector, { hostgroup: 'general' });
    });

    it('fails when the group does not advertise a declared interface, naming it, the group and the fix', async () => {
      const e = await failure(() => {
        const general = new HostGroup('general', {});
        new HttpTrigger('painter', { ...HELLO, hostGroup: general, hostInterfaces: [WEBGPU] });
      });
      assert.match(e.message, /^HTTPTrigger default\/painter would not run as declared:/);
      assert.match(e.message, /host group "general" \(hostgroup=general\) does not advertise wasi:webgpu\/webgpu@0\.0\.1, which hostInterfaces declares/);
      assert.match(e.message, /wasi:webgpu needs a GPU host group \(hostgroup chart gpu=true, or a HostGroup with gpu: true\)/);
    });

    it('places the same workload on a GPU group', async () => {
      const r = await build(() => {
        const gpu = new HostGroup('gpu', { gpu: true });
        new HttpTrigger('painter', { ...HELLO, hostGroup: gpu, hostInterfaces: [WEBGPU] });
      });
      assert.deepEqual(trigger(r, 'painter').spec.hostSelector, { hostgroup: 'gpu' });
    });

    it('fails for an interface no host group has, even one the components may not use', async () => {
      const e = await failure(() => {
        const general = new HostGroup('general', {});
        new HttpTrigger('traced', { ...HELLO, hostGroup: general, hostInterfaces: [{ namespace: 'wasi', package: 'otel', interfaces: ['tracing'] }] });
      });
      assert.match(e.message, /does not advertise wasi:otel\/tracing, which hostInterfaces declares.*remove the interfaces the components do not import/);
    });

    it('leaves a malformed interface to the schema check instead of crashing the placement check', async () => {
      const e = await failure(() => new HttpTrigger('hello', loose({ hostGroup: new HostGroup('general', {}), hostInterfaces: [{ namespace: 'wasi', package: 'logging' }] })));
      assert.match(e.message, /spec\.template\.spec\.hostInterfaces\[0\]\.interfaces: required field is missing/);
    });

    it('refuses hostGroup together with hostSelector', async () => {
      const e = await failure(() => new HttpTrigger('hello', { ...HELLO, hostGroup: new HostGroup('general', {}), hostSelector: { zone: 'a' } }));
      assert.match(e.message, /hostGroup and hostSelector are both set: hostGroup "general" already selects its hosts \(hostgroup=general\); remove hostSelector/);
    });
  });

  describe('checks at construction, in the controller\'s words', () => {
    const cases: [string, Record<string, unknown>, RegExp][] = [
      [
        'a path type the controller skips',
        { ingress: { host: 'hello.example.com', paths: [{ path: '/', pathType: 'ImplementationSpecific' }] } },
        /the controller would skip this trigger \(UnsupportedPathType\): pathType "ImplementationSpecific" is not supported \(path \/\): use Exact or Prefix/,
      ],
      ['a relative path', { ingress: { host: 'hello.example.com', paths: [{ path: 'api', pathType: 'Prefix' }] } }, /\(Invalid\): .*ingress\.paths\[0\]\.path "api" must start with "\/"/],
      ['a host with a port', { ingress: { host: 'hello.example.com:8080' } }, /ingress\.host "hello\.example\.com:8080" has a port/],
      ['a wildcard inside the host', { ingress: { host: 'a.*.example.com' } }, /ingress\.host "a\.\*\.example\.com": a wildcard must be the whole first label/],
      ['a bare "*" host', { ingress: { host: '*' } }, /ingress\.host "\*" is not allowed/],
      ['a timeout that is not a Go duration', { timeout: '5 minutes' }, /\(Invalid\): .*timeout: /],
      [
        'readOnly: false',
        { components: [{ name: 'http', image: 'i', localResources: { volumeMounts: [{ name: 'd', mountPath: '/d', readOnly: false }] } }], volumes: [{ name: 'd', ephemeral: {} }] },
        /spec\.template\.spec\.components\[0\]\.localResources\.volumeMounts\[0\]\.readOnly: must be one of true/,
      ],
      ['an allowedHosts entry in no accepted form', { components: [{ name: 'http', image: 'i', localResources: { allowedHosts: ['https://exa mple.com/path'] } }] }, /allowedHosts\[0\]: must match pattern/],
      ['more paths than the CRD allows', { ingress: { host: 'h.example.com', paths: Array.from({ length: 65 }, (_, i) => ({ path: `/p${i}`, pathType: 'Exact' })) } }, /spec\.ingress\.paths: must NOT have more than 64 items/],
      ['a missing ingress', { ingress: undefined }, /spec\.ingress: required field is missing/],
      ['a negative replica count', { replicas: -1 }, /spec\.replicas: must be >= 0/],
      ['an unknown field', { components: [{ name: 'http', image: 'i', pool: 2 }] }, /spec\.template\.spec\.components\[0\]\.pool: unknown field/],
      ['a mount of a volume that is not declared', { components: [{ name: 'http', image: 'i', localResources: { volumeMounts: [{ name: 'data', mountPath: '/data' }] } }] }, /component http mounts volume "data", which is not in template\.spec\.volumes/],
      ['a name the API server refuses', { name: 'Hello_World' }, /metadata\.name "Hello_World" is not a valid Kubernetes name/],
      ['a controlPlane that is not a ControlPlane', { controlPlane: { namespace: 'cosmonic-system' } }, /controlPlane: pass the ControlPlane component built in this program/],
    ];
    for (const [what, args, message] of cases) {
      it(`fails ${what}, as a ResourceError on the trigger`, async () => {
        const e = await failure(() => new HttpTrigger('bad', loose(args)));
        assert.match(e.message, message);
      });
    }
  });

  describe('route conflicts among the triggers of the program', () => {
    const onHello = (paths: { path: string; pathType: PathType }[]): HttpTriggerArgs => ({ ...HELLO, ingress: { host: 'hello.localhost.cosmonic.sh', paths } });

    it('fails the second and later claimants of a (host, path, pathType), naming every claimant', async () => {
      const errors: unknown[] = [];
      const r = await build(() => {
        new HttpTrigger('first', onHello([{ path: '/', pathType: PathType.Prefix }]));
        for (const name of ['second', 'third']) {
          try {
            new HttpTrigger(name, onHello([{ path: '/', pathType: PathType.Prefix }]));
          } catch (e) {
            errors.push(e);
          }
        }
      });
      assert.deepEqual(objects(r, 'HTTPTrigger').map((o) => o.inputs.metadata.name), ['first']);
      assert.equal(errors.length, 2);
      assert.match(String(errors[0]), /conflict: host hello\.localhost\.cosmonic\.sh path \/ \(Prefix\) is claimed by HTTPTrigger default\/first, default\/second; the controller routes it to the oldest and skips the others whole/);
      assert.match(String(errors[1]), /is claimed by HTTPTrigger default\/first, default\/second, default\/third;/);
    });

    it('lets triggers share a host under different paths or path types, as the controller does', async () => {
      const r = await build(() => {
        new HttpTrigger('root', onHello([{ path: '/', pathType: PathType.Prefix }]));
        new HttpTrigger('api', onHello([{ path: '/api', pathType: PathType.Prefix }]));
        new HttpTrigger('exact-root', onHello([{ path: '/', pathType: PathType.Exact }]));
        new HttpTrigger('other-host', { ...HELLO, ingress: { host: 'other.localhost.cosmonic.sh' } });
      });
      assert.equal(objects(r, 'HTTPTrigger').length, 4);
    });

    it('treats /api/ and /api as the same Prefix claim (the controller ignores one trailing slash)', async () => {
      const e = await failure(() => {
        new HttpTrigger('a', onHello([{ path: '/api', pathType: PathType.Prefix }]));
        new HttpTrigger('b', onHello([{ path: '/api/', pathType: PathType.Prefix }]));
      });
      assert.match(e.message, /path \/api \(Prefix\) is claimed by HTTPTrigger default\/a, default\/b/);
    });

    it('fails a second trigger with the same namespace and name', async () => {
      const e = await failure(() => {
        new HttpTrigger('one', { ...HELLO, name: 'hello' });
        new HttpTrigger('two', { ...HELLO, name: 'hello', ingress: { host: 'two.example.com' } });
      });
      assert.match(e.message, /HTTPTrigger default\/hello is defined more than once/);
    });

    it('forgets the triggers of a previous program run', async () => {
      for (let run = 0; run < 2; run++) {
        const r = await build(() => new HttpTrigger('hello', HELLO));
        assert.equal(objects(r, 'HTTPTrigger').length, 1);
      }
    });
  });

  describe('edge helpers', () => {
    it('covers a host by an exact or one-label wildcard route only', () => {
      assert.equal(hostCovers('hello.example.com', 'hello.example.com'), true);
      assert.equal(hostCovers('*.example.com', 'hello.example.com'), true);
      assert.equal(hostCovers('*.example.com', 'a.hello.example.com'), false);
      assert.equal(hostCovers('*.example.com', '*.example.com'), true);
      assert.equal(hostCovers('*.example.com', '*.a.example.com'), false);
      assert.equal(hostCovers('Hello.Example.com', 'hello.example.com'), true);
    });

    it('names edge objects within 63 characters, distinct for long names', () => {
      assert.equal(edgeObjectName('default', 'hello.v2'), 'trigger-default-hello-v2');
      const a = edgeObjectName('default', `${'a'.repeat(60)}-one`);
      const b = edgeObjectName('default', `${'a'.repeat(60)}-two`);
      assert.ok(a.length <= 63 && b.length <= 63 && a !== b, `${a} ${b}`);
    });
  });
});
