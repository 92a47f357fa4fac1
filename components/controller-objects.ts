/**
 * The controller's Kubernetes objects as plain arguments for the typed
 * @pulumi/kubernetes classes: its ServiceAccount and least-privilege RBAC, the
 * Deployment, the xDS/admin Service, a PodDisruptionBudget and the
 * NetworkPolicy that lets only Envoy reach the xDS port.
 */
import { controllerMemory } from '../controller/memory-sizing';
import { xdsTlsArgs } from '../controller/cli/flags';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import * as YAML from 'yaml';
import { packageRoot } from '../controller/package-root';
import { CONTROLLER, ENVOY, labels, PORTS, selector } from './names';
import { Settings } from './settings';
import { hardenedContainer, hardenedPod } from './pod-security';
import { XDS_TLS_DIRS, XDS_TLS_SECRETS, xdsTlsFiles } from './xds-tls';

/** The chart's client certificate for NATS (runtime-operator `global.certificates.operatorCertSecretName`). */
export const NATS_CLIENT_CERT_SECRET = 'wasmcloud-operator-tls';
const NATS_CERT_DIR = '/etc/nats-tls';

export function serviceAccount(s: Settings): k8s.core.v1.ServiceAccountArgs {
  return { metadata: { name: CONTROLLER, namespace: s.namespace, labels: labels(CONTROLLER) } };
}

/** The controller's RBAC rules by kind, from controller/rbac.yaml (the one source, also usable with kubectl). */
function rbacRules(kind: 'ClusterRole' | 'Role'): k8s.types.input.rbac.v1.PolicyRule[] {
  const docs = YAML.parseAllDocuments(fs.readFileSync(path.join(packageRoot(), 'controller/rbac.yaml'), 'utf8')).map((d) => d.toJS());
  const doc = docs.find((d) => d?.kind === kind);
  if (!doc) throw new Error(`controller/rbac.yaml has no ${kind}`);
  return doc.rules;
}

/** Cluster-wide reads of the kinds the controller resolves, writes of what it owns, and nothing else (no secrets, no wildcards). */
export function clusterRole(s: Settings): k8s.rbac.v1.ClusterRoleArgs {
  return {
    metadata: { name: `${CONTROLLER}-${s.namespace}`, labels: labels(CONTROLLER) },
    rules: rbacRules('ClusterRole'),
  };
}

export function clusterRoleBinding(s: Settings, roleName: pulumi.Input<string>): k8s.rbac.v1.ClusterRoleBindingArgs {
  return {
    metadata: { name: `${CONTROLLER}-${s.namespace}`, labels: labels(CONTROLLER) },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: roleName },
    subjects: [{ kind: 'ServiceAccount', name: CONTROLLER, namespace: s.namespace }],
  };
}

/** Leader election, in the control plane's namespace only. */
export function leaseRole(s: Settings): k8s.rbac.v1.RoleArgs {
  return {
    metadata: { name: `${CONTROLLER}-leader-election`, namespace: s.namespace, labels: labels(CONTROLLER) },
    rules: rbacRules('Role'),
  };
}

export function leaseRoleBinding(s: Settings, roleName: pulumi.Input<string>): k8s.rbac.v1.RoleBindingArgs {
  return {
    metadata: { name: `${CONTROLLER}-leader-election`, namespace: s.namespace, labels: labels(CONTROLLER) },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: roleName },
    subjects: [{ kind: 'ServiceAccount', name: CONTROLLER, namespace: s.namespace }],
  };
}

