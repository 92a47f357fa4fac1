/**
 * Perses with a provisioned Prometheus datasource and a dashboard of the
 * controller's and Envoy's metrics, and the small Prometheus that scrapes both
 * when no Prometheus URL is given.
 */
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { mergeValues } from './chart-values';
import { CONTROLLER, ENVOY, labels, PERSES, PORTS, PROMETHEUS, selector, serviceDns } from './names';
import { hardenedContainer, hardenedPod } from './pod-security';
import { Settings } from './settings';

export const PROMETHEUS_IMAGE = 'prom/prometheus:v3.5.0';
const PROVISIONING_DIR = '/etc/perses/provisioning';
const PROJECT = 'wasm-control';

/**
 * Metric names the dashboard queries. The controller's are its own
 * (`/metrics` on the admin port); Envoy's come from `/stats/prometheus`, where
 * each HTTPTrigger's workload is one upstream cluster.
 */
export const METRICS = {
  xdsStreams: 'wasm_control_xds_streams',
  triggers: 'wasm_control_triggers',
  xdsPushes: 'wasm_control_xds_pushes_total',
  xdsNacks: 'wasm_control_xds_nacks_total',
  envoyRequests: 'envoy_cluster_upstream_rq_total',
  envoyResponses: 'envoy_cluster_upstream_rq_xx',
  envoyConnectFailures: 'envoy_cluster_upstream_cx_connect_fail',
  envoyTimeouts: 'envoy_cluster_upstream_rq_timeout',
  envoyLdsRejected: 'envoy_listener_manager_lds_update_rejected',
  envoyCdsRejected: 'envoy_cluster_manager_cds_update_rejected',
} as const;

export function prometheusUrl(s: Settings): pulumi.Input<string> {
  return s.perses.prometheusUrl ?? `http://${serviceDns(PROMETHEUS, s.namespace)}:${PORTS.prometheus}`;
}

export function persesValues(s: Settings): Record<string, unknown> {
  return mergeValues(
    {
      config: { provisioning: { folders: [PROVISIONING_DIR] } },
      volumes: [{ name: 'wasm-control-provisioning', configMap: { name: `${PERSES}-provisioning` } }],
      volumeMounts: [{ name: 'wasm-control-provisioning', mountPath: PROVISIONING_DIR, readOnly: true }],
    },
    s.perses.values,
  );
}

/** Perses resources (project, global datasource, dashboard), one JSON file each, read from the provisioning folder. */
export function persesProvisioning(s: Settings): k8s.core.v1.ConfigMapArgs {
  return {
    metadata: { name: `${PERSES}-provisioning`, namespace: s.namespace, labels: labels(PERSES) },
    data: {
      'project.json': JSON.stringify({ kind: 'Project', metadata: { name: PROJECT }, spec: { display: { name: 'wasm-control' } } }, null, 2),
      'datasource.json': pulumi.output(prometheusUrl(s)).apply((url) =>
        JSON.stringify(
          {
            kind: 'GlobalDatasource',
            metadata: { name: 'prometheus' },
            spec: { default: true, plugin: { kind: 'PrometheusDatasource', spec: { proxy: { kind: 'HTTPProxy', spec: { url } } } } },
          },
          null,
          2,
        ),
      ),
      'dashboard.json': JSON.stringify(dashboard(), null, 2),
    },
  };
}

interface PanelDef {
  id: string;
  title: string;
  query: string;
  legend: string;
}

const ENVOY_TRIGGERS = `envoy_cluster_name!="xds_cluster"`;

const SECTIONS: { title: string; panels: PanelDef[] }[] = [
  {
    title: 'xDS (controller → Envoy)',
    panels: [
      { id: 'xdsStreams', title: 'xDS clients (open ADS streams)', query: `sum by (pod, mode) (${METRICS.xdsStreams}{type="any"})`, legend: '{{pod}} {{mode}}' },
      { id: 'xdsPushes', title: 'xDS pushes / s', query: `sum by (type) (rate(${METRICS.xdsPushes}[5m]))`, legend: '{{type}}' },
      { id: 'xdsNacks', title: 'xDS NACKs / s (controller)', query: `sum by (type) (rate(${METRICS.xdsNacks}[5m]))`, legend: '{{type}}' },
      { id: 'triggers', title: 'HTTPTriggers by state', query: `max by (state) (${METRICS.triggers})`, legend: '{{state}}' },
      {
        id: 'envoyRejected',
        title: 'Config rejected by Envoy / s',
        query: `sum(rate(${METRICS.envoyLdsRejected}[5m])) + sum(rate(${METRICS.envoyCdsRejected}[5m]))`,
        legend: 'LDS + CDS',
      },
    ],
  },
  {
    title: 'Requests per trigger (Envoy)',
    panels: [
      { id: 'requests', title: 'Requests / s', query: `sum by (envoy_cluster_name) (rate(${METRICS.envoyRequests}{${ENVOY_TRIGGERS}}[5m]))`, legend: '{{envoy_cluster_name}}' },
      {
        id: 'upstream5xx',
        title: 'Upstream 5xx / s',
        query: `sum by (envoy_cluster_name) (rate(${METRICS.envoyResponses}{${ENVOY_TRIGGERS},envoy_response_code_class="5"}[5m]))`,
        legend: '{{envoy_cluster_name}}',
      },
      {
        id: 'upstreamErrors',
        title: 'Upstream connect failures and timeouts / s',
        query:
          `sum by (envoy_cluster_name) (rate(${METRICS.envoyConnectFailures}{${ENVOY_TRIGGERS}}[5m]))` +
          ` + sum by (envoy_cluster_name) (rate(${METRICS.envoyTimeouts}{${ENVOY_TRIGGERS}}[5m]))`,
        legend: '{{envoy_cluster_name}}',
      },
    ],
  },
];

