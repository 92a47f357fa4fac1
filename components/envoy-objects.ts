/**
 * Envoy's Kubernetes objects: the bootstrap ConfigMap (ADS to the controller),
 * the Deployment, the `ingress` Service, a PodDisruptionBudget and a
 * NetworkPolicy that keeps Envoy's admin API inside the namespace.
 */
import { createHash } from 'node:crypto';
import * as k8s from '@pulumi/kubernetes';
import type * as pulumi from '@pulumi/pulumi';
import { envoyBootstrap } from '../controller/envoy/bootstrap';
import { CONTROLLER, ENVOY, INGRESS_SERVICE, labels, PORTS, selector, serviceDns } from './names';
import { hardenedContainer, hardenedPod } from './pod-security';
import { Settings } from './settings';
import { XDS_TLS_DIRS, XDS_TLS_SECRETS, xdsTlsFiles } from './xds-tls';

/** uid of the `envoy` user in the envoyproxy/envoy images. */
const ENVOY_UID = 101;
const BOOTSTRAP_FILE = 'bootstrap.json';

export function bootstrapJson(s: Settings): string {
  const files = xdsTlsFiles(XDS_TLS_DIRS.envoy);
  const bootstrap = envoyBootstrap({
    xdsHost: serviceDns(CONTROLLER, s.namespace),
    xdsPort: PORTS.controllerXds,
    adminPort: PORTS.envoyAdmin,
    apiType: s.envoy.adsApiType,
    tls: { certFile: files.cert, keyFile: files.key, caFile: files.ca },
  });
  return JSON.stringify(bootstrap, null, 2);
}

export function bootstrapConfigMap(s: Settings): k8s.core.v1.ConfigMapArgs {
  return {
    metadata: { name: `${ENVOY}-bootstrap`, namespace: s.namespace, labels: labels(ENVOY) },
    data: { [BOOTSTRAP_FILE]: bootstrapJson(s) },
  };
}

/** `envoyCertSha256`: Envoy reads its certificate once, so a new one must roll the pods too. */
export function deployment(s: Settings, envoyCertSha256: pulumi.Input<string>): k8s.apps.v1.DeploymentArgs {
  const bootstrap = bootstrapJson(s);
  return {
    metadata: { name: ENVOY, namespace: s.namespace, labels: labels(ENVOY) },
    spec: {
      replicas: s.envoy.replicas,
      selector: { matchLabels: selector(ENVOY) },
      template: {
        metadata: {
          labels: labels(ENVOY),
          // Envoy reads its bootstrap once at start: a changed bootstrap must roll the pods.
          annotations: { 'wasm-control/bootstrap-sha256': createHash('sha256').update(bootstrap).digest('hex'), 'wasm-control/xds-client-cert-sha256': envoyCertSha256 },
        },
        spec: {
          ...hardenedPod(ENVOY_UID),
          automountServiceAccountToken: false,
          containers: [
            {
              ...hardenedContainer(),
              name: 'envoy',
              image: s.envoy.image,
              args: ['-c', `/etc/envoy/${BOOTSTRAP_FILE}`],
              ports: [
                { name: 'http', containerPort: PORTS.envoyHttp, protocol: 'TCP' },
                { name: 'admin', containerPort: PORTS.envoyAdmin, protocol: 'TCP' },
              ],
              // /ready is 200 only once Envoy is LIVE, i.e. has its first listeners from the controller.
              readinessProbe: { httpGet: { path: '/ready', port: 'admin' }, periodSeconds: 5, failureThreshold: 2 },
              // Liveness must not use /ready: an Envoy waiting for the controller is alive, not broken.
              livenessProbe: { tcpSocket: { port: 'admin' }, periodSeconds: 10, failureThreshold: 3 },
              resources: s.envoy.resources ?? { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } },
              volumeMounts: [
                { name: 'bootstrap', mountPath: '/etc/envoy', readOnly: true },
                { name: 'xds-tls', mountPath: XDS_TLS_DIRS.envoy, readOnly: true },
              ],
            },
          ],
          volumes: [
            { name: 'bootstrap', configMap: { name: `${ENVOY}-bootstrap` } },
            { name: 'xds-tls', secret: { secretName: XDS_TLS_SECRETS.envoy } },
          ],
        },
      },
    },
  };
}

/** The Service named `ingress`: port 80 to Envoy's HTTP listener, typed and annotated as asked. */
export function ingressService(s: Settings): k8s.core.v1.ServiceArgs {
  const { type, annotations, httpNodePort } = s.envoy.service;
  return {
    metadata: {
      name: INGRESS_SERVICE,
      namespace: s.namespace,
      labels: labels(ENVOY),
      ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
    },
    spec: {
      type,
      selector: selector(ENVOY),
      ports: [
        {
          name: 'http',
          port: PORTS.ingressService,
          targetPort: PORTS.envoyHttp,
          protocol: 'TCP',
          ...(httpNodePort !== undefined ? { nodePort: httpNodePort } : {}),
        },
      ],
    },
  };
}


/**
 * The HTTP listener is open to all; the admin API (which can drain listeners,
 * quit Envoy and dump its config) only to pods in this namespace, e.g. the
 * bundled Prometheus.
 */
export function networkPolicy(s: Settings): k8s.networking.v1.NetworkPolicyArgs {
  return {
    metadata: { name: ENVOY, namespace: s.namespace, labels: labels(ENVOY) },
    spec: {
      podSelector: { matchLabels: selector(ENVOY) },
      policyTypes: ['Ingress'],
      ingress: [
        { ports: [{ port: PORTS.envoyHttp, protocol: 'TCP' }] },
        { from: [{ podSelector: {} }], ports: [{ port: PORTS.envoyAdmin, protocol: 'TCP' }] },
      ],
    },
  };
}
