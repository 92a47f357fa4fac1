// A workload that imports wasi:webgpu runs only on hosts started with WebGPU: a HostGroup with
// gpu: true (hosts on GPU nodes, one nvidia.com/gpu each). Pointing it at a group without
// gpu fails `pulumi preview` with the interface, the group and the fix.
import * as k8s from '@pulumi/kubernetes';
import { ControlPlane, HostGroup, HttpTrigger } from '../../components';

const cluster = new k8s.Provider('cluster', {});
const controlPlane = new ControlPlane('wasm-control', { controller: { image: 'ghcr.io/example/wasm-control:0.1.0' } }, { provider: cluster });
const gpuHosts = new HostGroup('gpu', { controlPlane, gpu: true }, { provider: cluster });

new HttpTrigger(
  'image-filter',
  {
    controlPlane,
    hostGroup: gpuHosts,
    ingress: { host: 'filter.localhost.cosmonic.sh' },
    hostInterfaces: [{ namespace: 'wasi', package: 'webgpu', version: '0.0.1', interfaces: ['webgpu'] }],
    components: [{ name: 'filter', image: 'ghcr.io/example/image-filter:0.1.0' }],
    timeout: '120s',
  },
  { provider: cluster },
);

export const advertised = gpuHosts.advertisedInterfaces.map((i) => `${i.namespace}:${i.package}`);
