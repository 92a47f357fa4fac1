import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { ControlPlane, HostGroup, HostGroupArgs, STANDARD_HOST_INTERFACES } from '../../components';
import { controlPlaneInternals } from '../../components/control-plane-registry';
import { HOST_GROUP_DEFAULTS, hostScheduling } from '../../components/host-group';
import { build, chart, charts, Registered, valueOf } from './harness';
import { validateObject } from './k8s-schemas';
import { ChildOptions, failure } from './workloads-harness';

const RUNTIME = 'oci://ghcr.io/wasmcloud/charts/runtime-operator';

async function hostGroup(name: string, args: HostGroupArgs): Promise<{ r: Registered[]; g: HostGroup; children: ChildOptions }> {
  const children = new ChildOptions();
  let g: HostGroup;
  const r = await build(() => {
    g = new HostGroup(name, args, children.opts);
  });
  return { r, g: g!, children };
}

describe('HostGroup (Pulumi mocks)', () => {
  describe('defaults', () => {
    let built: Awaited<ReturnType<typeof hostGroup>>;
    before(async () => {
      built = await hostGroup('general', {});
    });

    it('installs a hosts-only release of the runtime chart: no operator, NATS, gateway, CRDs or certificates of its own', () => {
      const c = chart(built.r, RUNTIME);
      assert.equal(c.name, 'wasmcloud-hosts-general');
      assert.equal(c.namespace, 'cosmonic-system');
      assert.equal(c.version, '2.7.0');
      assert.equal(c.skipCrds, true);
      assert.deepEqual(c.values.operator, { enabled: false });
      assert.deepEqual(c.values.nats, { enabled: false });
      assert.deepEqual(c.values.gateway, { enabled: false });
      assert.deepEqual(c.values.global, { tls: { enabled: true }, certificates: { generate: false } });
    });

    it('declares one host group with its replicas and HTTP port, without WebGPU', () => {
      assert.deepEqual(chart(built.r, RUNTIME).values.runtime.hostGroups, [{ name: 'general', replicas: 1, http: { enabled: true, port: 9191 }, webgpu: { enabled: false } }]);
    });

    it('advertises the standard wash host interfaces, without wasi:webgpu', async () => {
      assert.deepEqual(built.g.advertisedInterfaces, STANDARD_HOST_INTERFACES);
      assert.ok(!built.g.advertisedInterfaces.some((i) => i.package === 'webgpu'));
      for (const p of ['http', 'logging', 'blobstore', 'keyvalue', 'config', 'messaging', 'secrets']) {
        assert.ok(built.g.advertisedInterfaces.some((i) => i.package === p), p);
      }
      assert.deepEqual(await valueOf(built.g.hostSelector), { hostgroup: 'general' });
      assert.equal(built.g.groupName, 'general');
    });

    it('leaves scheduling to the chart', () => {
      assert.deepEqual(built.children.of('general-hosts').transforms, []);
    });
  });

  describe('gpu: true', () => {
    let built: Awaited<ReturnType<typeof hostGroup>>;
    before(async () => {
      built = await hostGroup('gpu', { gpu: true, gpusPerHost: 2, replicas: 2 });
    });

    it('turns on WebGPU and requests the GPUs, keeping the chart\'s host sizing', () => {
      const [group] = chart(built.r, RUNTIME).values.runtime.hostGroups;
      assert.deepEqual(group.webgpu, { enabled: true });
      assert.equal(group.replicas, 2);
      assert.deepEqual(group.resources, { requests: { cpu: '250m', memory: '64Mi' }, limits: { memory: '512Mi', 'nvidia.com/gpu': 2 } });
      assert.deepEqual(HOST_GROUP_DEFAULTS.resources.limits, { memory: '512Mi' }, 'the defaults are not modified');
    });

    it('advertises wasi:webgpu besides the standard interfaces', () => {
      assert.deepEqual(built.g.advertisedInterfaces.slice(-1), [{ namespace: 'wasi', package: 'webgpu', version: '0.0.1', interfaces: ['webgpu'] }]);
      assert.equal(built.g.advertisedInterfaces.length, STANDARD_HOST_INTERFACES.length + 1);
    });

    it('schedules the host Deployment on GPU nodes through a transform of the chart', () => {
      const transforms = built.children.of('gpu-hosts').transforms as pulumi.ResourceTransform[];
      assert.equal(transforms.length, 1);
      const deployment = hostDeployment('hostgroup-gpu');
      const result = transforms[0]({ type: 'kubernetes:apps/v1:Deployment', name: 'x', custom: true, props: deployment, opts: {} }) as pulumi.ResourceTransformResult;
      const pod = result.props.spec.template.spec;
      assert.deepEqual(pod.nodeSelector, { 'kubernetes.io/os': 'linux', 'nvidia.com/gpu.present': 'true' });
      assert.deepEqual(pod.tolerations, [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]);
      assert.deepEqual(pod.containers, deployment.spec.template.spec.containers, 'the rest of the pod is kept');
      return validateObject(result.props);
    });
  });

  it('the scheduling transform leaves other objects alone', () => {
    const transform = hostScheduling('gpu', { nodeSelector: { a: 'b' } });
    const other = (type: string, name: string) => transform({ type, name: 'x', custom: true, props: hostDeployment(name), opts: {} });
    assert.equal(other('kubernetes:apps/v1:Deployment', 'hostgroup-default'), undefined);
    assert.equal(other('kubernetes:core/v1:Service', 'hostgroup-gpu'), undefined);
  });

  it('takes node selector, tolerations, resources and extra interfaces as given', async () => {
    const { r, g, children } = await hostGroup('edge', {
      nodeSelector: { zone: 'edge' },
      tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'wasm', effect: 'NoSchedule' }],
      resources: { limits: { memory: '2Gi' } },
      httpPort: 8000,
      extraInterfaces: [{ namespace: 'wasmcloud', package: 'postgres', version: '0.1.1-draft', interfaces: ['query'] }],
      values: { runtime: { image: { tag: '2.7.1' } } },
    });
    const values = chart(r, RUNTIME).values;
    assert.deepEqual(values.runtime.hostGroups[0].resources, { requests: { cpu: '250m', memory: '64Mi' }, limits: { memory: '2Gi' } });
    assert.equal(values.runtime.hostGroups[0].http.port, 8000);
    assert.deepEqual(values.runtime.image, { tag: '2.7.1' });
    assert.equal((children.of('edge-hosts').transforms as unknown[]).length, 1);
    assert.ok(g.advertisedInterfaces.some((i) => i.package === 'postgres'));
  });

  it('joins the ControlPlane\'s runtime: its namespace, chart version and TLS, after its release', async () => {
    const children = new ChildOptions();
    let cp: ControlPlane;
    const r = await build(() => {
      cp = new ControlPlane('cp', { namespace: 'wasm', controller: { image: 'i' }, runtime: { chartVersion: '2.6.0', natsTls: false } });
      new HostGroup('gpu', { controlPlane: cp, gpu: true }, children.opts);
    });
    // Two releases of the runtime chart: the ControlPlane's and the hosts-only one.
    const releases = charts(r).filter((c) => c.inputs.chart === RUNTIME);
    assert.deepEqual(releases.map((c) => c.inputs.name).sort(), ['wasmcloud-hosts-gpu', 'wasmcloud-runtime']);
    const hosts = releases.find((c) => c.inputs.name === 'wasmcloud-hosts-gpu')!.inputs;
    assert.equal(hosts.namespace, 'wasm');
    assert.equal(hosts.version, '2.6.0');
    assert.deepEqual(hosts.values.global.tls, { enabled: false });
    assert.deepEqual(children.dependsOn('gpu-hosts'), [controlPlaneInternals(cp!)!.runtime]);
  });

  it('takes the runtime chart from where the ControlPlane takes it, unless told otherwise', async () => {
    const r = await build(() => {
      const cp = new ControlPlane('cp', { controller: { image: 'i' }, runtime: { chart: { repository: 'oci://mirror.example.com/wasmcloud' } } });
      new HostGroup('mirrored', { controlPlane: cp });
      new HostGroup('local', { controlPlane: cp, chart: { path: 'test/charts/runtime-operator' } });
    });
    const byRelease = new Map<string, Record<string, any>>(charts(r).map((c) => [c.inputs.name, c.inputs]));
    assert.equal(byRelease.get('wasmcloud-hosts-mirrored')!.chart, 'oci://mirror.example.com/wasmcloud/runtime-operator');
    assert.equal(byRelease.get('wasmcloud-hosts-mirrored')!.version, '2.7.0');
    assert.equal(byRelease.get('wasmcloud-hosts-local')!.chart, path.resolve('test/charts/runtime-operator'));
    assert.equal(byRelease.get('wasmcloud-hosts-local')!.version, undefined);
  });

  describe('checks at construction', () => {
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['the runtime release\'s own group name', { groupName: 'default' }, /groupName "default" is the runtime release's own host group/],
      ['a group name that cannot name a Deployment', { groupName: 'GPU_hosts' }, /groupName "GPU_hosts" must be 1-42 lower-case letters/],
      ['GPUs per host without gpu', { gpusPerHost: 2 }, /gpusPerHost is set but gpu is not/],
      ['a port out of range', { httpPort: 70000 }, /httpPort 70000 must be a port number/],
      ['a fractional replica count', { replicas: 1.5 }, /replicas 1\.5 must be a whole number/],
      ['a chart path that holds no chart', { chart: { path: 'test' } }, /chart path "test" \(.*\) is not a chart/],
      ['a non-boolean gpu', { gpu: 'yes' }, /gpu must be true or false, got "yes"/],
      ['malformed extra interfaces', { extraInterfaces: [{ namespace: 'wasi' }] }, /extraInterfaces must be a list of/],
    ];
    for (const [what, args, message] of cases) {
      it(`fails ${what}, as a ResourceError on the host group`, async () => {
        const e = await failure(() => new HostGroup('bad', args as HostGroupArgs));
        assert.match(e.message, /^HostGroup \S+ would not run as declared:/);
        assert.match(e.message, message);
      });
    }

    it('fails two groups of one name in one namespace', async () => {
      const e = await failure(() => {
        new HostGroup('a', { groupName: 'gpu' });
        new HostGroup('b', { groupName: 'gpu' });
      });
      assert.match(e.message, /groupName "gpu" is already used by HostGroup a in namespace cosmonic-system/);
    });

    it('fails a namespace other than the ControlPlane\'s', async () => {
      const e = await failure(() => {
        const cp = new ControlPlane('cp', { controller: { image: 'i' } });
        new HostGroup('gpu', { controlPlane: cp, namespace: 'elsewhere' });
      });
      assert.match(e.message, /namespace "elsewhere" differs from the ControlPlane's "cosmonic-system"/);
    });
  });
});

/** A Deployment as the chart renders it for a host group (the parts that matter here). */
function hostDeployment(name: string): Record<string, any> {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, labels: { 'wasmcloud.com/hostgroup': name.replace('hostgroup-', '') } },
    spec: {
      selector: { matchLabels: { 'wasmcloud.com/hostgroup': name.replace('hostgroup-', '') } },
      template: {
        metadata: { labels: { 'wasmcloud.com/hostgroup': name.replace('hostgroup-', '') } },
        spec: { nodeSelector: { 'kubernetes.io/os': 'linux' }, containers: [{ name: 'host', image: 'ghcr.io/wasmcloud/wash:2.7.0' }] },
      },
    },
  };
}
