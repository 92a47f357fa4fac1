/**
 * `pulumi up` for real: the project's program (index.ts) run by the Pulumi CLI
 * and the Kubernetes provider built from Go modules, against the real test
 * cluster (kube-apiserver, kube-controller-manager, kube-scheduler and kwok's
 * simulated nodes, so Deployments become Available and Pulumi's awaits finish).
 * Charts come from the stand-ins in test/charts through the program's
 * `wasm-control:charts` setting, so Helm rendering by the provider is real too.
 *
 * The `it`s are the steps of one scenario on one cluster and one stack, in
 * order; each names what it proves. The controller runs as a process against
 * the same cluster, as the ServiceAccount the program created.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { ControllerProcess } from '../support/controller-process';
import type { XdsCertificatesArgs } from '../../components/args';
import { TypeUrl } from '../../controller/envoy/protos';
import { ROUTE_CONFIG_NAME } from '../../controller/envoy/translate';
import { AdsClient } from '../support/ads-client';
import {
  CONTROL_PLANE_NAMESPACE as NAMESPACE,
  CONTROLLER_XDS_NAME,
  e2eStackSettings,
  e2eWorkloads,
  e2eXdsCertificates,
  ENVOY_NODE_PORT as NODE_PORT,
  envoyXdsCredentials,
  standInChart,
  startController,
} from '../support/e2e-stack';
import { eventually } from '../support/eventually';
import { ProgramStack } from '../support/pulumi-program';
import { RealCluster, serviceAccountUser } from '../support/real-cluster';

type Obj = Record<string, any>;

describe('real Pulumi engine: the program against the real test cluster', function () {
  this.timeout(5 * 60_000);
  let cluster: RealCluster;
  let stack: ProgramStack;
  let controller: ControllerProcess | undefined;
  const stacks: ProgramStack[] = [];

  const kubectl = (...args: string[]) => cluster.kubectlOk(args);
  const getJson = async (...args: string[]): Promise<Obj> => JSON.parse(await kubectl('get', ...args, '-o', 'json'));

  // The stack names this file; a test swaps the credentials in it, as CI runs the same program as another identity.
  let stackKubeconfig: string;
  let xdsCertificates: XdsCertificatesArgs;
  const directConfig = (helloPath = '/'): Obj => e2eStackSettings(stackKubeconfig, xdsCertificates, helloPath);

  async function newStack(name: string, config: Obj): Promise<ProgramStack> {
    const created = await ProgramStack.create(name, config);
    stacks.push(created);
    return created;
  }

  async function routes(): Promise<{ trigger: string; host: string; path: string }[]> {
    return (await fetch(`http://${controller!.admin}/debug/routes`)).json() as Promise<{ trigger: string; host: string; path: string }[]>;
  }

  before(async function () {
    // The first run on a machine builds the control plane and the Pulumi set from Go modules.
    this.timeout(45 * 60_000);
    cluster = await RealCluster.start({ nodes: 2 });
    stackKubeconfig = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'wasm-control-stack-')), 'kubeconfig');
    fs.copyFileSync(cluster.adminKubeconfig, stackKubeconfig);
    xdsCertificates = await e2eXdsCertificates(path.dirname(stackKubeconfig));
    stack = await newStack('e2e', directConfig());
  });

  after(async () => {
    if (controller && controller.child.exitCode === null) controller.child.kill('SIGKILL');
    await controller?.exited;
    await cluster?.stop();
    for (const s of stacks) s.remove();
    if (stackKubeconfig) fs.rmSync(path.dirname(stackKubeconfig), { recursive: true, force: true });
  });

  it('pulumi up creates the control plane, the host group and both workloads, and exports what the README says', async () => {
    const { outputs, changes } = await stack.up();
    assert.ok((changes.create ?? 0) > 20, `created ${JSON.stringify(changes)}`);

    const crd = await getJson('crd', 'httptriggers.control.cosmonic.io');
    assert.ok(crd.status.conditions.some((c: Obj) => c.type === 'Established' && c.status === 'True'));
    for (const name of ['wasm-control-controller', 'wasm-control-envoy', 'nats', 'hostgroup-blobs']) {
      const deployment = await getJson('deployment', name, '-n', NAMESPACE);
      assert.ok(deployment.status.conditions.some((c: Obj) => c.type === 'Available' && c.status === 'True'), `${name} is not Available`);
    }
    const service = await getJson('service', 'ingress', '-n', NAMESPACE);
    assert.equal(service.spec.type, 'NodePort');
    assert.equal(service.spec.ports[0].nodePort, NODE_PORT);
    const policies = (await getJson('networkpolicy', '-n', NAMESPACE)).items.map((p: Obj) => p.metadata.name).sort();
    assert.deepEqual(policies, ['wasm-control-controller', 'wasm-control-envoy']);
    const hello = await getJson('httptrigger', 'hello-world', '-n', 'default');
    assert.equal(hello.spec.ingress.host, 'hello.localhost.cosmonic.sh');
    assert.deepEqual(hello.spec.ingress.paths, [{ path: '/', pathType: 'Prefix' }]);
    assert.equal(hello.spec.template.spec.components[0].image, 'ghcr.io/cosmonic-labs/control-demos/hello-world:0.1.2');
    const blobby = await getJson('httptrigger', 'blobby', '-n', 'default');
    assert.deepEqual(blobby.spec.hostSelector, { hostgroup: 'blobs' });
    // The runtime kinds' CRDs came from the (stand-in) runtime chart, rendered by the provider.
    await kubectl('get', 'crd', 'workloaddeployments.runtime.wasmcloud.dev');

    assert.deepEqual(outputs.edgeEntryPoints.value, [`http://<node address>:${NODE_PORT}`]);
    assert.deepEqual(outputs.workloadUrls.value, { 'hello-world': 'http://hello.localhost.cosmonic.sh/', blobby: 'http://blobby.wasmworkloads.io/' });
    assert.deepEqual(outputs.hostUrls.value, []);
    assert.equal(outputs.controllerImage.value, 'wasm-control:e2e');
  });

  it('pulumi preview --expect-no-changes passes right after (no perpetual diff)', async () => {
    const { changes } = await stack.preview({ expectNoChanges: true });
    assert.deepEqual(Object.keys(changes), ['same']);
  });

  it('the controller, as the ServiceAccount the program created, serves both workloads\' routes', async () => {
    controller = await startController(cluster);
    await eventually(
      async () => {
        const served = (await routes()).map((r) => `${r.host}${r.path}`).sort();
        assert.deepEqual(served, ['blobby.wasmworkloads.io/', 'hello.localhost.cosmonic.sh/']);
      },
      10_000,
      'both routes served',
    );
  });

  it('serves xDS over the mTLS the program set up: Envoy\'s Secret gets the route table, checked for the name Envoy\'s bootstrap checks; plaintext is refused', async () => {
    const port = controller!.xdsPort;
    const envoy = new AdsClient(port, { credentials: await envoyXdsCredentials(cluster), serverName: CONTROLLER_XDS_NAME });
    const plaintext = new AdsClient(port);
    try {
      const stream = envoy.sotw();
      stream.send({ type_url: TypeUrl.RouteConfiguration, resource_names: [ROUTE_CONFIG_NAME], node: { id: 'e2e-envoy' } });
      const response = await stream.next();
      assert.deepEqual(response.resources.map((r) => r.name), [ROUTE_CONFIG_NAME]);
      const refused = plaintext.sotw();
      refused.send({ type_url: TypeUrl.RouteConfiguration, resource_names: [ROUTE_CONFIG_NAME], node: { id: 'intruder' } });
      await assert.rejects(refused.next(), (err: Error & { code?: number }) => err.code === grpc.status.UNAVAILABLE);
      const bootstrap = JSON.parse((await getJson('configmap', 'wasm-control-envoy-bootstrap', '-n', NAMESPACE)).data['bootstrap.json']);
      assert.equal(bootstrap.static_resources.clusters[0].transport_socket.typed_config.sni, CONTROLLER_XDS_NAME);
      assert.ok(controller!.logs.lines.some((l) => l.msg === 'xDS client connected' && l.node === 'e2e-envoy' && /CN=wasm-control-envoy/.test(String(l.certificate))));
    } finally {
      envoy.close();
      plaintext.close();
    }
  });

  it('a changed path in the stack file: preview --diff shows only that HTTPTrigger changing, up applies it, the controller serves it', async () => {
    stack.writeConfig(directConfig('/hello'));
    const { log, steps } = await stack.preview({ diff: true });
    // The component (its inputs) and the HTTPTrigger object it writes: nothing else.
    assert.deepEqual(steps, [
      'update kubernetes:control.cosmonic.io/v1alpha1:HTTPTrigger::hello-world-httptrigger',
      'update wasm-control:index:HttpTrigger::hello-world',
    ]);
    assert.match(log.output, /~ path: "\/" => "\/hello"/);

    const { changes: applied } = await stack.up();
    assert.equal(applied.update, 2);
    await eventually(
      async () => assert.ok((await routes()).some((r) => r.host === 'hello.localhost.cosmonic.sh' && r.path === '/hello')),
      10_000,
      'the new path served',
    );
    assert.ok(!(await routes()).some((r) => r.host === 'hello.localhost.cosmonic.sh' && r.path === '/'));
  });

  it('with read-only credentials (an EKS preview role: get, list and watch on everything), preview --refresh --diff still plans the change, and writes nothing', async () => {
    // AmazonEKSAdminViewPolicy's one rule, bound to a ServiceAccount standing in for the role.
    const account = 'preview';
    await kubectl('create', 'serviceaccount', account, '-n', 'default');
    await kubectl('create', 'clusterrole', 'eks-admin-view', '--verb=get,list,watch', '--resource=*.*');
    await kubectl('create', 'clusterrolebinding', account, '--clusterrole=eks-admin-view', `--serviceaccount=default:${account}`);
    const before = await getJson('httptrigger', 'hello-world', '-n', 'default');
    const audited = cluster.auditEventsFrom(0).end;
    stack.writeConfig(directConfig('/v2'));
    fs.copyFileSync(await cluster.serviceAccountKubeconfig('default', account), stackKubeconfig);
    try {
      const { log, steps } = await stack.preview({ diff: true, refresh: true });
      assert.deepEqual(steps, [
        'update kubernetes:control.cosmonic.io/v1alpha1:HTTPTrigger::hello-world-httptrigger',
        'update wasm-control:index:HttpTrigger::hello-world',
      ]);
      assert.match(log.output, /~ path: "\/hello" => "\/v2"/);
    } finally {
      fs.copyFileSync(cluster.adminKubeconfig, stackKubeconfig);
      stack.writeConfig(directConfig('/hello'));
    }
    // The provider asked for a server-side dry-run, was refused, and previewed from its inputs.
    const writes = cluster.auditEventsFrom(audited, serviceAccountUser('default', account)).events.filter((e) => !['get', 'list', 'watch'].includes(e.verb));
    assert.ok(writes.length > 0, 'the provider tried a dry-run');
    for (const w of writes) {
      assert.equal(w.responseStatus?.code, 403, `${w.verb} ${w.requestURI}`);
      assert.match(w.requestURI, /dryRun=All/);
    }
    const after = await getJson('httptrigger', 'hello-world', '-n', 'default');
    assert.equal(after.metadata.resourceVersion, before.metadata.resourceVersion);
    assert.deepEqual(Object.keys((await stack.preview({ expectNoChanges: true })).changes), ['same'], 'state and cluster as before');
  });

  it('a bad workload argument fails pulumi up with the component\'s message, and creates nothing', async () => {
    const config = directConfig();
    config['wasm-control:workloads'] = [{ ...e2eWorkloads()[0], timeout: '5 minutes' }];
    const bad = await newStack('bad-workload', { ...config, 'wasm-control:controllerImage': 'wasm-control:bad' });
    const message = /HTTPTrigger default\/hello-world would not run as declared:\n\s*- the controller would skip this trigger \(Invalid\): timeout: "5 minutes" is not a Go duration/;
    await assert.rejects(bad.preview(), message);
    // `pulumi up` without a preview first (as the Automation API and pulumi/actions run it): the program holds
    // every resource back until it has been built whole, so the error leaves nothing half-applied.
    await assert.rejects(bad.up(), (err: Error) => {
      assert.match(err.message, message);
      assert.doesNotMatch(err.message, /error serializing|not created/, 'only the component\'s own message');
      return true;
    });
    assert.deepEqual((await bad.resourceTypes()).filter((t) => t.startsWith('kubernetes:')), []);
  });

  it('pulumi destroy leaves no object of ours behind', async () => {
    await stack.destroy();
    await kubectl('wait', '--for=delete', 'namespace/' + NAMESPACE, '--timeout=60s').catch(() => undefined);
    assert.equal((await cluster.kubectl(['get', 'namespace', NAMESPACE])).code, 1, 'the namespace is gone');
    assert.equal((await cluster.kubectl(['get', 'crd', 'httptriggers.control.cosmonic.io'])).code, 1, 'the CRD is gone');
    const ours = await kubectl('get', 'clusterroles,clusterrolebindings', '-l', 'app.kubernetes.io/part-of=wasm-control', '-o', 'name');
    assert.equal(ours.trim(), '');
    assert.equal((await cluster.kubectl(['get', 'workloaddeployments.runtime.wasmcloud.dev', '-A'])).code, 1, 'the runtime CRDs are gone');
  });

  describe('the edge proxy modes, previewed against the same cluster with stand-in charts', () => {
    const edgeConfig = (mode: string, extra: Obj): Obj => {
      const config = directConfig();
      delete config['wasm-control:envoyService'];
      return {
        ...config,
        'wasm-control:ingressMode': mode,
        'wasm-control:hosts': ['*.e2e.example.com'],
        ...extra,
      };
    };

    it('traefik: pulumi preview renders the Traefik and Perses charts and plans the edge Ingresses', async () => {
      const traefik = await newStack('traefik', edgeConfig('traefik', { 'wasm-control:charts': { runtime: standInChart('runtime-operator'), traefik: standInChart('traefik'), perses: standInChart('perses') } }));
      const { steps } = await traefik.preview();
      for (const expected of [
        'create kubernetes:networking.k8s.io/v1:IngressClass::wasm-control-traefik:traefik',
        'create kubernetes:networking.k8s.io/v1:Ingress::wasm-control-ingress-wildcard-e2e-example-com',
        'create kubernetes:networking.k8s.io/v1:Ingress::hello-world-edge',
        'create kubernetes:apps/v1:Deployment::wasm-control-perses:cosmonic-system/perses',
      ]) {
        assert.ok(steps.includes(expected), `${expected} not in:\n${steps.join('\n')}`);
      }
    });

    it('istio: pulumi preview installs Istio from the stand-in charts first, then plans the Gateway and VirtualServices', async () => {
      const istio = await newStack('istio', edgeConfig('istio', {
        'wasm-control:istio': { install: true },
        'wasm-control:charts': { runtime: standInChart('runtime-operator'), perses: standInChart('perses'), istioBase: standInChart('istio-base'), istiod: standInChart('istiod'), istioGateway: standInChart('istio-gateway') },
      }));
      const { steps } = await istio.preview();
      for (const expected of [
        'create kubernetes:helm.sh/v3:Release::istio-base',
        'create kubernetes:networking.istio.io/v1:Gateway::wasm-control-gateway',
        'create kubernetes:networking.istio.io/v1:VirtualService::wasm-control-virtualservice-wildcard-e2e-example-com',
      ]) {
        assert.ok(steps.includes(expected), `${expected} not in:\n${steps.join('\n')}`);
      }
    });
  });
});
