/** The Cluster component under mocks: an existing cluster's provider, and everything an EKS cluster needs. */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { ComponentProvider } from '@pulumi/pulumi/provider/experimental';
import { Cluster, ClusterArgs, ControllerImage } from '../../components';
import { adminAccessProblem, GPU_NODE_TAINT, LOAD_BALANCER_CONTROLLER, loadBalancerControllerPolicy, subnetCidr } from '../../components/cluster';
import { HOST_GROUP_DEFAULTS } from '../../components/host-group';
import { packageRoot } from '../../controller/package-root';
import { one, ofType, refusal, REGION, Recorded, underMocks, ZONES } from '../program/mocks';
import { valueOf } from './harness';

const ADMIN = 'arn:aws:iam::123456789012:role/ci-deploy';
const PREVIEW = 'arn:aws:iam::123456789012:role/ci-preview';

function cluster(args: ClusterArgs, options: { preview?: boolean } = {}) {
  return underMocks({ stack: 'test', ...options }, () => new Cluster('c', args));
}

function attachedPolicies(r: Recorded[], role: string): string[] {
  return ofType(r, 'aws:iam/rolePolicyAttachment:RolePolicyAttachment')
    .filter((a) => a.inputs.role === role)
    .map((a) => a.inputs.policyArn.replace('arn:aws:iam::aws:policy/', ''))
    .sort();
}

