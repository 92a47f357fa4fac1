/**
 * The program's test stack on the real test cluster, shared by the end-to-end
 * test (test/real-cluster/pulumi-program.test.ts) and `npm run local-up`
 * (test/local-up.ts): its stack settings, and the controller run as a process
 * against that cluster as the ServiceAccount the program creates.
 */
import * as path from 'node:path';
import { packageRoot } from '../../controller/package-root';
import { podEnvironment, spawnController, type ControllerProcess } from './controller-process';
import { CONTROLLER_ACCOUNT, type RealCluster } from './real-cluster';

export const CHARTS = path.join(packageRoot(), 'test/charts');
export const CONTROL_PLANE_NAMESPACE = 'cosmonic-system';
export const ENVOY_NODE_PORT = 30950;

type Settings = Record<string, unknown>;

/** A stand-in chart of test/charts as a `wasm-control:charts` entry. */
export function standInChart(name: string): { path: string } {
  return { path: path.join(CHARTS, name) };
}

/** The documentation's hello-world and blobby (on host group `blobs`), the way a stack file declares them. */
export function e2eWorkloads(helloPath = '/'): Settings[] {
  return [
    {
      name: 'hello-world',
      image: 'ghcr.io/cosmonic-labs/control-demos/hello-world:0.1.2',
      ingress: { host: 'hello.localhost.cosmonic.sh', paths: [{ path: helloPath, pathType: 'Prefix' }] },
    },
    {
      name: 'blobby',
      hostGroup: 'blobs',
      components: [{ name: 'blobby', image: 'ghcr.io/cosmonic-labs/components/blobby:0.2.0' }],
      hostInterfaces: [
        { namespace: 'wasi', package: 'blobstore', version: '0.2.0-draft', interfaces: ['blobstore'] },
        { namespace: 'wasi', package: 'logging', version: '0.1.0-draft', interfaces: ['logging'] },
      ],
      ingress: { host: 'blobby.wasmworkloads.io' },
    },
  ];
}

/**
 * The test stack: the cluster's admin kubeconfig, Envoy exposed directly on node port 30950, one
 * controller and one Envoy, the runtime from the stand-in chart, one host group, both workloads.
 */
export function e2eStackSettings(kubeconfigPath: string, helloPath = '/'): Settings {
  return {
    'pulumi:disable-default-providers': ['kubernetes'],
    'wasm-control:clusterKind': 'existing',
    'wasm-control:kubeconfigPath': kubeconfigPath,
    'wasm-control:controllerImage': 'wasm-control:e2e',
    'wasm-control:ingressMode': 'direct',
    'wasm-control:envoyService': { type: 'NodePort', httpNodePort: ENVOY_NODE_PORT },
    'wasm-control:controllerReplicas': 1,
    'wasm-control:envoyReplicas': 1,
    'wasm-control:charts': { runtime: standInChart('runtime-operator') },
    'wasm-control:hostGroups': [{ name: 'blobs' }],
    'wasm-control:workloads': e2eWorkloads(helloPath),
  };
}

/**
 * The controller (`--source kubernetes`) as the ServiceAccount the ControlPlane created, with a
 * token from the TokenRequest API, as in its pod; resolves once it serves.
 */
export async function startController(cluster: RealCluster, addresses = { xds: '127.0.0.1:0', admin: '127.0.0.1:0' }): Promise<ControllerProcess> {
  const kubeconfig = await cluster.serviceAccountKubeconfig(CONTROL_PLANE_NAMESPACE, CONTROLLER_ACCOUNT);
  return spawnController(['--source', 'kubernetes', '--xds-address', addresses.xds, '--admin-address', addresses.admin], podEnvironment(kubeconfig, 'local', CONTROL_PLANE_NAMESPACE));
}
