/**
 * The Pulumi program (index.ts) under mocks, once per stack file, with the
 * configuration the CLI would give it: what each environment creates.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import YAML from 'yaml';
import { validateSchema } from '../../controller/api/schema';
import { checkHTTPTrigger } from '../../controller/api/validate';
import { packageRoot } from '../../controller/package-root';
import { validateObject } from '../components/k8s-schemas';
import { one, ofType, Recorded, stackConfig, underMocks, ZONES } from './mocks';

type Program = (() => Promise<Record<string, unknown>>) & { defaults: Record<string, unknown> };
// Required after the mocks are installed (a module that creates resources at load time would run too early); main() runs the program.
const program = (): Program => require('../../index') as Program;

const STACKS = fs.readdirSync(path.join(packageRoot(), 'stacks')).filter((f) => /^Pulumi\.[\w-]+\.yaml$/.test(f)).map((f) => f.split('.')[1]);

function run(stack: string, options: { preview?: boolean; existingEksClusters?: string[]; callerArn?: string } = {}) {
  return underMocks({ stack, config: stackConfig(stack), ...options }, () => program()());
}

function kubernetesObjects(r: Recorded[]): Recorded[] {
  return r.filter((x) => x.custom && !x.id && x.type.startsWith('kubernetes:') && !x.type.startsWith('kubernetes:helm.sh/'));
}

function kind(r: Recorded[], k: string): Recorded[] {
  return kubernetesObjects(r).filter((x) => x.inputs.kind === k);
}

function named(r: Recorded[], k: string, name: string): Record<string, any> {
  const found = kind(r, k).filter((x) => x.inputs.metadata?.name === name);
  assert.equal(found.length, 1, `one ${k} ${name} (${kind(r, k).map((x) => x.inputs.metadata?.name).join(', ')})`);
  return found[0].inputs;
}

/** Every Kubernetes object validates: built-in and Istio kinds against their OpenAPI schemas, ours with the controller's checks. */
async function assertObjectsValid(r: Recorded[]): Promise<void> {
  const objects = kubernetesObjects(r);
  assert.ok(objects.length > 10, `the control plane's objects, got ${objects.length}`);
  for (const o of objects) {
    if (o.inputs.kind === 'HTTPTrigger') assert.ok(checkHTTPTrigger(o.inputs).ok, JSON.stringify(checkHTTPTrigger(o.inputs)));
    else if (o.inputs.kind === 'WorkloadDeployment') assert.ok(validateSchema('WorkloadDeployment', o.inputs).ok);
    else await validateObject(o.inputs);
  }
}

/** Every Kubernetes resource names the stack's explicit provider (the stacks disable the default one). */
function assertExplicitProviders(r: Recorded[]): void {
  for (const o of r.filter((x) => x.custom && x.type.startsWith('kubernetes:'))) {
    assert.match(o.provider ?? '', /pulumi:providers:kubernetes::(cluster-k8s|cluster-bootstrap|after-istio)::/, `${o.type} ${o.name} uses ${o.provider}`);
  }
}

function chartRefs(r: Recorded[]): string[] {
  return r.filter((x) => x.type.startsWith('kubernetes:helm.sh/')).map((x) => x.inputs.chart).sort();
}

