// A resident service (wasi:cli/run) keeps a search index in memory and writes snapshots to a
// shared ephemeral volume; the api component reads them and calls the service on 127.0.0.1.
import * as k8s from '@pulumi/kubernetes';
import { ControlPlane, HttpTrigger, PathType } from '../../components';

const cluster = new k8s.Provider('cluster', {});
const controlPlane = new ControlPlane('wasm-control', { controller: { image: 'ghcr.io/example/wasm-control:0.1.0' } }, { provider: cluster });

new HttpTrigger(
  'search',
  {
    controlPlane,
    ingress: { host: 'search.localhost.cosmonic.sh', paths: [{ path: '/search', pathType: PathType.Prefix }] },
    volumes: [{ name: 'data', ephemeral: {} }],
    service: {
      image: 'ghcr.io/example/index-service:0.1.0',
      localResources: { volumeMounts: [{ name: 'data', mountPath: '/data' }] },
    },
    components: [
      {
        name: 'api',
        image: 'ghcr.io/example/api:0.1.0',
        localResources: { volumeMounts: [{ name: 'data', mountPath: '/data', readOnly: true }] },
      },
    ],
    // The index is built in memory: give slow queries more than the 15s default.
    timeout: '60s',
  },
  { provider: cluster },
);