describe('Cluster (Pulumi mocks)', function () {
  this.timeout(30000);

  describe('existing', () => {
    it('hands a kubeconfig path (with ~ expanded) and the context to the provider, and creates nothing else', async () => {
      const { registered: r, result } = await cluster({ kubeconfigPath: '~/.kube/kind', context: 'kind-wasm-control' });
      const provider = one(r, 'pulumi:providers:kubernetes', 'c-k8s');
      assert.equal(provider.inputs.kubeconfig, path.join(os.homedir(), '.kube/kind'));
      assert.equal(provider.inputs.context, 'kind-wasm-control');
      assert.deepEqual(r.map((x) => x.type).sort(), ['pulumi:providers:kubernetes', 'wasm-control:index:Cluster']);
      assert.deepEqual(await valueOf(result.publicSubnetIds), []);
    });

    it('keeps kubeconfig contents secret, in its output and in the arguments the state records', async () => {
      const { registered: r, result } = await cluster({ kubeconfig: 'apiVersion: v1\nkind: Config\n' });
      assert.equal(await pulumi.isSecret(result.kubeconfig), true);
      assert.ok(one(r, 'wasm-control:index:Cluster', 'c').secretInputs?.includes('kubeconfig'));
    });
  });

  describe('eks', () => {
    let r: Recorded[];
    let result: Cluster;
    before(async () => {
      ({ registered: r, result } = await cluster({
        kind: 'eks',
        eks: { clusterName: 'wc', zoneCount: 3, adminRoleArns: [ADMIN], previewRoleArns: [PREVIEW], gpuNodeGroup: {}, kubeconfigProfile: 'deploy' },
      }));
    });

    it('attaches the managed policies EKS needs to the cluster and node roles, trusted by their services', () => {
      const roles = ofType(r, 'aws:iam/role:Role');
      const trust = (name: string) => JSON.parse(one(r, 'aws:iam/role:Role', name).inputs.assumeRolePolicy).Statement[0];
      assert.equal(trust('c-cluster').Principal.Service, 'eks.amazonaws.com');
      assert.equal(trust('c-node').Principal.Service, 'ec2.amazonaws.com');
      assert.equal(trust('c-lbc').Principal.Service, 'pods.eks.amazonaws.com');
      assert.equal(roles.length, 3);
      assert.deepEqual(attachedPolicies(r, 'c-cluster'), ['AmazonEKSClusterPolicy']);
      assert.deepEqual(attachedPolicies(r, 'c-node'), ['AmazonEC2ContainerRegistryReadOnly', 'AmazonEKSWorkerNodePolicy', 'AmazonEKS_CNI_Policy']);
    });

    it('puts a public (elb) and a private (internal-elb) subnet in each zone, without overlaps', () => {
      const subnets = ofType(r, 'aws:ec2/subnet:Subnet');
      const pub = subnets.filter((s) => s.inputs.tags['kubernetes.io/role/elb'] === '1');
      const priv = subnets.filter((s) => s.inputs.tags['kubernetes.io/role/internal-elb'] === '1');
      assert.equal(pub.length, 3);
      assert.equal(priv.length, 3);
      for (const group of [pub, priv]) assert.deepEqual(group.map((s) => s.inputs.availabilityZone).sort(), ZONES);
      assert.equal(new Set(subnets.map((s) => s.inputs.cidrBlock)).size, 6);
      for (const s of subnets) assert.equal(s.inputs.tags['kubernetes.io/cluster/wc'], 'shared');
      assert.ok(pub.every((s) => s.inputs.mapPublicIpOnLaunch === true) && priv.every((s) => !s.inputs.mapPublicIpOnLaunch));
      // Private subnets reach out through the shared NAT gateway.
      assert.equal(ofType(r, 'aws:ec2/natGateway:NatGateway').length, 1);
      const privateRoutes = ofType(r, 'aws:ec2/routeTable:RouteTable').filter((t) => t.inputs.routes[0].natGatewayId);
      assert.equal(privateRoutes.length, 3);
    });

    it('creates the cluster with API authentication across the private and public subnets', () => {
      const eks = one(r, 'aws:eks/cluster:Cluster', 'c-eks').inputs;
      assert.equal(eks.name, 'wc');
      assert.equal(eks.accessConfig.authenticationMode, 'API');
      assert.equal(eks.vpcConfig.subnetIds.length, 6);
    });

    it('gives the GPU node group the AMI, label and taint a GPU HostGroup selects and tolerates', () => {
      const gpu = one(r, 'aws:eks/nodeGroup:NodeGroup', 'c-gpu-nodes').inputs;
      assert.equal(gpu.amiType, 'BOTTLEROCKET_x86_64_NVIDIA');
      for (const [k, v] of Object.entries(HOST_GROUP_DEFAULTS.gpuNodeSelector)) assert.equal(gpu.labels[k], v);
      assert.deepEqual(gpu.taints, [GPU_NODE_TAINT]);
      const [toleration] = HOST_GROUP_DEFAULTS.gpuTolerations;
      assert.equal(gpu.taints[0].key, toleration.key);
      assert.equal(toleration.effect, 'NoSchedule');
      const general = one(r, 'aws:eks/nodeGroup:NodeGroup', 'c-nodes').inputs;
      assert.equal(general.taints, undefined);
      assert.ok(general.subnetIds.length === 3, 'nodes in the private subnets');
    });

    it('gives each admin role an access entry with the cluster admin policy', () => {
      const entry = one(r, 'aws:eks/accessEntry:AccessEntry', 'c-admin-ci-deploy').inputs;
      assert.deepEqual([entry.principalArn, entry.type], [ADMIN, 'STANDARD']);
      const association = one(r, 'aws:eks/accessPolicyAssociation:AccessPolicyAssociation', 'c-admin-ci-deploy').inputs;
      assert.equal(association.policyArn, 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy');
      assert.deepEqual(association.accessScope, { type: 'cluster' });
    });

    it('gives each preview role an access entry that reads everything (Secrets too, which a refresh reads) and writes nothing', () => {
      const entry = one(r, 'aws:eks/accessEntry:AccessEntry', 'c-preview-ci-preview').inputs;
      assert.deepEqual([entry.principalArn, entry.type, entry.kubernetesGroups], [PREVIEW, 'STANDARD', undefined]);
      const association = one(r, 'aws:eks/accessPolicyAssociation:AccessPolicyAssociation', 'c-preview-ci-preview').inputs;
      assert.equal(association.policyArn, 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminViewPolicy');
      assert.deepEqual(association.accessScope, { type: 'cluster' });
      assert.equal(ofType(r, 'aws:eks/accessEntry:AccessEntry').length, 2);
    });

    it('outputs a secret kubeconfig that authenticates with aws eks get-token', async () => {
      assert.equal(await pulumi.isSecret(result.kubeconfig), true);
      const config = JSON.parse((await valueOf(result.kubeconfig))!);
      assert.equal(config.clusters[0].cluster.server, `https://wc.gr7.${REGION}.eks.amazonaws.com`);
      const exec = config.users[0].user.exec;
      assert.equal(exec.command, 'aws');
      assert.deepEqual(exec.args, ['--region', REGION, 'eks', 'get-token', '--cluster-name', 'wc', '--output', 'json']);
      assert.deepEqual(exec.env.find((e: any) => e.name === 'AWS_PROFILE'), { name: 'AWS_PROFILE', value: 'deploy' });
      const provider = one(r, 'pulumi:providers:kubernetes', 'c-k8s');
      assert.ok(provider.secretInputs?.includes('kubeconfig'));
      assert.equal(JSON.parse(provider.inputs.kubeconfig).users[0].user.exec.command, 'aws');
    });

    it('installs the AWS Load Balancer Controller with a Pod Identity role', () => {
      const release = one(r, 'kubernetes:helm.sh/v3:Release', 'c-lbc').inputs;
      assert.equal(release.chart, 'aws-load-balancer-controller');
      assert.equal(release.values.clusterName, 'wc');
      const association = one(r, 'aws:eks/podIdentityAssociation:PodIdentityAssociation', 'c-lbc').inputs;
      assert.deepEqual([association.namespace, association.serviceAccount], ['kube-system', release.values.serviceAccount.name]);
      assert.equal(release.version, LOAD_BALANCER_CONTROLLER.chartVersion);
      const policy = JSON.parse(one(r, 'aws:iam/rolePolicy:RolePolicy', 'c-lbc').inputs.policy);
      // The documentation's policy for the chart's app version, verbatim.
      const upstream = JSON.parse(fs.readFileSync(path.join(packageRoot(), `components/aws-load-balancer-controller/iam_policy-${LOAD_BALANCER_CONTROLLER.appVersion}.json`), 'utf8'));
      assert.deepEqual(policy, upstream);
      // An NLB's backend security group: rules on the targets' own security groups, which the controller did not tag.
      const unconditional = policy.Statement.filter((s: any) => s.Effect === 'Allow' && s.Resource === '*' && !s.Condition).flatMap((s: any) => [s.Action].flat());
      for (const action of ['ec2:AuthorizeSecurityGroupIngress', 'ec2:RevokeSecurityGroupIngress', 'ec2:DescribeSecurityGroups']) {
        assert.ok(unconditional.includes(action), `${action} granted on every security group`);
      }
      assert.ok(loadBalancerControllerPolicy('aws-us-gov').includes('"arn:aws-us-gov:elasticloadbalancing:*:*:targetgroup/*/*"'));
      assert.ok(!loadBalancerControllerPolicy('aws-us-gov').includes('"arn:aws:'));
      assert.equal(ofType(r, 'aws:eks/addon:Addon')[0].inputs.addonName, 'eks-pod-identity-agent');
    });
  });

  describe('who may reach the cluster', () => {
    const deploy = 'arn:aws:iam::123456789012:role/ci/wasm-control-deploy';
    const assumed = 'arn:aws:sts::123456789012:assumed-role/wasm-control-deploy/gha-run';

    it('lets EKS give the creator access when no admin role is listed, and creates no access entry', async () => {
      const { registered: r } = await cluster({ kind: 'eks', eks: {} });
      assert.equal(ofType(r, 'aws:eks/cluster:Cluster')[0].inputs.accessConfig.bootstrapClusterCreatorAdminPermissions, true);
      assert.equal(ofType(r, 'aws:eks/accessEntry:AccessEntry').length, 0);
    });

    it('with admin roles listed, creates the cluster without the creator bootstrap and an entry for each, the creator included', async () => {
      const { registered: r } = await underMocks({ stack: 'test', callerArn: assumed }, async () => {
        const c = new Cluster('c', { kind: 'eks', eks: { clusterName: 'wc', adminRoleArns: [deploy, ADMIN] } });
        await valueOf(c.kubeconfig);
      });
      assert.equal(ofType(r, 'aws:eks/cluster:Cluster')[0].inputs.accessConfig.bootstrapClusterCreatorAdminPermissions, false);
      assert.deepEqual(ofType(r, 'aws:eks/accessEntry:AccessEntry').map((e) => e.inputs.principalArn).sort(), [ADMIN, deploy].sort());
    });

    it('matches assumed roles to listed roles by account and name (paths and sessions aside), and checks kubeconfigRoleArn instead when set', () => {
      // What the kubeconfig output fails with (a ClusterArgumentError on eks.adminRoleArns), so `pulumi preview` stops.
      assert.match(
        String(adminAccessProblem([deploy], 'arn:aws:sts::123456789012:assumed-role/someone-else/laptop')),
        /^does not include the identity Pulumi runs as \(arn:aws:sts::123456789012:assumed-role\/someone-else\/laptop\).*add arn:aws:iam::123456789012:role\/someone-else \(with its path, if it has one\), or leave `adminRoleArns` empty/,
      );
      assert.equal(adminAccessProblem([deploy], assumed), undefined);
      assert.equal(adminAccessProblem([], 'arn:aws:iam::123456789012:user/alice'), undefined);
      assert.match(String(adminAccessProblem([deploy], 'arn:aws:sts::999999999999:assumed-role/wasm-control-deploy/x')), /does not include/);
      assert.match(String(adminAccessProblem([deploy], 'arn:aws:iam::123456789012:user/alice')), /add the role you run as/);
      assert.equal(adminAccessProblem([deploy], 'arn:aws:iam::123456789012:user/alice', deploy), undefined);
      assert.match(String(adminAccessProblem([deploy], assumed, ADMIN)), /`eks.kubeconfigRoleArn` \(arn:aws:iam::123456789012:role\/ci-deploy\)/);
    });

    it('creates no cluster in the preview run by an identity no list names (the message is adminAccessProblem\'s, above), and checks neither an existing cluster nor a profile\'s identity', async () => {
      const foreign = 'arn:aws:sts::123456789012:assumed-role/someone-else/laptop';
      const build = (eks: Record<string, unknown>, existing: string[] = []) =>
        underMocks({ stack: 'test', preview: true, callerArn: foreign, existingEksClusters: existing }, () => {
          new Cluster('c', { kind: 'eks', eks: { clusterName: 'wc', adminRoleArns: [deploy], ...eks } });
        });
      // The check's error fails the cluster's registration, which the engine reports; under mocks nothing is registered.
      assert.equal(ofType((await build({})).registered, 'aws:eks/cluster:Cluster').length, 0);
      assert.equal(ofType((await build({}, ['wc'])).registered, 'aws:eks/cluster:Cluster').length, 1, 'an existing cluster keeps the access it was created with');
      assert.equal(ofType((await build({ kubeconfigProfile: 'deploy' })).registered, 'aws:eks/cluster:Cluster').length, 1, 'a profile\'s identity is not Pulumi\'s to see');
    });

    it('lets a preview role preview a cluster still to be created (the deploy role that runs `pulumi up` is checked then)', () => {
      const previewing = 'arn:aws:sts::123456789012:assumed-role/wasm-control-preview/gha-pr';
      assert.match(String(adminAccessProblem([deploy], previewing)), /does not include/);
      assert.equal(adminAccessProblem([deploy], previewing, undefined, [PREVIEW.replace('ci-preview', 'wasm-control-preview')]), undefined);
    });
  });

  it('leaves the Kubernetes objects out with kubernetesObjects: false, and keeps the AWS side', async () => {
    const { registered: r } = await cluster({ kind: 'eks', eks: {}, kubernetesObjects: false });
    assert.equal(ofType(r, 'kubernetes:helm.sh/v3:Release').length, 0);
    assert.equal(ofType(r, 'aws:eks/podIdentityAssociation:PodIdentityAssociation').length, 1);
    assert.equal(one(r, 'aws:eks/cluster:Cluster', 'c-eks').inputs.name, 'c', 'the component name by default');
  });

  it('splits the VPC CIDR into sixteen subnets', () => {
    assert.deepEqual([0, 1, 8, 15].map((i) => subnetCidr('10.0.0.0/16', i)), ['10.0.0.0/20', '10.0.16.0/20', '10.0.128.0/20', '10.0.240.0/20']);
    assert.equal(subnetCidr('172.16.0.0/18', 2), '172.16.8.0/22');
  });

  describe('refuses before creating anything', () => {
    const cases: [string, ClusterArgs, RegExp][] = [
      ['one zone', { kind: 'eks', eks: { zoneCount: 1 } }, /eks\.zoneCount.*at least two zones/],
      ['a CIDR with host bits', { kind: 'eks', eks: { vpcCidr: '10.0.0.1/16' } }, /host bits.*10\.0\.0\.0\/16/],
      ['a GPU AMI without the device plugin', { kind: 'eks', eks: { gpuNodeGroup: { amiType: 'AL2023_x86_64_STANDARD' } } }, /gpuNodeGroup\.amiType.*BOTTLEROCKET_x86_64_NVIDIA/],
      ['EKS settings on an existing cluster', { eks: {} }, /`eks` is set but `kind` is "existing"/],
      ['a kubeconfig path and contents', { kubeconfigPath: '/k', kubeconfig: 'x' }, /both set/],
      ['a context on EKS', { kind: 'eks', context: 'x' }, /`context` is for `kind: existing`/],
      ['a malformed admin role', { kind: 'eks', eks: { adminRoleArns: ['ci-deploy'] } }, /adminRoleArns\[0\]/],
      ['a malformed preview role', { kind: 'eks', eks: { previewRoleArns: [ADMIN, 'ci-preview'] } }, /previewRoleArns\[1\]/],
      ['a role both admin and preview', { kind: 'eks', eks: { adminRoleArns: [ADMIN], previewRoleArns: [ADMIN] } }, /eks\.previewRoleArns.*ci-deploy is in `adminRoleArns` too/],
      ['desired above max', { kind: 'eks', eks: { nodeGroup: { minSize: 1, desiredSize: 5, maxSize: 3 } } }, /minSize ≤ desiredSize ≤ maxSize/],
    ];
    for (const [what, args, message] of cases) {
      it(what, async () => {
        const { error, registered } = await refusal(() => new Cluster('bad', args));
        assert.match(String(error), message);
        assert.deepEqual(registered, []);
      });
    }
  });
});

describe('Cluster and ControllerImage schema (other languages)', function () {
  // The analyzer type-checks the component sources.
  this.timeout(60000);

  it('infers both components with documented inputs and their outputs', async () => {
    const root = packageRoot();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasm-control-schema-'));
    let schema: any;
    try {
      const entry = path.join(root, 'components', 'index.ts');
      fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'wasm-control', version: '0.1.0', main: entry }));
      fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ extends: path.join(root, 'tsconfig.json'), files: [entry], include: [] }));
      schema = JSON.parse(await new ComponentProvider({ components: [Cluster, ControllerImage], dirname: dir, name: 'wasm-control' }).getSchema());
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    const c = schema.resources['wasm-control:index:Cluster'];
    assert.deepEqual(Object.keys(c.properties).sort(), ['clusterName', 'kubeconfig', 'privateSubnetIds', 'provider', 'publicSubnetIds', 'vpcId']);
    assert.equal(schema.types['wasm-control:index:ClusterKind'].enum.length, 2);
    const image = schema.resources['wasm-control:index:ControllerImage'];
    assert.deepEqual(Object.keys(image.properties).sort(), ['imageRef', 'repositoryUrl']);
    for (const resource of [c, image]) for (const [k, p] of Object.entries<any>(resource.inputProperties)) assert.ok(p.description, `${k} has TSDoc`);
    for (const [typeName, type] of Object.entries<any>(schema.types)) {
      for (const [prop, def] of Object.entries<any>(type.properties ?? {})) assert.ok(def.description, `${typeName}.${prop} has TSDoc`);
    }
  });
});