/** The Perses Dashboard: one time-series panel per query, two panels a row, a grid per section. */
export function dashboard(): Record<string, unknown> {
  const panels: Record<string, unknown> = {};
  for (const p of SECTIONS.flatMap((section) => section.panels)) {
    panels[p.id] = {
      kind: 'Panel',
      spec: {
        display: { name: p.title },
        plugin: { kind: 'TimeSeriesChart', spec: {} },
        queries: [
          { kind: 'TimeSeriesQuery', spec: { plugin: { kind: 'PrometheusTimeSeriesQuery', spec: { query: p.query, seriesNameFormat: p.legend } } } },
        ],
      },
    };
  }
  return {
    kind: 'Dashboard',
    metadata: { name: 'wasm-control', project: PROJECT },
    spec: {
      display: { name: 'wasm-control: controller and Envoy' },
      duration: '1h',
      refreshInterval: '30s',
      panels,
      layouts: SECTIONS.map((section) => ({
        kind: 'Grid',
        spec: {
          display: { title: section.title, collapse: { open: true } },
          items: section.panels.map((p, i) => ({
            x: (i % 2) * 12,
            y: Math.floor(i / 2) * 8,
            width: 12,
            height: 8,
            content: { $ref: `#/spec/panels/${p.id}` },
          })),
        },
      })),
    },
  };
}

/** Scrapes the controller's and Envoy's admin ports, found through the pod API in this namespace only. */
export function prometheusConfig(s: Settings): string {
  const job = (name: string, component: string, path: string) => ({
    job_name: name,
    metrics_path: path,
    kubernetes_sd_configs: [{ role: 'pod', namespaces: { names: [s.namespace] } }],
    relabel_configs: [
      {
        source_labels: ['__meta_kubernetes_pod_label_app_kubernetes_io_name', '__meta_kubernetes_pod_container_port_name'],
        regex: `${component};admin`,
        action: 'keep',
      },
      { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' },
    ],
  });
  return JSON.stringify(
    {
      global: { scrape_interval: '15s' },
      scrape_configs: [job('wasm-control-controller', CONTROLLER, '/metrics'), job('envoy', ENVOY, '/stats/prometheus')],
    },
    null,
    2,
  );
}

export function prometheusServiceAccount(s: Settings): k8s.core.v1.ServiceAccountArgs {
  return { metadata: { name: PROMETHEUS, namespace: s.namespace, labels: labels(PROMETHEUS) } };
}

/** Pod discovery in this namespace is all Prometheus needs from the API. */
export function prometheusRole(s: Settings): k8s.rbac.v1.RoleArgs {
  return {
    metadata: { name: PROMETHEUS, namespace: s.namespace, labels: labels(PROMETHEUS) },
    rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] }],
  };
}

export function prometheusRoleBinding(s: Settings, roleName: pulumi.Input<string>): k8s.rbac.v1.RoleBindingArgs {
  return {
    metadata: { name: PROMETHEUS, namespace: s.namespace, labels: labels(PROMETHEUS) },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: roleName },
    subjects: [{ kind: 'ServiceAccount', name: PROMETHEUS, namespace: s.namespace }],
  };
}

export function prometheusConfigMap(s: Settings): k8s.core.v1.ConfigMapArgs {
  // JSON is YAML, so prometheus.yml can hold it as is.
  return { metadata: { name: PROMETHEUS, namespace: s.namespace, labels: labels(PROMETHEUS) }, data: { 'prometheus.yml': prometheusConfig(s) } };
}

export function prometheusDeployment(s: Settings): k8s.apps.v1.DeploymentArgs {
  return {
    metadata: { name: PROMETHEUS, namespace: s.namespace, labels: labels(PROMETHEUS) },
    spec: {
      replicas: 1,
      // Two Prometheus pods would share nothing but the name; replace rather than overlap.
      strategy: { type: 'Recreate' },
      selector: { matchLabels: selector(PROMETHEUS) },
      template: {
        metadata: { labels: labels(PROMETHEUS) },
        spec: {
          ...hardenedPod(65534),
          serviceAccountName: PROMETHEUS,
          containers: [
            {
              ...hardenedContainer(),
              name: 'prometheus',
              image: PROMETHEUS_IMAGE,
              args: ['--config.file=/etc/prometheus/prometheus.yml', '--storage.tsdb.path=/prometheus', '--storage.tsdb.retention.time=2d'],
              ports: [{ name: 'http', containerPort: PORTS.prometheus, protocol: 'TCP' }],
              readinessProbe: { httpGet: { path: '/-/ready', port: 'http' }, periodSeconds: 10 },
              livenessProbe: { httpGet: { path: '/-/healthy', port: 'http' }, periodSeconds: 20 },
              resources: { requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '1Gi' } },
              volumeMounts: [
                { name: 'config', mountPath: '/etc/prometheus', readOnly: true },
                { name: 'data', mountPath: '/prometheus' },
              ],
            },
          ],
          volumes: [
            { name: 'config', configMap: { name: PROMETHEUS } },
            { name: 'data', emptyDir: { sizeLimit: '2Gi' } },
          ],
        },
      },
    },
  };
}

export function prometheusService(s: Settings): k8s.core.v1.ServiceArgs {
  return {
    metadata: { name: PROMETHEUS, namespace: s.namespace, labels: labels(PROMETHEUS) },
    spec: { selector: selector(PROMETHEUS), ports: [{ name: 'http', port: PORTS.prometheus, targetPort: 'http', protocol: 'TCP' }] },
  };
}
