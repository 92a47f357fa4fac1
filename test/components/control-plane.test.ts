import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { ControlPlane, ControlPlaneArgs } from '../../components';
import { DEFAULT_ADS_API_TYPE } from '../../controller/envoy/bootstrap';
import { decodeToJson, encodeJson, messageType } from '../../controller/envoy/protos';
import { build, chart, charts, object, objects, Registered, valueOf } from './harness';
import { validateObject } from './k8s-schemas';

const IMAGE = 'ghcr.io/example/wasm-control:0.1.0';
const TRAEFIK = 'traefik';
const PERSES = 'perses';
const RUNTIME = 'oci://ghcr.io/wasmcloud/charts/runtime-operator';

interface Built {
  r: Registered[];
  cp: ControlPlane;
}

async function controlPlane(args: Omit<ControlPlaneArgs, 'controller'> & { controller?: ControlPlaneArgs['controller'] }): Promise<Built> {
  let cp: ControlPlane | undefined;
  const r = await build(() => {
    cp = new ControlPlane('cp', { controller: { image: IMAGE }, ...args });
  });
  return { r, cp: cp! };
}

/** The resources (`type name`) whose inputs hold `text` anywhere. */
function holding(r: Registered[], text: string): string[] {
  return r.filter((x) => JSON.stringify(x.inputs).includes(JSON.stringify(text).slice(1, -1))).map((x) => `${x.type} ${x.name}`);
}

function kinds(r: Registered[], kind: string): string[] {
  return objects(r, kind).map((o) => o.inputs.metadata.name).sort();
}

/** Every Kubernetes object the component builds itself (charts' insides are not ours) is valid upstream. */
async function assertAllValid(r: Registered[]): Promise<void> {
  const ours = r.filter((o) => o.custom && !o.id && o.type.startsWith('kubernetes:') && o.type !== 'kubernetes:helm.sh/v4:Chart');
  assert.ok(ours.length > 10, `expected the component's objects, got ${ours.length}`);
  for (const o of ours) await validateObject(o.inputs);
}

