import * as assert from 'node:assert/strict';
import { ControlPlane, HostGroup, WorkloadDeployment, WorkloadDeploymentArgs } from '../../components';
import { controlPlaneInternals } from '../../components/control-plane-registry';
import { validateSchema } from '../../controller/api/schema';
import { build, object, objects, Registered, valueOf } from './harness';
import { ChildOptions, failure } from './workloads-harness';

const TASK_WORKER: WorkloadDeploymentArgs = {
  hostInterfaces: [
    { namespace: 'wasi', package: 'logging', version: '0.1.0-draft', interfaces: ['logging'] },
    { namespace: 'wasmcloud', package: 'messaging', version: '0.2.0', interfaces: ['handler', 'consumer', 'types'], config: { subscriptions: 'tasks.worker' } },
  ],
  components: [{ name: 'task-worker', image: 'ghcr.io/example/task-worker:0.1.0', poolSize: 1 }],
};

const INDEX_SERVICE: WorkloadDeploymentArgs = {
  volumes: [{ name: 'data', ephemeral: {} }],
  service: { image: 'ghcr.io/example/index-service:0.1.0', localResources: { volumeMounts: [{ name: 'data', mountPath: '/data' }] } },
  components: [{ name: 'api', image: 'ghcr.io/example/api:0.1.0', localResources: { volumeMounts: [{ name: 'data', mountPath: '/data', readOnly: true }] } }],
};

function deployment(r: Registered[], name: string): Record<string, any> {
  return object(r, 'WorkloadDeployment', name);
}

