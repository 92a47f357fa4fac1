// Blobby: a file server on NATS-backed wasi:blobstore, with wasi:logging. Both are standard
// interfaces of every wasmCloud host, so the placement check passes on the `general` host group.
import * as k8s from '@pulumi/kubernetes';
import { ControlPlane, HostGroup, HttpTrigger } from '../../components';

const cluster = new k8s.Provider('cluster', {});
const controlPlane = new ControlPlane(
  'wasm-control',
  {
    controller: { image: 'ghcr.io/example/wasm-control:0.1.0' },
    // The edge routes every host under the wildcard, so the trigger needs no Ingress of its own.
    ingress: { hosts: [{ host: '*.wasmworkloads.io' }] },
  },
  { provider: cluster },
);
const general = new HostGroup('general', { controlPlane, replicas: 2 }, { provider: cluster });

new HttpTrigger(
  'blobby',
  {
    controlPlane,
    hostGroup: general,
    components: [{ name: 'blobby', image: 'ghcr.io/cosmonic-labs/components/blobby:0.2.0' }],
    ingress: { host: 'blobby.wasmworkloads.io' },
    hostInterfaces: [
      { namespace: 'wasi', package: 'blobstore', version: '0.2.0-draft', interfaces: ['blobstore'] },
      { namespace: 'wasi', package: 'logging', version: '0.1.0-draft', interfaces: ['logging'] },
    ],
  },
  { provider: cluster },
);