describe('ControlPlane (Pulumi mocks)', () => {
  describe('defaults: Traefik edge', () => {
    let built: Built;
    before(async () => {
      built = await controlPlane({});
    });

    it('creates the namespace, the HTTPTrigger CRD from the controller YAML, and validates every object upstream', async () => {
      const { r } = built;
      assert.deepEqual(kinds(r, 'Namespace'), ['cosmonic-system']);
      const crd = object(r, 'CustomResourceDefinition', 'httptriggers.control.cosmonic.io');
      assert.equal(crd.spec.group, 'control.cosmonic.io');
      assert.equal(crd.spec.names.kind, 'HTTPTrigger');
      assert.ok(crd.spec.versions[0].schema.openAPIV3Schema.properties.spec, 'the schema comes from the YAML file');
      await assertAllValid(r);
    });

    it('installs Traefik from its chart: NodePorts 30080/30443 and the default IngressClass', () => {
      const traefik = chart(built.r, TRAEFIK);
      assert.equal(traefik.repositoryOpts.repo, 'https://traefik.github.io/charts');
      assert.equal(traefik.version, '37.3.0');
      assert.equal(traefik.namespace, 'cosmonic-system');
      assert.equal(traefik.values.service.type, 'NodePort');
      assert.equal(traefik.values.ports.web.nodePort, 30080);
      assert.equal(traefik.values.ports.websecure.nodePort, 30443);
      assert.deepEqual(traefik.values.ingressClass, { enabled: true, isDefaultClass: true, name: 'traefik' });
    });

    it('routes only the Perses host, through an Ingress with the documented annotations', () => {
      const { r } = built;
      assert.deepEqual(kinds(r, 'Ingress'), ['perses']);
      const perses = object(r, 'Ingress', 'perses');
      assert.equal(perses.spec.ingressClassName, 'traefik');
      assert.equal(perses.spec.rules[0].host, 'perses.localhost.cosmonic.sh');
      assert.deepEqual(perses.spec.rules[0].http.paths[0].backend, { service: { name: 'perses', port: { number: 8080 } } });
      assert.deepEqual(perses.metadata.annotations, {
        'traefik.ingress.kubernetes.io/router.entrypoints': 'web,websecure',
        'traefik.ingress.kubernetes.io/router.observability.accesslogs': 'true',
        'traefik.ingress.kubernetes.io/router.observability.metrics': 'true',
        'traefik.ingress.kubernetes.io/router.observability.tracing': 'true',
      });
      assert.equal(perses.spec.tls, undefined);
      assert.equal(objects(r, 'Gateway').length, 0);
      assert.equal(objects(r, 'VirtualService').length, 0);
    });

    it('installs the wasmCloud runtime (pinned chart, NATS with TLS, no deprecated gateway) and Perses', () => {
      const { r } = built;
      const runtime = chart(r, RUNTIME);
      assert.equal(runtime.version, '2.7.0');
      assert.equal(runtime.namespace, 'cosmonic-system');
      assert.equal(runtime.values.global.tls.enabled, true);
      assert.equal(runtime.values.gateway.enabled, false);
      const perses = chart(r, PERSES);
      assert.equal(perses.repositoryOpts.repo, 'https://perses.github.io/helm-charts');
      assert.equal(perses.name, 'perses');
      assert.deepEqual(perses.values.volumeMounts, [{ name: 'wasm-control-provisioning', mountPath: '/etc/perses/provisioning', readOnly: true }]);
      assert.deepEqual(perses.values.volumes[0].configMap, { name: 'perses-provisioning' });
      assert.deepEqual(charts(r).map((c) => c.inputs.chart).sort(), [RUNTIME, PERSES, TRAEFIK].sort());
    });

    it('provisions Perses with a dashboard of controller and Envoy metrics and the bundled Prometheus', () => {
      const { r } = built;
      const provisioning = object(r, 'ConfigMap', 'perses-provisioning');
      const datasource = JSON.parse(provisioning.data['datasource.json']);
      assert.equal(datasource.kind, 'GlobalDatasource');
      assert.equal(datasource.spec.plugin.kind, 'PrometheusDatasource');
      assert.equal(datasource.spec.plugin.spec.proxy.spec.url, 'http://wasm-control-prometheus.cosmonic-system.svc.cluster.local:9090');
      const dashboard = JSON.parse(provisioning.data['dashboard.json']);
      assert.equal(dashboard.kind, 'Dashboard');
      const queries = Object.values<any>(dashboard.spec.panels).map((p) => p.spec.queries[0].spec.plugin.spec.query).join('\n');
      for (const metric of ['wasm_control_xds_streams', 'wasm_control_triggers', 'wasm_control_xds_pushes_total', 'wasm_control_xds_nacks_total', 'envoy_cluster_upstream_rq_total', 'envoy_cluster_upstream_rq_xx']) {
        assert.ok(queries.includes(metric), `dashboard queries ${metric}`);
      }
      for (const layout of dashboard.spec.layouts) {
        for (const item of layout.spec.items) assert.ok(dashboard.spec.panels[item.content.$ref.split('/').pop()], `${item.content.$ref} exists`);
      }
      const config = JSON.parse(object(r, 'ConfigMap', 'wasm-control-prometheus').data['prometheus.yml']);
      assert.deepEqual(config.scrape_configs.map((j: any) => [j.job_name, j.metrics_path]), [
        ['wasm-control-controller', '/metrics'],
        ['envoy', '/stats/prometheus'],
      ]);
      assert.deepEqual(config.scrape_configs[1].relabel_configs[0].regex, 'wasm-control-envoy;admin');
      assert.equal(object(r, 'Deployment', 'wasm-control-prometheus').spec.template.spec.serviceAccountName, 'wasm-control-prometheus');
      assert.deepEqual(object(r, 'Role', 'wasm-control-prometheus').rules, [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] }]);
    });

    it('runs the controller hardened, with probes on the admin port, NATS over TLS, and the xDS/admin Service', () => {
      const { r } = built;
      const d = object(r, 'Deployment', 'wasm-control-controller');
      assert.equal(d.spec.replicas, 2);
      const pod = d.spec.template.spec;
      assert.equal(pod.serviceAccountName, 'wasm-control-controller');
      assert.equal(pod.securityContext.runAsNonRoot, true);
      const [c] = pod.containers;
      assert.equal(c.image, IMAGE);
      assert.deepEqual(c.args, ['--source', 'kubernetes', '--xds-address', '0.0.0.0:18000', '--admin-address', '0.0.0.0:9902', '--debug-address', '127.0.0.1:9903', '--unlisted-hosts', 'allow', '--xds-tls-cert', '/etc/wasm-control/xds-tls/tls.crt', '--xds-tls-key', '/etc/wasm-control/xds-tls/tls.key', '--xds-tls-client-ca', '/etc/wasm-control/xds-tls/ca.crt', '--log-level', 'info']);
      assert.deepEqual(c.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] } });
      assert.deepEqual(c.livenessProbe.httpGet, { path: '/healthz', port: 'admin' });
      assert.deepEqual(c.readinessProbe.httpGet, { path: '/readyz', port: 'admin' });
      const env = Object.fromEntries(c.env.filter((e: any) => e.value).map((e: any) => [e.name, e.value]));
      assert.equal(env.NATS_URL, 'nats://nats:4222');
      assert.equal(env.NATS_CERT_FILE, '/etc/nats-tls/tls.crt');
      assert.ok(pod.volumes.some((v: any) => v.secret?.secretName === 'wasmcloud-operator-tls'));
      const svc = object(r, 'Service', 'wasm-control-controller');
      assert.deepEqual(svc.spec.ports.map((p: any) => [p.name, p.port]), [['xds', 18000], ['admin', 9902]]);
      assert.equal(object(r, 'PodDisruptionBudget', 'wasm-control-controller').spec.maxUnavailable, 1);
    });

    it('sizes the controller for 1,000 triggers by default, and Node\'s heap below its limit', () => {
      const [c] = object(built.r, 'Deployment', 'wasm-control-controller').spec.template.spec.containers;
      assert.deepEqual(c.resources, { requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '384Mi' } });
      const env = Object.fromEntries(c.env.filter((e: any) => e.value).map((e: any) => [e.name, e.value]));
      assert.equal(env.NODE_OPTIONS, '--max-old-space-size=144 --max-semi-space-size=2');
    });

    it('sizes the controller for the triggers expected; explicit resources replace the sizing', async () => {
      const container = async (controller: Record<string, unknown>) => {
        const { r } = await controlPlane({ controller: { image: IMAGE, ...controller } });
        const [c] = object(r, 'Deployment', 'wasm-control-controller').spec.template.spec.containers;
        return { resources: c.resources, nodeOptions: c.env.find((e: any) => e.name === 'NODE_OPTIONS')?.value };
      };
      assert.deepEqual(await container({ expectedTriggers: 10_000 }), {
        resources: { requests: { cpu: '100m', memory: '384Mi' }, limits: { memory: '576Mi' } },
        nodeOptions: '--max-old-space-size=272 --max-semi-space-size=2',
      });
      const own = { requests: { cpu: '1', memory: '1Gi' }, limits: { memory: '2Gi' } };
      assert.deepEqual(await container({ expectedTriggers: 10_000, resources: own }), { resources: own, nodeOptions: undefined });
    });

    it('grants the controller least-privilege RBAC: no secrets, no wildcards', () => {
      const { r } = built;
      const [role] = objects(r, 'ClusterRole');
      const rules: any[] = role.inputs.rules;
      const verbsOn = (group: string, resource: string) => rules.filter((x) => x.apiGroups.includes(group) && x.resources.includes(resource)).flatMap((x) => x.verbs).sort();
      assert.deepEqual(verbsOn('control.cosmonic.io', 'httptriggers'), ['get', 'list', 'watch']);
      assert.deepEqual(verbsOn('control.cosmonic.io', 'httptriggers/status'), ['patch']);
      assert.deepEqual(verbsOn('runtime.wasmcloud.dev', 'workloaddeployments'), ['create', 'get', 'list', 'patch', 'watch']);
      assert.deepEqual(verbsOn('runtime.wasmcloud.dev', 'workloads'), ['get', 'list', 'watch']);
      assert.deepEqual(verbsOn('runtime.wasmcloud.dev', 'hosts'), ['get', 'list', 'watch']);
      assert.deepEqual(verbsOn('', 'events'), ['create', 'patch']);
      const everything = JSON.stringify(rules);
      assert.ok(!everything.includes('*'), 'no wildcard');
      assert.ok(!everything.includes('secrets'), 'no secrets');
      const binding = objects(r, 'ClusterRoleBinding')[0].inputs;
      assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: 'wasm-control-controller', namespace: 'cosmonic-system' }]);
      assert.equal(binding.roleRef.name, role.inputs.metadata.name);
      const leases = object(r, 'Role', 'wasm-control-controller-leader-election');
      assert.deepEqual(leases.rules, [{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] }]);
    });

    it('lets only Envoy pods reach the xDS port and leaves the admin port open', () => {
      const np = object(built.r, 'NetworkPolicy', 'wasm-control-controller');
      assert.deepEqual(np.spec.podSelector.matchLabels, object(built.r, 'Deployment', 'wasm-control-controller').spec.selector.matchLabels);
      const xds = np.spec.ingress.find((rule: any) => rule.ports[0].port === 18000);
      const envoyLabels = object(built.r, 'Deployment', 'wasm-control-envoy').spec.template.metadata.labels;
      for (const [k, v] of Object.entries<string>(xds.from[0].podSelector.matchLabels)) assert.equal(envoyLabels[k], v);
      assert.equal(xds.from.length, 1);
      const admin = np.spec.ingress.find((rule: any) => rule.ports[0].port === 9902);
      assert.equal(admin.from, undefined);
    });

    it('runs Envoy from a bootstrap ConfigMap that is a valid Envoy Bootstrap pointing at the controller', () => {
      const { r } = built;
      const bootstrap = JSON.parse(object(r, 'ConfigMap', 'wasm-control-envoy-bootstrap').data['bootstrap.json']);
      const Bootstrap = messageType('envoy.config.bootstrap.v3.Bootstrap');
      assert.deepEqual(decodeToJson(Bootstrap, encodeJson(Bootstrap, bootstrap)), bootstrap);
      const address = bootstrap.static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address;
      assert.deepEqual(address, { address: 'wasm-control-controller.cosmonic-system.svc.cluster.local', port_value: 18000 });
      // The one default ADS flavour, as the envoy-bootstrap CLI and envoyBootstrap() have it.
      assert.equal(bootstrap.dynamic_resources.ads_config.api_type, DEFAULT_ADS_API_TYPE);
      assert.equal(DEFAULT_ADS_API_TYPE, 'GRPC');
      const d = object(r, 'Deployment', 'wasm-control-envoy');
      const [c] = d.spec.template.spec.containers;
      assert.equal(c.image, 'envoyproxy/envoy:v1.36.2');
      assert.deepEqual(c.args, ['-c', '/etc/envoy/bootstrap.json']);
      assert.deepEqual(c.readinessProbe.httpGet, { path: '/ready', port: 'admin' });
      assert.deepEqual(c.ports.map((p: any) => [p.name, p.containerPort]), [['http', 8080], ['admin', 9901]]);
      assert.equal(d.spec.template.spec.volumes[0].configMap.name, 'wasm-control-envoy-bootstrap');
      assert.match(d.spec.template.metadata.annotations['wasm-control/bootstrap-sha256'], /^[0-9a-f]{64}$/);
    });

    it('issues the xDS CA and certificates with the TLS provider: the controller\'s for its Service names, Envoy\'s for client auth', () => {
      const { r } = built;
      const certs = r.filter((x) => x.type === 'tls:index/locallySignedCert:LocallySignedCert');
      assert.deepEqual(certs.map((c) => c.name).sort(), ['cp-xds-controller', 'cp-xds-envoy']);
      const uses = Object.fromEntries(certs.map((c) => [c.name, c.inputs.allowedUses]));
      assert.ok(uses['cp-xds-controller'].includes('server_auth') && !uses['cp-xds-controller'].includes('client_auth'));
      assert.ok(uses['cp-xds-envoy'].includes('client_auth') && !uses['cp-xds-envoy'].includes('server_auth'));
      assert.deepEqual(certs.map((c) => [c.inputs.validityPeriodHours, c.inputs.earlyRenewalHours]), [[8760, 720], [8760, 720]]);
      const request = r.find((x) => x.type === 'tls:index/certRequest:CertRequest' && x.name === 'cp-xds-controller')!;
      // The name Envoy's bootstrap checks is among them.
      assert.ok(request.inputs.dnsNames.includes('wasm-control-controller.cosmonic-system.svc.cluster.local'), request.inputs.dnsNames);
      const ca = r.find((x) => x.type === 'tls:index/selfSignedCert:SelfSignedCert')!;
      assert.equal(ca.inputs.isCaCertificate, true);
      assert.ok(ca.inputs.validityPeriodHours > 8760, 'the CA outlives the certificates it renews');
      assert.deepEqual(r.filter((x) => x.type === 'tls:index/privateKey:PrivateKey').map((k) => k.inputs.algorithm), ['ECDSA', 'ECDSA', 'ECDSA']);
    });

    it('mounts each side its own Secret (its key nowhere else, the shared CA), and rolls Envoy when its certificate changes', () => {
      const { r } = built;
      const secret = (name: string) => objects(r, 'Secret').find((o) => o.inputs.metadata.name === name)!;
      const controllerSecret = secret('wasm-control-controller-xds-tls');
      const envoySecret = secret('wasm-control-envoy-xds-tls');
      for (const [s, who] of [[controllerSecret, 'controller'], [envoySecret, 'envoy']] as const) {
        assert.equal(s.inputs.type, 'kubernetes.io/tls');
        assert.deepEqual(Object.keys(s.inputs.stringData).sort(), ['ca.crt', 'tls.crt', 'tls.key']);
        assert.match(s.inputs.stringData['tls.key'], /PRIVATE KEY/);
        // (A Secret's stringData is a Pulumi secret whatever we pass: what we control is where else the key goes.)
        assert.deepEqual(
          holding(r, s.inputs.stringData['tls.key']).sort(),
          [`kubernetes:core/v1:Secret cp-${who}-xds-tls`, `tls:index/certRequest:CertRequest cp-xds-${who}`],
          `${who}'s key only in its Secret (and the request it signed)`,
        );
        assert.equal(Buffer.from(s.inputs.stringData['tls.crt'].split('\n')[1], 'base64').toString(), `cp-xds-${who}`);
        assert.equal(Buffer.from(s.inputs.stringData['ca.crt'].split('\n')[1], 'base64').toString(), 'cp-xds-ca');
      }
      const controllerPod = object(r, 'Deployment', 'wasm-control-controller').spec.template.spec;
      assert.deepEqual(controllerPod.volumes.find((v: any) => v.name === 'xds-tls'), { name: 'xds-tls', secret: { secretName: 'wasm-control-controller-xds-tls' } });
      assert.deepEqual(controllerPod.containers[0].volumeMounts.find((m: any) => m.name === 'xds-tls'), { name: 'xds-tls', mountPath: '/etc/wasm-control/xds-tls', readOnly: true });
      const envoy = object(r, 'Deployment', 'wasm-control-envoy').spec.template;
      assert.deepEqual(envoy.spec.volumes.find((v: any) => v.name === 'xds-tls'), { name: 'xds-tls', secret: { secretName: 'wasm-control-envoy-xds-tls' } });
      assert.deepEqual(envoy.spec.containers[0].volumeMounts.find((m: any) => m.name === 'xds-tls'), { name: 'xds-tls', mountPath: '/etc/envoy-xds-tls', readOnly: true });
      const expected = createHash('sha256').update(envoySecret.inputs.stringData['tls.crt']).update(envoySecret.inputs.stringData['ca.crt']).digest('hex');
      assert.equal(envoy.metadata.annotations['wasm-control/xds-client-cert-sha256'], expected);
      const bootstrap = JSON.parse(object(r, 'ConfigMap', 'wasm-control-envoy-bootstrap').data['bootstrap.json']);
      const context = bootstrap.static_resources.clusters[0].transport_socket.typed_config.common_tls_context;
      assert.deepEqual(context.tls_certificates[0], { certificate_chain: { filename: '/etc/envoy-xds-tls/tls.crt' }, private_key: { filename: '/etc/envoy-xds-tls/tls.key' } });
      assert.equal(context.validation_context.trusted_ca.filename, '/etc/envoy-xds-tls/ca.crt');
    });

    it('puts Envoy behind the ClusterIP Service "ingress", port 80 to 8080', async () => {
      const svc = object(built.r, 'Service', 'ingress');
      assert.equal(svc.spec.type, 'ClusterIP');
      assert.deepEqual(svc.spec.ports, [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }]);
      assert.equal(svc.metadata.annotations, undefined);
      assert.equal(await valueOf(built.cp.ingressServiceName), 'ingress');
    });

    it('outputs the namespace, xDS endpoint, Traefik entry points and the Perses URL', async () => {
      const { cp } = built;
      assert.equal(await valueOf(cp.namespace), 'cosmonic-system');
      assert.equal(await valueOf(cp.xdsEndpoint), 'wasm-control-controller.cosmonic-system.svc.cluster.local:18000');
      assert.deepEqual(await valueOf(cp.edgeEntryPoints), ['http://<node address>:30080', 'https://<node address>:30443']);
      assert.deepEqual(await valueOf(cp.hostUrls), []);
      assert.equal(await valueOf(cp.persesUrl), 'http://perses.localhost.cosmonic.sh/');
    });
  });

  describe('xDS certificates from your own PKI', () => {
    const certificates = { ca: 'CA PEM', controllerCert: 'CONTROLLER PEM', controllerKey: 'CONTROLLER KEY', envoyCert: 'ENVOY PEM', envoyKey: 'ENVOY KEY' };

    it('puts the given PEM values in the Secrets, keeps the keys secret in the state, and issues nothing', async () => {
      const { r } = await controlPlane({ xdsTls: { certificates } });
      assert.equal(r.filter((x) => x.type.startsWith('tls:')).length, 0);
      const envoy = objects(r, 'Secret').find((o) => o.inputs.metadata.name === 'wasm-control-envoy-xds-tls')!;
      assert.deepEqual(envoy.inputs.stringData, { 'tls.crt': 'ENVOY PEM', 'tls.key': 'ENVOY KEY', 'ca.crt': 'CA PEM' });
      assert.deepEqual(holding(r, 'ENVOY KEY'), ['wasm-control:index:ControlPlane cp', 'kubernetes:core/v1:Secret cp-envoy-xds-tls'], 'the key only in its Secret, and the arguments the state records');
      const component = r.find((x) => x.type === 'wasm-control:index:ControlPlane')!;
      // Recorded as a secret, or inside one.
      for (const key of ['controllerKey', 'envoyKey']) assert.ok(component.secretInputs?.some((p) => `xdsTls.certificates.${key}`.startsWith(p)), `${key} recorded as a secret: ${component.secretInputs}`);
    });

    it('refuses a partial set and renewal windows as long as the validity, naming the argument', async () => {
      await assert.rejects(controlPlane({ xdsTls: { certificates: { ...certificates, envoyKey: '' } } }), /ControlPlane argument `xdsTls.certificates` lacks envoyKey: give all five PEM values, or none/);
      await assert.rejects(controlPlane({ xdsTls: { validityHours: 24, earlyRenewalHours: 24 } }), /`xdsTls.earlyRenewalHours` \(24\) must be less than `validityHours` \(24\)/);
    });
  });

  describe('Traefik with hosts and TLS', () => {
    let built: Built;
    before(async () => {
      built = await controlPlane({
        namespace: 'edge',
        createNamespace: false,
        ingress: {
          hosts: [
            { host: 'welcome-tour.localhost.cosmonic.sh' },
            { host: 'hello.example.com', tls: { secretName: 'hello-tls' } },
            { host: '*.apps.example.com', tls: { certResolver: 'letsencrypt' } },
          ],
          traefik: { httpNodePort: 31080, httpsNodePort: 31443, values: { deployment: { replicas: 3 }, ports: { web: { redirections: { entryPoint: { to: 'websecure' } } } } } },
        },
        perses: { host: 'dash.example.com', tls: { secretName: 'dash-tls' }, prometheusUrl: 'http://prometheus.monitoring.svc:9090' },
        controller: { image: IMAGE, replicas: 3, logLevel: 'debug' },
        runtime: { chartVersion: '2.8.0', natsTls: false, values: { operator: { watchNamespaces: ['apps'] } } },
      });
    });

    it('creates one Ingress per host, pointing at Service ingress:80, plus Perses; all valid upstream', async () => {
      const { r } = built;
      assert.deepEqual(kinds(r, 'Ingress'), ['hello-example-com', 'perses', 'welcome-tour-localhost-cosmonic-sh', 'wildcard-apps-example-com']);
      for (const name of ['hello-example-com', 'welcome-tour-localhost-cosmonic-sh', 'wildcard-apps-example-com']) {
        const ing = object(r, 'Ingress', name);
        assert.equal(ing.metadata.namespace, 'edge');
        assert.deepEqual(ing.spec.rules[0].http.paths, [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'ingress', port: { number: 80 } } } }]);
        assert.equal(ing.metadata.annotations['traefik.ingress.kubernetes.io/router.observability.metrics'], 'true');
      }
      assert.equal(objects(r, 'Namespace').length, 0, 'the namespace exists already');
      await assertAllValid(r);
    });

    it('terminates TLS with spec.tls secrets or a cert resolver, on the websecure entrypoint', () => {
      const { r } = built;
      const plain = object(r, 'Ingress', 'welcome-tour-localhost-cosmonic-sh');
      assert.equal(plain.metadata.annotations['traefik.ingress.kubernetes.io/router.entrypoints'], 'web,websecure');
      assert.equal(plain.metadata.annotations['traefik.ingress.kubernetes.io/router.tls'], undefined);
      const secret = object(r, 'Ingress', 'hello-example-com');
      assert.deepEqual(secret.spec.tls, [{ hosts: ['hello.example.com'], secretName: 'hello-tls' }]);
      assert.equal(secret.metadata.annotations['traefik.ingress.kubernetes.io/router.tls'], 'true');
      assert.equal(secret.metadata.annotations['traefik.ingress.kubernetes.io/router.entrypoints'], 'websecure');
      const resolver = object(r, 'Ingress', 'wildcard-apps-example-com');
      assert.equal(resolver.spec.rules[0].host, '*.apps.example.com');
      assert.equal(resolver.spec.tls, undefined);
      assert.equal(resolver.metadata.annotations['traefik.ingress.kubernetes.io/router.tls.certresolver'], 'letsencrypt');
      assert.deepEqual(object(r, 'Ingress', 'perses').spec.tls, [{ hosts: ['dash.example.com'], secretName: 'dash-tls' }]);
    });

    it('passes node ports and extra values to the Traefik chart, merged over the defaults', () => {
      const values = chart(built.r, TRAEFIK).values;
      assert.deepEqual(values.ports, { web: { nodePort: 31080, redirections: { entryPoint: { to: 'websecure' } } }, websecure: { nodePort: 31443 } });
      assert.equal(values.deployment.replicas, 3);
      assert.equal(values.ingressClass.isDefaultClass, true);
    });

    it('uses the given Prometheus instead of installing one, and the runtime without NATS TLS', () => {
      const { r } = built;
      assert.deepEqual(kinds(r, 'Deployment'), ['wasm-control-controller', 'wasm-control-envoy']);
      const datasource = JSON.parse(object(r, 'ConfigMap', 'perses-provisioning').data['datasource.json']);
      assert.equal(datasource.spec.plugin.spec.proxy.spec.url, 'http://prometheus.monitoring.svc:9090');
      const runtime = chart(r, RUNTIME);
      assert.equal(runtime.version, '2.8.0');
      assert.equal(runtime.values.global.tls.enabled, false);
      assert.deepEqual(runtime.values.operator, { watchNamespaces: ['apps'] });
      const pod = object(r, 'Deployment', 'wasm-control-controller').spec.template.spec;
      assert.ok(!JSON.stringify(pod).includes('wasmcloud-operator-tls'), 'no client certificate without TLS');
      assert.ok(!pod.containers[0].env.some((e: any) => e.name === 'NATS_CERT_FILE'));
      assert.equal(object(r, 'Deployment', 'wasm-control-controller').spec.replicas, 3);
      assert.equal(pod.containers[0].args.at(-1), 'debug');
    });

    it('outputs https URLs for TLS hosts and the custom Traefik node ports', async () => {
      const { cp } = built;
      assert.equal(await valueOf(cp.namespace), 'edge');
      assert.deepEqual(await valueOf(cp.hostUrls), ['http://welcome-tour.localhost.cosmonic.sh/', 'https://hello.example.com/', 'https://*.apps.example.com/']);
      assert.equal(await valueOf(cp.persesUrl), 'https://dash.example.com/');
      assert.deepEqual(await valueOf(cp.edgeEntryPoints), ['http://<node address>:31080', 'https://<node address>:31443']);
    });
  });

  describe('Istio edge, default gateway', () => {
    let built: Built;
    before(async () => {
      built = await controlPlane({ ingress: { provider: 'istio', hosts: [{ host: '*.localhost.cosmonic.sh' }] } });
    });

    it('creates a Gateway cosmonic-gateway on istio=ingressgateway, no Traefik and no Ingress; all valid upstream', async () => {
      const { r } = built;
      assert.ok(!charts(r).some((c) => c.inputs.chart === TRAEFIK));
      assert.equal(objects(r, 'Ingress').length, 0);
      const gw = object(r, 'Gateway', 'cosmonic-gateway');
      assert.equal(gw.apiVersion, 'networking.istio.io/v1');
      assert.deepEqual(gw.spec.selector, { istio: 'ingressgateway' });
      assert.deepEqual(gw.spec.servers, [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*.localhost.cosmonic.sh', 'perses.localhost.cosmonic.sh'] }]);
      await assertAllValid(r);
    });

    it('creates a VirtualService per host and one for Perses, routing to Service ingress and perses', () => {
      const { r } = built;
      assert.deepEqual(kinds(r, 'VirtualService'), ['perses', 'wildcard-localhost-cosmonic-sh']);
      const vs = object(r, 'VirtualService', 'wildcard-localhost-cosmonic-sh');
      assert.deepEqual(vs.spec.hosts, ['*.localhost.cosmonic.sh']);
      assert.deepEqual(vs.spec.gateways, ['cosmonic-gateway']);
      assert.deepEqual(vs.spec.http[0].route[0].destination, { host: 'ingress.cosmonic-system.svc.cluster.local', port: { number: 80 } });
      const perses = object(r, 'VirtualService', 'perses');
      assert.deepEqual(perses.spec.http[0].route[0].destination, { host: 'perses.cosmonic-system.svc.cluster.local', port: { number: 8080 } });
    });

    it('checks that Istio is installed by reading its Gateway CRD, before creating the Gateway', () => {
      const read = built.r.filter((x) => x.id);
      assert.deepEqual(read.map((x) => [x.type, x.id]), [['kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition', 'gateways.networking.istio.io']]);
      assert.match(read[0].name, /requires-istio-installed/);
    });

    it('outputs the gateway entry point', async () => {
      assert.deepEqual(await valueOf(built.cp.edgeEntryPoints), ['http://<istio ingress gateway istio=ingressgateway>:80']);
    });

    it('reads nothing with checkInstalled: false (Istio installed by the same program), and still creates the Gateway', async () => {
      const { r } = await controlPlane({ ingress: { provider: 'istio', istio: { checkInstalled: false } } });
      assert.deepEqual(r.filter((x) => x.id), []);
      assert.equal(object(r, 'Gateway', 'cosmonic-gateway').spec.selector.istio, 'ingressgateway');
    });
  });

  describe('charts from a local directory and from mirrors (air-gapped clusters)', () => {
    let r: Registered[];
    before(async () => {
      ({ r } = await controlPlane({
        runtime: { chart: { path: 'test/charts/runtime-operator' } },
        ingress: { traefik: { chartVersion: '37.4.0', chart: { repository: 'oci://mirror.example.com/charts/' } } },
        perses: { chart: { repository: 'https://mirror.example.com/helm' } },
      }));
    });

    it('installs a local chart from its absolute path, at the version its Chart.yaml gives', () => {
      const runtime = charts(r).find((c) => c.inputs.name === 'wasmcloud-runtime')!.inputs;
      assert.equal(runtime.chart, path.resolve('test/charts/runtime-operator'));
      assert.equal(runtime.version, undefined);
      assert.equal(runtime.repositoryOpts, undefined);
    });

    it('takes an OCI mirror as the chart reference under its upstream name, at the pinned or given version', () => {
      const traefik = charts(r).find((c) => c.inputs.name === 'traefik')!.inputs;
      assert.equal(traefik.chart, 'oci://mirror.example.com/charts/traefik');
      assert.equal(traefik.version, '37.4.0');
      assert.equal(traefik.repositoryOpts, undefined);
    });

    it('takes a Helm repository mirror as the chart repository', () => {
      const perses = charts(r).find((c) => c.inputs.name === 'perses')!.inputs;
      assert.equal(perses.chart, 'perses');
      assert.equal(perses.version, '0.19.2');
      assert.deepEqual(perses.repositoryOpts, { repo: 'https://mirror.example.com/helm' });
    });
  });

  describe('Istio edge, custom gateway, selector and TLS', () => {
    let built: Built;
    before(async () => {
      built = await controlPlane({
        ingress: {
          provider: 'istio',
          hosts: [{ host: 'api.example.com', tls: { secretName: 'api-cert' } }, { host: 'www.example.com' }],
          istio: { gatewayName: 'edge-gw', ingressGatewaySelector: { app: 'istio-ingress', 'istio.io/rev': 'stable' } },
        },
      });
    });

    it('names and selects the gateway as told, with an HTTPS server per TLS host; all valid upstream', async () => {
      const { r } = built;
      const gw = object(r, 'Gateway', 'edge-gw');
      assert.deepEqual(gw.spec.selector, { app: 'istio-ingress', 'istio.io/rev': 'stable' });
      assert.equal(gw.spec.servers.length, 2);
      assert.deepEqual(gw.spec.servers[1], {
        port: { number: 443, name: 'https-api-example-com', protocol: 'HTTPS' },
        hosts: ['api.example.com'],
        tls: { mode: 'SIMPLE', credentialName: 'api-cert' },
      });
      for (const vs of objects(r, 'VirtualService')) assert.deepEqual(vs.inputs.spec.gateways, ['edge-gw']);
      assert.equal(objects(r, 'Gateway').length, 1);
      await assertAllValid(r);
    });

    it('outputs both gateway entry points', async () => {
      const selector = 'app=istio-ingress,istio.io/rev=stable';
      assert.deepEqual(await valueOf(built.cp.edgeEntryPoints), [`http://<istio ingress gateway ${selector}>:80`, `https://<istio ingress gateway ${selector}>:443`]);
      assert.deepEqual(await valueOf(built.cp.hostUrls), ['https://api.example.com/', 'http://www.example.com/']);
    });
  });

  describe('direct Envoy exposure: LoadBalancer with AWS NLB annotations', () => {
    const annotations = {
      'service.beta.kubernetes.io/aws-load-balancer-type': 'nlb',
      'service.beta.kubernetes.io/aws-load-balancer-scheme': 'internet-facing',
    };
    let built: Built;
    before(async () => {
      built = await controlPlane({ ingress: { enabled: false }, envoy: { service: { type: 'LoadBalancer', annotations } } });
    });

    it('exposes Service ingress as an annotated LoadBalancer; all valid upstream', async () => {
      const svc = object(built.r, 'Service', 'ingress');
      assert.equal(svc.spec.type, 'LoadBalancer');
      assert.deepEqual(svc.metadata.annotations, annotations);
      assert.equal(svc.spec.ports[0].nodePort, undefined);
      await assertAllValid(built.r);
    });

    it('deploys no Traefik, no edge routes and (by default) no Perses', () => {
      const { r } = built;
      assert.deepEqual(charts(r).map((c) => c.inputs.chart), [RUNTIME]);
      for (const kind of ['Ingress', 'Gateway', 'VirtualService']) assert.equal(objects(r, kind).length, 0, kind);
      assert.ok(!objects(r, 'ConfigMap').some((c) => c.inputs.metadata.name === 'perses-provisioning'));
      assert.ok(!objects(r, 'Deployment').some((d) => d.inputs.metadata.name === 'wasm-control-prometheus'));
      assert.ok(!r.some((x) => x.id), 'no Istio precondition read');
    });

    it('outputs the load balancer entry point once it has an address', async () => {
      assert.deepEqual(await valueOf(built.cp.edgeEntryPoints), ['http://<load balancer address pending>:80']);
      assert.equal(await valueOf(built.cp.persesUrl), undefined);
    });
  });

  describe('direct Envoy exposure: NodePort 30950', () => {
    let built: Built;
    before(async () => {
      built = await controlPlane({ ingress: { enabled: false }, envoy: { replicas: 3, service: { type: 'NodePort', httpNodePort: 30950 } }, perses: { enabled: true } });
    });

    it('exposes Service ingress on node port 30950; all valid upstream', async () => {
      const svc = object(built.r, 'Service', 'ingress');
      assert.equal(svc.spec.type, 'NodePort');
      assert.deepEqual(svc.spec.ports, [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP', nodePort: 30950 }]);
      assert.equal(object(built.r, 'Deployment', 'wasm-control-envoy').spec.replicas, 3);
      await assertAllValid(built.r);
    });

    it('installs Perses when asked, without an edge route, reachable in the cluster', async () => {
      const { r, cp } = built;
      assert.deepEqual(charts(r).map((c) => c.inputs.chart).sort(), [RUNTIME, PERSES].sort());
      assert.equal(objects(r, 'Ingress').length, 0);
      assert.equal(await valueOf(cp.persesUrl), 'http://perses.cosmonic-system.svc.cluster.local:8080/');
      assert.deepEqual(await valueOf(cp.edgeEntryPoints), ['http://<node address>:30950']);
    });
  });
});
