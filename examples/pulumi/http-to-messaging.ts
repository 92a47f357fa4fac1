// The two-component application: the HTTP side publishes each request with
// wasmcloud:messaging/consumer.request; the worker receives it on tasks.worker and replies.
import * as k8s from '@pulumi/kubernetes';
import { ControlPlane, HostGroup, HttpTrigger, WorkloadDeployment } from '../../components';

const cluster = new k8s.Provider('cluster', {});
const controlPlane = new ControlPlane('wasm-control', { controller: { image: 'ghcr.io/example/wasm-control:0.1.0' } }, { provider: cluster });
const general = new HostGroup('general', { controlPlane }, { provider: cluster });

const logging = { namespace: 'wasi', package: 'logging', version: '0.1.0-draft', interfaces: ['logging'] };

new HttpTrigger(
  'tasks-api',
  {
    controlPlane,
    hostGroup: general,
    ingress: { host: 'tasks.localhost.cosmonic.sh' },
    hostInterfaces: [logging, { namespace: 'wasmcloud', package: 'messaging', version: '0.2.0', interfaces: ['consumer', 'types'] }],
    components: [{ name: 'http-api', image: 'ghcr.io/example/tasks-http-api:0.1.0' }],
  },
  { provider: cluster },
);

new WorkloadDeployment(
  'task-worker',
  {
    controlPlane,
    hostGroup: general,
    hostInterfaces: [
      logging,
      { namespace: 'wasmcloud', package: 'messaging', version: '0.2.0', interfaces: ['handler', 'consumer', 'types'], config: { subscriptions: 'tasks.worker' } },
    ],
    components: [{ name: 'task-worker', image: 'ghcr.io/example/task-worker:0.1.0', poolSize: 1 }],
  },
  { provider: cluster },
);