describe('the Pulumi program under mocks, per stack', function () {
  // Each run registers a few hundred resources; the first also loads @pulumi/aws.
  this.timeout(60000);

  it('has the three stack files, each setting only declared or documented keys', () => {
    assert.deepEqual([...STACKS].sort(), ['dev', 'prod', 'staging']);
    const project = YAML.parse(fs.readFileSync(path.join(packageRoot(), 'Pulumi.yaml'), 'utf8'));
    const structured = ['kubeconfigPath', 'kubeconfigContext', 'eks', 'istio', 'envoyService', 'controllerImage', 'imageRepository', 'image', 'perses', 'hostGroups', 'workloads', 'charts', 'hostPolicy', 'xdsTls'];
    for (const stack of STACKS) {
      for (const key of Object.keys(stackConfig(stack))) {
        const [namespace, name] = key.split(':');
        if (namespace !== 'wasm-control') continue;
        assert.ok(name in project.config || structured.includes(name), `${stack}: ${key} is neither declared in Pulumi.yaml nor read by index.ts`);
      }
    }
  });

  it('gives every EKS stack\'s first apply one access entry per principal, the deploy role that creates the cluster and the preview role included', async () => {
    const eksStacks = STACKS.filter((s) => stackConfig(s)['wasm-control:clusterKind'] === 'eks');
    assert.deepEqual(eksStacks.sort(), ['prod', 'staging'], 'the loop below has stacks to check');
    for (const stack of eksStacks) {
      const { registered: r } = await run(stack);
      const [cluster] = ofType(r, 'aws:eks/cluster:Cluster');
      const principals = ofType(r, 'aws:eks/accessEntry:AccessEntry').map((e) => e.inputs.principalArn as string);
      const eks = JSON.parse(stackConfig(stack)['wasm-control:eks']) as { adminRoleArns: string[]; previewRoleArns: string[] };
      const deployRole = eks.adminRoleArns[0];
      // EKS's own entry for the creator would be a second one for the deploy role: none.
      assert.equal(cluster.inputs.accessConfig.bootstrapClusterCreatorAdminPermissions, false, stack);
      assert.ok(principals.includes(deployRole), `${stack}: ${principals.join(', ')}`);
      assert.ok(eks.previewRoleArns.every((arn) => principals.includes(arn)), `${stack}: the preview role has an entry`);
      assert.equal(new Set(principals).size, principals.length, `${stack}: a principal twice`);
    }
  });

  it('applies the defaults Pulumi.yaml declares', () => {
    const project = YAML.parse(fs.readFileSync(path.join(packageRoot(), 'Pulumi.yaml'), 'utf8'));
    const declared = Object.fromEntries(Object.entries<any>(project.config).map(([k, d]) => [k, d.default]));
    assert.deepEqual(declared, program().defaults);
  });

  it('passes wasm-control:hostPolicy and wasm-control:xdsTls to the ControlPlane: the policies, the controller\'s setting, the certificates\' validity', async () => {
    const hostPolicy = { unlistedHosts: 'deny', policies: [{ name: 'demos', hosts: ['*.localhost.cosmonic.sh'], namespaces: { names: ['default'] } }] };
    const { registered: r } = await underMocks(
      { stack: 'dev', config: { ...stackConfig('dev'), 'wasm-control:hostPolicy': JSON.stringify(hostPolicy), 'wasm-control:xdsTls': JSON.stringify({ validityHours: 48 }) } },
      () => program()(),
    );
    assert.deepEqual(kind(r, 'HostPolicy').map((p) => [p.inputs.metadata.name, p.inputs.spec.hosts]), [['demos', ['*.localhost.cosmonic.sh']]]);
    const args: string[] = kind(r, 'Deployment').find((d) => d.inputs.metadata.name === 'wasm-control-controller')!.inputs.spec.template.spec.containers[0].args;
    assert.equal(args[args.indexOf('--unlisted-hosts') + 1], 'deny');
    // The renewal window defaults to half a validity this short (30 days otherwise).
    assert.deepEqual(ofType(r, 'tls:index/locallySignedCert:LocallySignedCert').map((c) => [c.inputs.validityPeriodHours, c.inputs.earlyRenewalHours]), [[48, 24], [48, 24]]);
  });

  describe('wasm-control:charts (charts from a local directory or a mirror)', () => {
    const withCharts = (charts: unknown, extra: Record<string, unknown> = {}) =>
      underMocks({ stack: 'dev', config: { ...stackConfig('dev'), 'wasm-control:charts': JSON.stringify(charts), ...extra } }, () => program()());

    it('takes each chart from where the setting says: a local path, an OCI mirror, a Helm repository mirror', async () => {
      const { registered } = await withCharts({
        runtime: { path: 'test/charts/runtime-operator' },
        traefik: { repository: 'oci://mirror.example.com/charts' },
        perses: { repository: 'https://mirror.example.com/helm' },
      });
      const charts = registered.filter((x) => x.type === 'kubernetes:helm.sh/v4:Chart').map((x) => [x.inputs.chart, x.inputs.version ?? null, x.inputs.repositoryOpts?.repo ?? null]);
      assert.deepEqual(charts.sort(), [
        [path.resolve('test/charts/runtime-operator'), null, null],
        ['oci://mirror.example.com/charts/traefik', '37.3.0', null],
        ['perses', '0.19.2', 'https://mirror.example.com/helm'],
      ].sort());
    });

    const refusals: [string, unknown, Record<string, unknown>, RegExp][] = [
      ['an unknown chart', { nginx: { path: 'x' } }, {}, /config wasm-control:charts\.nginx is not a chart of this program: use runtime, traefik, perses, istioBase, istiod, istioGateway, loadBalancerController/],
      ['a chart for a part the stack does not install', { istiod: { repository: 'oci://mirror.example.com/istio' } }, {}, /config wasm-control:charts\.istiod is set but wasm-control:istio\.install is not true, so that chart is not installed: remove it/],
      ['the Perses chart given twice', { perses: { path: 'test/charts/perses' } }, { 'wasm-control:perses': JSON.stringify({ chart: { path: 'test/charts/perses' } }) }, /config wasm-control:charts\.perses and wasm-control:perses\.chart are both set: keep one/],
      ['a path that holds no chart', { runtime: { path: 'test' } }, {}, /ControlPlane argument `runtime\.chart` path "test" .* is not a chart/],
    ];
    for (const [what, charts, extra, message] of refusals) {
      it(`refuses ${what}, saying which setting and the fix`, async () => {
        await assert.rejects(withCharts(charts, extra), message);
      });
    }
  });

  describe('dev: existing kind cluster, Traefik, hello-world', () => {
    let r: Recorded[];
    let outputs: Record<string, any>;
    before(async () => {
      ({ registered: r, result: outputs } = await run('dev'));
    });

    it('creates nothing on AWS and builds no image: the kind context and the locally loaded image', () => {
      assert.deepEqual(r.filter((x) => x.type.startsWith('aws:') || x.type.startsWith('docker-build:')), []);
      const provider = one(r, 'pulumi:providers:kubernetes', 'cluster-k8s');
      assert.equal(provider.inputs.context, 'kind-wasm-control');
      assert.equal(named(r, 'Deployment', 'wasm-control-controller').spec.template.spec.containers[0].image, 'wasm-control:dev');
    });

    it('installs Traefik with node ports 30080/30443, which examples/kind-config.yaml maps to host ports 80/443', () => {
      assert.ok(chartRefs(r).includes('traefik'));
      assert.equal(kind(r, 'Gateway').length, 0);
      const traefik = r.find((x) => x.inputs.chart === 'traefik')!.inputs.values;
      const kindConfig = YAML.parse(fs.readFileSync(path.join(packageRoot(), 'examples', 'kind-config.yaml'), 'utf8'));
      const mappings = kindConfig.nodes[0].extraPortMappings.map((m: any) => [m.containerPort, m.hostPort]);
      assert.deepEqual(mappings, [
        [traefik.ports.web.nodePort, 80],
        [traefik.ports.websecure.nodePort, 443],
      ]);
    });

    it('runs one controller and one Envoy, and routes hello-world from Traefik', () => {
      assert.equal(named(r, 'Deployment', 'wasm-control-controller').spec.replicas, 1);
      assert.equal(named(r, 'Deployment', 'wasm-control-envoy').spec.replicas, 1);
      assert.equal(named(r, 'HTTPTrigger', 'hello-world').spec.ingress.host, 'hello.localhost.cosmonic.sh');
      assert.ok(kind(r, 'Ingress').some((i) => i.inputs.spec.rules[0].host === 'hello.localhost.cosmonic.sh'));
      assert.deepEqual(Object.keys(outputs.workloadUrls), ['hello-world']);
    });

    it('validates every Kubernetes object and uses only the explicit provider', async () => {
      await assertObjectsValid(r);
      assertExplicitProviders(r);
    });
  });

  describe('staging: EKS, Istio', () => {
    let r: Recorded[];
    before(async () => {
      ({ registered: r } = await run('staging'));
    });

    it('creates the EKS cluster, its node group and the ECR repository, and builds the image into it', () => {
      const cluster = one(r, 'aws:eks/cluster:Cluster', 'cluster-eks');
      assert.equal(cluster.inputs.name, 'wasm-control-staging');
      assert.equal(cluster.inputs.accessConfig.authenticationMode, 'API');
      assert.equal(ofType(r, 'aws:eks/nodeGroup:NodeGroup').length, 1);
      assert.equal(one(r, 'aws:ecr/repository:Repository', 'controller-repository').inputs.imageScanningConfiguration.scanOnPush, true);
      const image = one(r, 'docker-build:index:Image', 'controller-image');
      assert.equal(image.inputs.push, true);
      assert.match(image.inputs.tags[0], /\.dkr\.ecr\.eu-west-1\.amazonaws\.com\/wasm-control-staging:latest$/);
      assert.equal(named(r, 'Deployment', 'wasm-control-controller').spec.template.spec.containers[0].image, `${image.inputs.tags[0]}@sha256:${'ab'.repeat(32)}`);
    });

    it('installs Istio, then routes the hosts through an Istio Gateway instead of Traefik', () => {
      assert.deepEqual(chartRefs(r), ['aws-load-balancer-controller', 'base', 'gateway', 'istiod', 'oci://ghcr.io/wasmcloud/charts/runtime-operator', 'perses']);
      const gateway = named(r, 'Gateway', 'cosmonic-gateway');
      assert.deepEqual(gateway.spec.servers[0].hosts, ['*.staging.wasm-control.example.com', 'perses.staging.wasm-control.example.com']);
      // No precondition read (Istio's CRDs do not exist at the first preview): the Gateway goes through the
      // provider that waits for the Istio releases.
      assert.equal(r.find((x) => x.id === 'gateways.networking.istio.io'), undefined);
      assert.match(r.find((x) => x.type === 'kubernetes:networking.istio.io/v1:Gateway')!.provider!, /::after-istio::/);
      assert.equal(kind(r, 'Ingress').length, 0);
    });

    it('keeps the default sizes: two controllers, two Envoys', () => {
      assert.equal(named(r, 'Deployment', 'wasm-control-controller').spec.replicas, 2);
      assert.equal(named(r, 'Deployment', 'wasm-control-envoy').spec.replicas, 2);
    });

    it('validates every Kubernetes object and uses only the explicit providers', async () => {
      await assertObjectsValid(r);
      assertExplicitProviders(r);
    });
  });

  describe('prod: EKS with GPUs, Envoy behind an internet-facing NLB', () => {
    let r: Recorded[];
    before(async () => {
      ({ registered: r } = await run('prod'));
    });

    it('exposes Envoy directly through a LoadBalancer Service with the AWS Load Balancer Controller annotations', () => {
      const service = named(r, 'Service', 'ingress');
      assert.equal(service.spec.type, 'LoadBalancer');
      assert.equal(service.metadata.annotations['service.beta.kubernetes.io/aws-load-balancer-type'], 'external');
      assert.equal(service.metadata.annotations['service.beta.kubernetes.io/aws-load-balancer-scheme'], 'internet-facing');
      assert.ok(chartRefs(r).includes('aws-load-balancer-controller'));
      assert.ok(!chartRefs(r).includes('traefik'));
      assert.equal(kind(r, 'Gateway').length + kind(r, 'Ingress').length, 0);
    });

    it('runs three controllers and four Envoys', () => {
      assert.equal(named(r, 'Deployment', 'wasm-control-controller').spec.replicas, 3);
      assert.equal(named(r, 'Deployment', 'wasm-control-envoy').spec.replicas, 4);
    });

    it('has a GPU node group and a GPU host group whose workload needs wasi:webgpu', () => {
      const groups = ofType(r, 'aws:eks/nodeGroup:NodeGroup');
      assert.deepEqual(groups.map((g) => g.name).sort(), ['cluster-gpu-nodes', 'cluster-nodes']);
      const gpu = one(r, 'aws:eks/nodeGroup:NodeGroup', 'cluster-gpu-nodes').inputs;
      assert.equal(gpu.amiType, 'BOTTLEROCKET_x86_64_NVIDIA');
      const hosts = r.find((x) => x.name === 'gpu-hosts')!.inputs;
      assert.equal(hosts.values.runtime.hostGroups[0].webgpu.enabled, true);
      assert.deepEqual(named(r, 'HTTPTrigger', 'image-filter').spec.hostSelector, { hostgroup: 'gpu' });
    });

    it('spreads over three zones with a NAT gateway in each', () => {
      const subnets = ofType(r, 'aws:ec2/subnet:Subnet');
      assert.equal(subnets.length, 6);
      assert.deepEqual([...new Set(subnets.map((s) => s.inputs.availabilityZone))].sort(), ZONES);
      assert.equal(ofType(r, 'aws:ec2/natGateway:NatGateway').length, 3);
    });

    it('validates every Kubernetes object and uses only the explicit providers', async () => {
      await assertObjectsValid(r);
      assertExplicitProviders(r);
    });
  });

  describe('previews', () => {
    it('staging, first preview (no cluster yet): the AWS side only, without hanging on the cluster', async () => {
      const { registered: r, result } = await run('staging', { preview: true, existingEksClusters: [] });
      assert.equal(ofType(r, 'aws:eks/cluster:Cluster').length, 1);
      assert.deepEqual(r.filter((x) => x.type.startsWith('kubernetes:') || x.type.startsWith('wasm-control:index:ControlPlane')), []);
      // The pod identity role of the load balancer controller is AWS, so it is previewed; its chart is not.
      assert.equal(ofType(r, 'aws:eks/podIdentityAssociation:PodIdentityAssociation').length, 1);
      assert.ok('controllerImage' in result);
    });

    it('staging, first preview run by the pull-request workflow\'s preview role: passes the access check (it creates nothing)', async () => {
      const previewRole = (JSON.parse(stackConfig('staging')['wasm-control:eks']) as { previewRoleArns: string[] }).previewRoleArns[0];
      const [, account, name] = /^arn:aws:iam::(\d{12}):role\/(.+)$/.exec(previewRole)!;
      const { registered: r } = await run('staging', { preview: true, existingEksClusters: [], callerArn: `arn:aws:sts::${account}:assumed-role/${name}/gha-pr` });
      assert.equal(ofType(r, 'aws:eks/cluster:Cluster').length, 1);
    });

    it('prod, preview once the cluster exists: everything, as in an update', async () => {
      const { registered: r } = await run('prod', { preview: true, existingEksClusters: ['wasm-control-prod'] });
      assert.equal(kind(r, 'HTTPTrigger').length, 2);
      assert.ok(chartRefs(r).includes('aws-load-balancer-controller'));
    });
  });
});
