// A workload without HTTP: a NATS-driven worker. The host subscribes to tasks.worker on the
// component's behalf and calls its wasmcloud:messaging/handler export for each message.
import * as k8s from '@pulumi/kubernetes';
import { ControlPlane, WorkloadDeployment } from '../../components';

const cluster = new k8s.Provider('cluster', {});
const controlPlane = new ControlPlane('wasm-control', { controller: { image: 'ghcr.io/example/wasm-control:0.1.0' } }, { provider: cluster });

new WorkloadDeployment(
  'task-worker',
  {
    controlPlane,
    hostInterfaces: [
      { namespace: 'wasi', package: 'logging', version: '0.1.0-draft', interfaces: ['logging'] },
      {
        namespace: 'wasmcloud',
        package: 'messaging',
        version: '0.2.0',
        interfaces: ['handler', 'consumer', 'types'],
        config: { subscriptions: 'tasks.worker' },
      },
    ],
    components: [{ name: 'task-worker', image: 'ghcr.io/example/task-worker:0.1.0', poolSize: 1 }],
  },
  { provider: cluster },
);
