// The documentation's hello-world: one component behind hello.localhost.cosmonic.sh, every path.
// The ControlPlane's Traefik gets an Ingress for the host, since its own ingress.hosts do not list it.
import * as k8s from '@pulumi/kubernetes';
import { ControlPlane, HttpTrigger } from '../../components';

const cluster = new k8s.Provider('cluster', {});
const controlPlane = new ControlPlane('wasm-control', { controller: { image: 'ghcr.io/example/wasm-control:0.1.0' } }, { provider: cluster });

const hello = new HttpTrigger(
  'hello-world',
  {
    controlPlane,
    components: [{ name: 'http', image: 'ghcr.io/cosmonic-labs/control-demos/hello-world:0.1.2' }],
    ingress: { host: 'hello.localhost.cosmonic.sh' },
  },
  { provider: cluster },
);

export const url = hello.url;