describe('WorkloadDeployment (Pulumi mocks)', () => {
  it('writes the flat arguments into spec.template.spec of a manifest the runtime schema accepts', async () => {
    let wd: WorkloadDeployment;
    const r = await build(() => {
      wd = new WorkloadDeployment('task-worker', { ...TASK_WORKER, replicas: 2 });
    });
    const cr = deployment(r, 'task-worker');
    assert.equal(cr.apiVersion, 'runtime.wasmcloud.dev/v1alpha1');
    assert.deepEqual(cr.metadata, { name: 'task-worker', namespace: 'default' });
    assert.equal(cr.spec.replicas, 2);
    assert.deepEqual(cr.spec.template.spec, { components: TASK_WORKER.components, hostInterfaces: TASK_WORKER.hostInterfaces });
    assert.ok(validateSchema('WorkloadDeployment', cr).ok);
    assert.equal(await valueOf(wd!.deploymentName), 'task-worker');
  });

  it('carries the service-plus-components shape: service, shared ephemeral volume and mounts', async () => {
    const r = await build(() => new WorkloadDeployment('index', { ...INDEX_SERVICE, name: 'index-service', namespace: 'search' }));
    const cr = deployment(r, 'index-service');
    assert.equal(cr.metadata.namespace, 'search');
    assert.deepEqual(cr.spec.template.spec, { components: INDEX_SERVICE.components, volumes: INDEX_SERVICE.volumes, service: INDEX_SERVICE.service });
    assert.ok(validateSchema('WorkloadDeployment', cr).ok);
  });

  it('is created after the runtime chart, which brings its CRD', async () => {
    const children = new ChildOptions();
    let cp: ControlPlane;
    await build(() => {
      cp = new ControlPlane('cp', { controller: { image: 'ghcr.io/example/wasm-control:0.1.0' } });
      new WorkloadDeployment('task-worker', { ...TASK_WORKER, controlPlane: cp }, children.opts);
    });
    const runtime = controlPlaneInternals(cp!)!.runtime;
    assert.ok(runtime);
    assert.deepEqual(children.dependsOn('task-worker-workloaddeployment'), [runtime]);
  });

  it('selects its HostGroup and is checked against what the group advertises', async () => {
    const r = await build(() => new WorkloadDeployment('task-worker', { ...TASK_WORKER, hostGroup: new HostGroup('workers', {}) }));
    assert.deepEqual(deployment(r, 'task-worker').spec.template.spec.hostSelector, { hostgroup: 'workers' });

    const e = await failure(() => {
      const workers = new HostGroup('workers', {});
      new WorkloadDeployment('renderer', { ...TASK_WORKER, hostGroup: workers, hostInterfaces: [{ namespace: 'wasi', package: 'webgpu', version: '0.0.1', interfaces: ['webgpu'] }] });
    });
    assert.match(e.message, /^WorkloadDeployment default\/renderer would not run as declared:/);
    assert.match(e.message, /host group "workers" \(hostgroup=workers\) does not advertise wasi:webgpu\/webgpu@0\.0\.1.*GPU host group/);
  });

  it('fails a messaging version the hosts do not serve (versions must be equal when both are given)', async () => {
    const e = await failure(() => {
      const workers = new HostGroup('workers', {});
      new WorkloadDeployment('old', { ...TASK_WORKER, hostGroup: workers, hostInterfaces: [{ namespace: 'wasmcloud', package: 'messaging', version: '0.1.0', interfaces: ['handler'] }] });
    });
    assert.match(e.message, /does not advertise wasmcloud:messaging\/handler@0\.1\.0/);
  });

  describe('checks at construction', () => {
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['a mount of an undeclared volume', { ...INDEX_SERVICE, volumes: [] }, /spec\.template\.spec: service mounts volume "data", which is not in spec\.template\.spec\.volumes/],
      [
        'two unnamed entries of one package',
        { ...TASK_WORKER, hostInterfaces: [{ namespace: 'wasi', package: 'logging', interfaces: ['logging'] }, { namespace: 'wasi', package: 'logging', version: '0.1.0-draft', interfaces: ['logging'] }] },
        /at most one unnamed hostInterface is allowed per wasi:logging; set a unique name/,
      ],
      ['a volume that is both ephemeral and a host path', { ...INDEX_SERVICE, volumes: [{ name: 'data', ephemeral: {}, hostPath: { path: '/d' } }] }, /spec\.template\.spec\.volumes\[0\]: set only one of ephemeral, hostPath/],
      ['a negative pool size', { components: [{ name: 'c', image: 'i', poolSize: -1 }] }, /spec\.template\.spec\.components\[0\]\.poolSize: must be >= 0/],
      ['a component without an image', { components: [{ name: 'c' }] }, /spec\.template\.spec\.components\[0\]\.image: required field is missing/],
      ['an unknown deploy policy', { ...TASK_WORKER, deployPolicy: 'BlueGreen' }, /deployPolicy "BlueGreen" is not supported: use one of "RollingUpdate", "Recreate"/],
      ['an invalid namespace', { ...TASK_WORKER, namespace: 'Team_A' }, /metadata\.namespace "Team_A" is not a valid namespace/],
      ['hostGroup with hostSelector', { ...TASK_WORKER, hostGroup: { groupName: 'g', advertisedInterfaces: [] }, hostSelector: { a: 'b' } }, /hostGroup and hostSelector are both set/],
    ];
    for (const [what, args, message] of cases) {
      it(`fails ${what}, as a ResourceError on the deployment`, async () => {
        const e = await failure(() => new WorkloadDeployment('bad', args as unknown as WorkloadDeploymentArgs));
        assert.match(e.message, message);
      });
    }

    it('fails a second deployment with the same namespace and name', async () => {
      const e = await failure(() => {
        new WorkloadDeployment('a', { ...TASK_WORKER, name: 'worker' });
        new WorkloadDeployment('b', { ...TASK_WORKER, name: 'worker' });
      });
      assert.match(e.message, /WorkloadDeployment default\/worker is defined more than once/);
    });

    it('creates nothing when a check fails', async () => {
      const r = await build(() => {
        try {
          new WorkloadDeployment('bad', { components: [{ name: 'c', image: 'i', poolSize: -1 }] });
        } catch {
          // expected: the test is about what was registered
        }
      });
      assert.equal(objects(r, 'WorkloadDeployment').length, 0);
    });
  });
});