export function deployment(s: Settings): k8s.apps.v1.DeploymentArgs {
  const c = s.controller;
  const memory = controllerMemory(c.expectedTriggers);
  const natsTls = s.runtime.natsTls;
  const controllerTls = xdsTlsFiles(XDS_TLS_DIRS.controller);
  return {
    metadata: { name: CONTROLLER, namespace: s.namespace, labels: labels(CONTROLLER) },
    spec: {
      replicas: c.replicas,
      selector: { matchLabels: selector(CONTROLLER) },
      template: {
        metadata: { labels: labels(CONTROLLER) },
        spec: {
          ...hardenedPod(65532),
          serviceAccountName: CONTROLLER,
          containers: [
            {
              ...hardenedContainer(),
              name: 'controller',
              image: c.image,
              args: [
                '--source', 'kubernetes',
                '--xds-address', `0.0.0.0:${PORTS.controllerXds}`,
                // Probes and Prometheus need the admin port from outside the pod; the debug views (every
                // route, endpoint and client) stay on loopback, for `kubectl port-forward`.
                '--admin-address', `0.0.0.0:${PORTS.controllerAdmin}`,
                '--debug-address', `127.0.0.1:${PORTS.controllerDebug}`,
                '--unlisted-hosts', s.hostPolicy.unlistedHosts,
                ...xdsTlsArgs({ certFile: controllerTls.cert, keyFile: controllerTls.key, clientCaFile: controllerTls.ca }),
                '--log-level', c.logLevel,
              ],
              env: [
                { name: 'NATS_URL', value: c.natsUrl },
                ...(natsTls
                  ? [
                      { name: 'NATS_CA_FILE', value: `${NATS_CERT_DIR}/ca.crt` },
                      { name: 'NATS_CERT_FILE', value: `${NATS_CERT_DIR}/tls.crt` },
                      { name: 'NATS_KEY_FILE', value: `${NATS_CERT_DIR}/tls.key` },
                    ]
                  : []),
                // Node collects before the kernel's limit kills it (only with the sized default: a
                // resources override states its own limit, which Node reads from the cgroup itself).
                ...(c.resources ? [] : [{ name: 'NODE_OPTIONS', value: memory.nodeOptions }]),
                { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
              ],
              ports: [
                { name: 'xds', containerPort: PORTS.controllerXds, protocol: 'TCP' },
                { name: 'admin', containerPort: PORTS.controllerAdmin, protocol: 'TCP' },
              ],
              livenessProbe: { httpGet: { path: '/healthz', port: 'admin' }, periodSeconds: 10, failureThreshold: 3 },
              readinessProbe: { httpGet: { path: '/readyz', port: 'admin' }, periodSeconds: 5, failureThreshold: 2 },
              resources: c.resources ?? { requests: { cpu: '100m', memory: `${memory.requestMi}Mi` }, limits: { memory: `${memory.limitMi}Mi` } },
              volumeMounts: [
                { name: 'tmp', mountPath: '/tmp' },
                { name: 'xds-tls', mountPath: XDS_TLS_DIRS.controller, readOnly: true },
                ...(natsTls ? [{ name: 'nats-tls', mountPath: NATS_CERT_DIR, readOnly: true }] : []),
              ],
            },
          ],
          volumes: [
            { name: 'tmp', emptyDir: {} },
            // The controller re-reads these files as the kubelet updates them: a renewal needs no restart.
            { name: 'xds-tls', secret: { secretName: XDS_TLS_SECRETS.controller } },
            ...(natsTls ? [{ name: 'nats-tls', secret: { secretName: NATS_CLIENT_CERT_SECRET } }] : []),
          ],
        },
      },
    },
  };
}

export function service(s: Settings): k8s.core.v1.ServiceArgs {
  return {
    metadata: { name: CONTROLLER, namespace: s.namespace, labels: labels(CONTROLLER) },
    spec: {
      type: 'ClusterIP',
      selector: selector(CONTROLLER),
      ports: [
        // gRPC over TLS: opaque to a mesh, which must pass it through.
        { name: 'xds', port: PORTS.controllerXds, targetPort: 'xds', protocol: 'TCP', appProtocol: 'tls' },
        { name: 'admin', port: PORTS.controllerAdmin, targetPort: 'admin', protocol: 'TCP' },
      ],
    },
  };
}


/**
 * xDS carries the whole routing table, so only Envoy pods may open it. The admin
 * port (health, metrics) stays open for the kubelet and any Prometheus.
 */
export function networkPolicy(s: Settings): k8s.networking.v1.NetworkPolicyArgs {
  return {
    metadata: { name: CONTROLLER, namespace: s.namespace, labels: labels(CONTROLLER) },
    spec: {
      podSelector: { matchLabels: selector(CONTROLLER) },
      policyTypes: ['Ingress'],
      ingress: [
        { from: [{ podSelector: { matchLabels: selector(ENVOY) } }], ports: [{ port: PORTS.controllerXds, protocol: 'TCP' }] },
        { ports: [{ port: PORTS.controllerAdmin, protocol: 'TCP' }] },
      ],
    },
  };
}
