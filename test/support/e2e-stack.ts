/**
 * The program's test stack on the real test cluster, shared by the end-to-end
 * test (test/real-cluster/pulumi-program.test.ts) and `npm run local-up`
 * (test/local-up.ts): its stack settings, and the controller run as a process
 * against that cluster as the ServiceAccount the program creates.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import type { XdsCertificatesArgs } from '../../components/args';
import { CONTROLLER, serviceDns } from '../../components/names';
import { XDS_TLS_SECRETS, controllerDnsNames } from '../../components/xds-tls';
import { packageRoot } from '../../controller/package-root';
import { xdsTlsArgs } from '../../controller/cli/flags';
import { podEnvironment, spawnController, type ControllerProcess } from './controller-process';
import { clientCredentials, xdsPki } from './pki';
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
export function e2eStackSettings(kubeconfigPath: string, xdsCertificates: XdsCertificatesArgs, helloPath = '/'): Settings {
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
    // The Pulumi TLS provider cannot be built here (its Go module is not served), so the stack brings its own.
    'wasm-control:xdsTls': { certificates: xdsCertificates },
  };
}

/** The xDS CA and the controller's and Envoy's certificates, as a user's own PKI would give them (`xdsTls.certificates`). */
export async function e2eXdsCertificates(dir: string): Promise<XdsCertificatesArgs> {
  const { ca, server, client } = await xdsPki(dir, 'e2e', controllerDnsNames(CONTROL_PLANE_NAMESPACE).map((n) => `DNS:${n}`));
  const read = (file: string) => fs.readFileSync(file, 'utf8');
  return { ca: read(ca.cert), controllerCert: read(server.cert), controllerKey: read(server.key), envoyCert: read(client.cert), envoyKey: read(client.key) };
}

/** A `kubernetes.io/tls` Secret's three files, as a pod's volume holds them, written under `dir`. */
async function secretFiles(cluster: RealCluster, name: string, dir: string): Promise<{ cert: string; key: string; ca: string }> {
  const secret = JSON.parse(await cluster.kubectlOk(['get', 'secret', name, '-n', CONTROL_PLANE_NAMESPACE, '-o', 'json']));
  fs.mkdirSync(dir, { recursive: true });
  const file = (key: string) => {
    const at = path.join(dir, key);
    fs.writeFileSync(at, Buffer.from(secret.data[key], 'base64'), { mode: 0o600 });
    return at;
  };
  return { cert: file('tls.crt'), key: file('tls.key'), ca: file('ca.crt') };
}

/** What Envoy's pod mounts, as gRPC credentials: an xDS client the controller accepts as Envoy. */
export async function envoyXdsCredentials(cluster: RealCluster): Promise<grpc.ChannelCredentials> {
  const files = await secretFiles(cluster, XDS_TLS_SECRETS.envoy, path.join(cluster.dir, 'envoy-xds-tls'));
  return clientCredentials(files.ca, files);
}

/** The name Envoy's bootstrap checks the controller's certificate for (its Service's cluster DNS name). */
export const CONTROLLER_XDS_NAME = serviceDns(CONTROLLER, CONTROL_PLANE_NAMESPACE);

/**
 * The controller (`--source kubernetes`) as the ServiceAccount the ControlPlane created, with a
 * token from the TokenRequest API, and the xDS certificate of the Secret the ControlPlane made,
 * as in its pod; resolves once it serves.
 */
export async function startController(cluster: RealCluster, addresses = { xds: '127.0.0.1:0', admin: '127.0.0.1:0' }): Promise<ControllerProcess> {
  const kubeconfig = await cluster.serviceAccountKubeconfig(CONTROL_PLANE_NAMESPACE, CONTROLLER_ACCOUNT);
  const tls = await secretFiles(cluster, XDS_TLS_SECRETS.controller, path.join(cluster.dir, 'controller-xds-tls'));
  return spawnController(
    ['--source', 'kubernetes', '--xds-address', addresses.xds, '--admin-address', addresses.admin, ...xdsTlsArgs({ certFile: tls.cert, keyFile: tls.key, clientCaFile: tls.ca })],
    podEnvironment(kubeconfig, 'local', CONTROL_PLANE_NAMESPACE),
  );
}
