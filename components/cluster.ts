/**
 * The Kubernetes cluster the control plane runs on: an existing one reached
 * through a kubeconfig (a local kind cluster, a platform team's cluster), or an
 * EKS cluster built here with plain @pulumi/aws. Either way the component's
 * `provider` is the Kubernetes provider every other wasm-control component is
 * given.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import * as aws from '@pulumi/aws';
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { ChartSourceArgs } from './args';
import { chartReference, ChartReference, chartSourceProblem, UpstreamChart } from './chart-source';
import lbcPolicy = require('./aws-load-balancer-controller/iam_policy-v2.14.0.json');
import { HOST_GROUP_DEFAULTS } from './host-group';
import { withSecrets } from './recorded-args';

/** Where the cluster comes from. */
export const ClusterKind = {
  /** A cluster that already exists, reached through a kubeconfig (the default). */
  Existing: 'existing',
  /** An EKS cluster created by this component, with its VPC, IAM roles and node groups. */
  Eks: 'eks',
} as const;
export type ClusterKind = (typeof ClusterKind)[keyof typeof ClusterKind];

/** The arguments of a {@link Cluster}. */
export interface ClusterArgs {
  /** `existing` (default): use a kubeconfig; `eks`: create an EKS cluster. */
  kind?: ClusterKind;
  /**
   * Existing cluster: path of the kubeconfig file (`~` is expanded). Without it and without
   * `kubeconfig`, the provider uses `KUBECONFIG` or `~/.kube/config`, like kubectl.
   */
  kubeconfigPath?: string;
  /** Existing cluster: the kubeconfig's contents (kept secret). Mutually exclusive with `kubeconfigPath`. */
  kubeconfig?: pulumi.Input<string>;
  /** Existing cluster: the kubeconfig context, e.g. `kind-wasm-control`. Default: the current context. */
  context?: string;
  /** EKS settings; only with `kind: eks`. */
  eks?: EksArgs;
  /**
   * Create the component's own Kubernetes objects (the AWS Load Balancer Controller) in this run.
   * Default `true`. Set `false` for a preview in which the EKS cluster does not exist yet: its API
   * server cannot render them (pulumi-kubernetes#3027); see {@link eksClusterExists}.
   */
  kubernetesObjects?: boolean;
}

/** An EKS cluster with its network and nodes. */
export interface EksArgs {
  /** The EKS cluster's name, known before it exists (the kubeconfig and subnet tags use it). Default: the component's name. */
  clusterName?: string;
  /** Kubernetes version. Default `1.33`. */
  version?: pulumi.Input<string>;
  /** CIDR of the VPC, a /16 to /20; each subnet gets a sixteenth of it. Default `10.0.0.0/16`. */
  vpcCidr?: string;
  /** Availability zones to spread subnets and nodes over: 2 (default) to 4. */
  zoneCount?: number;
  /** One NAT gateway per zone (survives a zone outage) instead of one shared gateway (the default, cheaper). */
  natGatewayPerZone?: boolean;
  /** The general-purpose managed node group. */
  nodeGroup?: EksNodeGroupArgs;
  /**
   * A managed GPU node group for GPU host groups; unset means none. Its nodes carry the label and
   * taint `HostGroup` with `gpu: true` selects and tolerates (`nvidia.com/gpu.present=true`, `nvidia.com/gpu`).
   */
  gpuNodeGroup?: EksNodeGroupArgs;
  /**
   * IAM role ARNs that get cluster-admin access entries (`AmazonEKSClusterAdminPolicy`), e.g. a CI
   * deploy role. Empty (the default): EKS gives whoever creates the cluster admin access itself
   * (`bootstrapClusterCreatorAdminPermissions`). Listed: the cluster is created without that
   * bootstrap, so that a listed creator does not get two access entries (EKS refuses the second with
   * 409 ResourceInUseException), and the list must include the role Pulumi runs as (or
   * `kubeconfigRoleArn`): the preview of a cluster still to be created fails, naming it, when it
   * does not. Fixed at creation: an existing cluster keeps the model it was created with.
   */
  adminRoleArns?: string[];
  /**
   * IAM role ARNs that may read everything in the cluster and change nothing, e.g. the CI role that
   * runs `pulumi preview --refresh` on pull requests: each gets an access entry with
   * `AmazonEKSAdminViewPolicy` (get, list and watch on every resource, Secrets included, as a
   * refresh reads the Secrets the program and Helm releases own). Writes, server-side dry-runs
   * included, are refused; the Kubernetes provider then previews a create or update from its
   * inputs. A role is either here or in `adminRoleArns`.
   */
  previewRoleArns?: string[];
  /** Role the kubeconfig's `aws eks get-token` assumes (`--role-arn`); default: the caller's credentials. */
  kubeconfigRoleArn?: pulumi.Input<string>;
  /** AWS profile the kubeconfig's `aws eks get-token` runs with (`AWS_PROFILE`). */
  kubeconfigProfile?: string;
  /** CIDRs allowed to reach the public API endpoint. Default: anywhere (`0.0.0.0/0`). */
  publicAccessCidrs?: string[];
  /** The AWS Load Balancer Controller, which turns NLB annotations on Services into NLBs. */
  loadBalancerController?: LoadBalancerControllerArgs;
  /** Tags on every AWS resource the component creates. */
  tags?: { [key: string]: string };
}

/** A managed node group. */
export interface EksNodeGroupArgs {
  /** EC2 instance types. Default `["m6i.large"]`, or `["g5.xlarge"]` for the GPU group. */
  instanceTypes?: string[];
  /** Fewest nodes. Default 2 (general) or 1 (GPU). */
  minSize?: number;
  /** Nodes at creation; later changes by an autoscaler are kept. Default: `minSize`. */
  desiredSize?: number;
  /** Most nodes. Default 4 (general) or 2 (GPU). */
  maxSize?: number;
  /** Root volume size in GiB. Default 40. */
  diskSize?: number;
  /**
   * EKS AMI type. Default `AL2023_x86_64_STANDARD`, or `BOTTLEROCKET_x86_64_NVIDIA` for the GPU group
   * (its NVIDIA device plugin advertises `nvidia.com/gpu` with nothing else installed).
   */
  amiType?: string;
  /** Extra node labels. */
  labels?: { [key: string]: string };
}

/** The AWS Load Balancer Controller, installed with EKS Pod Identity for its IAM role. */
export interface LoadBalancerControllerArgs {
  /** Install it (default `true` on EKS). Without it, only the in-tree `aws-load-balancer-type: nlb` works. */
  enabled?: boolean;
  /**
   * Version of the `aws-load-balancer-controller` chart from https://aws.github.io/eks-charts. Default
   * 1.14.0 (app v2.14.0), whose documented IAM policy the controller's role gets: another version may need
   * another policy.
   */
  chartVersion?: string;
  /** Where to take the chart from instead: a local chart or a mirror (air-gapped clusters). */
  chart?: ChartSourceArgs;
}

export const CLUSTER_DEFAULTS = {
  version: '1.33',
  vpcCidr: '10.0.0.0/16',
  zoneCount: 2,
  nodeGroup: { instanceTypes: ['m6i.large'], minSize: 2, maxSize: 4, diskSize: 40, amiType: 'AL2023_x86_64_STANDARD' },
  gpuNodeGroup: { instanceTypes: ['g5.xlarge'], minSize: 1, maxSize: 2, diskSize: 40, amiType: 'BOTTLEROCKET_x86_64_NVIDIA' },
  lbcServiceAccount: 'aws-load-balancer-controller',
} as const;

export const LOAD_BALANCER_CONTROLLER_CHART: UpstreamChart = { name: 'aws-load-balancer-controller', repository: 'https://aws.github.io/eks-charts' };

/**
 * The AWS Load Balancer Controller's IAM policy, exactly as its documentation publishes it for the
 * chart's app version (docs/install/iam_policy.json at tag v2.14.0 of kubernetes-sigs/
 * aws-load-balancer-controller), kept next to the chart version so the two change together. The
 * controller needs all of it, e.g. adding rules to the targets' own (untagged) security groups for
 * an NLB's backend security group; a narrower policy lets `pulumi up` succeed while the load
 * balancer passes no traffic. Upstream's GovCloud and China variants differ only in the partition,
 * which is substituted here.
 */
export const LOAD_BALANCER_CONTROLLER = {
  chartVersion: '1.14.0',
  appVersion: 'v2.14.0',
  policy: lbcPolicy as { Version: string; Statement: { Effect: string; Action: string | string[]; Resource: string | string[]; Condition?: unknown }[] },
} as const;

/** LOAD_BALANCER_CONTROLLER.policy for an AWS partition (`aws`, `aws-us-gov`, `aws-cn`). */
export function loadBalancerControllerPolicy(partition: string): string {
  return JSON.stringify(LOAD_BALANCER_CONTROLLER.policy).replaceAll('"arn:aws:', `"arn:${partition}:`);
}

/** GPU AMI types whose nodes advertise `nvidia.com/gpu` without a separately installed device plugin. */
export const GPU_AMI_TYPES = ['BOTTLEROCKET_x86_64_NVIDIA', 'BOTTLEROCKET_ARM_64_NVIDIA'] as const;

/** The labels and taint of GPU nodes: what `HostGroup` with `gpu: true` selects and tolerates. */
export const GPU_NODE_LABELS: Record<string, string> = { ...HOST_GROUP_DEFAULTS.gpuNodeSelector };
export const GPU_NODE_TAINT = { key: HOST_GROUP_DEFAULTS.gpuTolerations[0].key!, value: 'true', effect: 'NO_SCHEDULE' };

/** Thrown for a bad argument; the message names the argument and the fix. */
export class ClusterArgumentError extends Error {
  constructor(argument: string, problem: string) {
    super(`Cluster argument \`${argument}\` ${problem}`);
    this.name = 'ClusterArgumentError';
  }
}

/**
 * A Kubernetes cluster and the provider that reaches it.
 *
 * `kind: existing` turns a kubeconfig (path or contents, optional context) into
 * a provider. `kind: eks` creates, with plain @pulumi/aws: a VPC with public
 * and private subnets across two or more zones, tagged for load balancers; the
 * cluster and node IAM roles with their managed policies; an EKS cluster with
 * `API` authentication; a managed node group and an optional GPU node group;
 * access entries for admin roles; a kubeconfig (a secret) that authenticates
 * with `aws eks get-token`; and optionally the AWS Load Balancer Controller.
 * The provider becomes usable only once the nodes (and that controller) are
 * up, so nothing deployed through it waits on an empty cluster.
 */
export class Cluster extends pulumi.ComponentResource {
  /** The Kubernetes provider for everything deployed on this cluster. */
  public readonly provider!: k8s.Provider;
  /** The EKS cluster's name, or the kubeconfig context (empty for the current one). */
  public readonly clusterName!: pulumi.Output<string>;
  /** The kubeconfig (secret): generated for EKS, the given contents for an existing cluster, else unset. */
  public readonly kubeconfig!: pulumi.Output<string | undefined>;
  /** The VPC of an EKS cluster; unset for an existing cluster. */
  public readonly vpcId!: pulumi.Output<string | undefined>;
  /** The public subnets (load balancers) of an EKS cluster; empty for an existing cluster. */
  public readonly publicSubnetIds!: pulumi.Output<string[]>;
  /** The private subnets (nodes) of an EKS cluster; empty for an existing cluster. */
  public readonly privateSubnetIds!: pulumi.Output<string[]>;

  constructor(name: string, args: ClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    const plan = opts?.urn ? undefined : planCluster(name, args ?? {});
    super('wasm-control:index:Cluster', name, opts?.urn ? {} : withSecrets(args, ['kubeconfig']), opts);
    if (!plan) return; // rehydrated from a URN: the outputs come from state

    const outputs = plan.kind === ClusterKind.Eks ? buildEks(this, name, plan) : buildExisting(this, name, plan);
    this.provider = outputs.provider;
    this.clusterName = outputs.clusterName;
    this.kubeconfig = outputs.kubeconfig;
    this.vpcId = outputs.vpcId;
    this.publicSubnetIds = outputs.publicSubnetIds;
    this.privateSubnetIds = outputs.privateSubnetIds;
    this.registerOutputs({ ...outputs });
  }
}

/**
 * Whether the EKS cluster named `clusterName` exists already. Outside a
 * preview this is always `true` (an update creates it before anything uses
 * it); in a preview it asks EKS, so a program can leave out Kubernetes objects
 * whose preview needs a live API server while the cluster is still to be created.
 */
export async function eksClusterExists(clusterName: string): Promise<boolean> {
  if (!pulumi.runtime.isDryRun()) return true;
  const { names } = await aws.eks.getClusters({});
  return (names ?? []).includes(clusterName);
}

interface NodeGroupPlan {
  instanceTypes: string[];
  minSize: number;
  desiredSize: number;
  maxSize: number;
  diskSize: number;
  amiType: string;
  labels: Record<string, string>;
}

export interface ClusterPlan {
  kind: ClusterKind;
  kubeconfigPath?: string;
  kubeconfig?: pulumi.Input<string>;
  context?: string;
  kubernetesObjects: boolean;
  eks?: {
    clusterName: string;
    version: pulumi.Input<string>;
    vpcCidr: string;
    zoneCount: number;
    natGatewayPerZone: boolean;
    nodeGroup: NodeGroupPlan;
    gpuNodeGroup?: NodeGroupPlan;
    adminRoleArns: string[];
    previewRoleArns: string[];
    kubeconfigRoleArn?: pulumi.Input<string>;
    kubeconfigProfile?: string;
    publicAccessCidrs: string[];
    loadBalancerController?: { chart: ChartReference };
    tags: Record<string, string>;
  };
}

/** Validates the arguments and applies the defaults; throws {@link ClusterArgumentError} before anything is registered. */
export function planCluster(name: string, args: ClusterArgs): ClusterPlan {
  const kind = args.kind ?? ClusterKind.Existing;
  if (!Object.values(ClusterKind).includes(kind)) {
    throw new ClusterArgumentError('kind', `${JSON.stringify(kind)} is not supported: use "existing" or "eks".`);
  }
  const kubernetesObjects = args.kubernetesObjects ?? true;
  if (kind === ClusterKind.Existing) {
    if (args.eks !== undefined) throw new ClusterArgumentError('eks', 'is set but `kind` is "existing": set `kind: eks` or remove `eks`.');
    if (args.kubeconfigPath !== undefined && args.kubeconfig !== undefined) {
      throw new ClusterArgumentError('kubeconfigPath', 'and `kubeconfig` are both set: give the file or its contents, not both.');
    }
    if (args.kubeconfigPath !== undefined && (typeof args.kubeconfigPath !== 'string' || args.kubeconfigPath === '')) {
      throw new ClusterArgumentError('kubeconfigPath', `must be a file path, got ${JSON.stringify(args.kubeconfigPath)}.`);
    }
    const kubeconfigPath = args.kubeconfigPath?.replace(/^~(?=$|\/)/, os.homedir());
    return { kind, kubeconfigPath: kubeconfigPath && path.normalize(kubeconfigPath), kubeconfig: args.kubeconfig, context: args.context, kubernetesObjects };
  }

  for (const field of ['kubeconfigPath', 'kubeconfig', 'context'] as const) {
    if (args[field] !== undefined) throw new ClusterArgumentError(field, 'is for `kind: existing`: an EKS cluster gets a generated kubeconfig (the `kubeconfig` output).');
  }
  const e = args.eks ?? {};
  const clusterName = e.clusterName ?? name;
  if (typeof clusterName !== 'string' || !/^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$/.test(clusterName)) {
    throw new ClusterArgumentError('eks.clusterName', `${JSON.stringify(clusterName)} is not an EKS cluster name: 1-100 letters, digits, "-" and "_", starting with a letter or digit.`);
  }
  const vpcCidr = e.vpcCidr ?? CLUSTER_DEFAULTS.vpcCidr;
  const cidrProblem = vpcCidrProblem(vpcCidr);
  if (cidrProblem) throw new ClusterArgumentError('eks.vpcCidr', cidrProblem);
  const zoneCount = e.zoneCount ?? CLUSTER_DEFAULTS.zoneCount;
  if (!Number.isInteger(zoneCount) || zoneCount < 2 || zoneCount > 4) {
    throw new ClusterArgumentError('eks.zoneCount', `${JSON.stringify(zoneCount)} must be 2, 3 or 4: EKS needs subnets in at least two zones.`);
  }
  const adminRoleArns = roleArnList('eks.adminRoleArns', e.adminRoleArns);
  const previewRoleArns = roleArnList('eks.previewRoleArns', e.previewRoleArns);
  const both = previewRoleArns.find((arn) => adminRoleArns.includes(arn));
  if (both) throw new ClusterArgumentError('eks.previewRoleArns', `${both} is in \`adminRoleArns\` too: a role gets one access entry, and an admin can preview already. Keep it in one list.`);
  const lbc = e.loadBalancerController ?? {};
  const lbcChartProblem = chartSourceProblem(lbc.chart, lbc.chartVersion !== undefined);
  if (lbcChartProblem) throw new ClusterArgumentError('eks.loadBalancerController.chart', `${lbcChartProblem}.`);
  return {
    kind,
    kubernetesObjects,
    eks: {
      clusterName,
      version: e.version ?? CLUSTER_DEFAULTS.version,
      vpcCidr,
      zoneCount,
      natGatewayPerZone: e.natGatewayPerZone ?? false,
      nodeGroup: nodeGroupPlan('eks.nodeGroup', e.nodeGroup, CLUSTER_DEFAULTS.nodeGroup, {}),
      gpuNodeGroup: e.gpuNodeGroup === undefined ? undefined : nodeGroupPlan('eks.gpuNodeGroup', e.gpuNodeGroup, CLUSTER_DEFAULTS.gpuNodeGroup, GPU_NODE_LABELS),
      adminRoleArns,
      previewRoleArns,
      kubeconfigRoleArn: e.kubeconfigRoleArn,
      kubeconfigProfile: e.kubeconfigProfile,
      publicAccessCidrs: e.publicAccessCidrs ?? ['0.0.0.0/0'],
      loadBalancerController:
        (lbc.enabled ?? true) ? { chart: chartReference(LOAD_BALANCER_CONTROLLER_CHART, lbc.chartVersion ?? LOAD_BALANCER_CONTROLLER.chartVersion, lbc.chart) } : undefined,
      tags: { ...(e.tags ?? {}), 'wasm-control:cluster': clusterName },
    },
  };
}

function roleArnList(at: string, arns: unknown): string[] {
  if (arns === undefined) return [];
  if (!Array.isArray(arns)) throw new ClusterArgumentError(at, `must be a list of IAM role ARNs, got ${JSON.stringify(arns)}.`);
  for (const [i, arn] of arns.entries()) {
    if (typeof arn !== 'string' || !/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/.test(arn)) {
      throw new ClusterArgumentError(`${at}[${i}]`, `${JSON.stringify(arn)} is not an IAM role ARN (arn:aws:iam::<account>:role/<name>).`);
    }
  }
  if (new Set(arns).size !== arns.length) throw new ClusterArgumentError(at, 'lists a role twice: each role gets one access entry.');
  return arns;
}

function nodeGroupPlan(at: string, args: EksNodeGroupArgs | undefined, defaults: Omit<NodeGroupPlan, 'desiredSize' | 'labels' | 'instanceTypes'> & { instanceTypes: readonly string[] }, labels: Record<string, string>): NodeGroupPlan {
  const a = args ?? {};
  const minSize = a.minSize ?? defaults.minSize;
  const maxSize = a.maxSize ?? Math.max(defaults.maxSize, minSize);
  const desiredSize = a.desiredSize ?? minSize;
  if (![minSize, desiredSize, maxSize].every((n) => Number.isInteger(n) && n >= 0) || maxSize < 1 || !(minSize <= desiredSize && desiredSize <= maxSize)) {
    throw new ClusterArgumentError(at, `sizes must be whole numbers with minSize ≤ desiredSize ≤ maxSize and maxSize ≥ 1, got ${minSize}/${desiredSize}/${maxSize}.`);
  }
  const amiType = a.amiType ?? defaults.amiType;
  const gpu = Object.keys(labels).length > 0;
  if (gpu && !(GPU_AMI_TYPES as readonly string[]).includes(amiType)) {
    throw new ClusterArgumentError(`${at}.amiType`, `"${amiType}" does not advertise nvidia.com/gpu by itself: use ${GPU_AMI_TYPES.join(' or ')} (their NVIDIA device plugin is built in).`);
  }
  const instanceTypes = a.instanceTypes ?? [...defaults.instanceTypes];
  if (!Array.isArray(instanceTypes) || instanceTypes.length === 0) throw new ClusterArgumentError(`${at}.instanceTypes`, 'must list at least one EC2 instance type.');
  return { instanceTypes, minSize, desiredSize, maxSize, diskSize: a.diskSize ?? defaults.diskSize, amiType, labels: { ...(a.labels ?? {}), ...labels } };
}

/** Why `cidr` cannot be the VPC's CIDR, or undefined when it can. */
export function vpcCidrProblem(cidr: unknown): string | undefined {
  const m = typeof cidr === 'string' ? /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr) : null;
  if (!m || m.slice(1, 5).some((o) => Number(o) > 255)) return `${JSON.stringify(cidr)} is not an IPv4 CIDR such as 10.0.0.0/16.`;
  const prefix = Number(m[5]);
  if (prefix < 16 || prefix > 20) return `"${cidr}" must be a /16 to /20: AWS VPCs are at most /16, and each of the 16 subnets needs room for nodes and pods.`;
  if (ipv4ToNumber(cidr as string) % 2 ** (32 - prefix) !== 0) return `"${cidr}" has host bits set: use the network address, e.g. ${numberToIpv4(ipv4ToNumber(cidr as string) - (ipv4ToNumber(cidr as string) % 2 ** (32 - prefix)))}/${prefix}.`;
  return undefined;
}

function ipv4ToNumber(cidr: string): number {
  return cidr.split('/')[0].split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
}

function numberToIpv4(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

/** The `index`th of the sixteen equal subnets of `vpcCidr`. */
export function subnetCidr(vpcCidr: string, index: number): string {
  const prefix = Number(vpcCidr.split('/')[1]) + 4;
  return `${numberToIpv4(ipv4ToNumber(vpcCidr) + index * 2 ** (32 - prefix))}/${prefix}`;
}

interface ClusterOutputs {
  provider: k8s.Provider;
  clusterName: pulumi.Output<string>;
  kubeconfig: pulumi.Output<string | undefined>;
  vpcId: pulumi.Output<string | undefined>;
  publicSubnetIds: pulumi.Output<string[]>;
  privateSubnetIds: pulumi.Output<string[]>;
}

function buildExisting(parent: Cluster, name: string, plan: ClusterPlan): ClusterOutputs {
  const kubeconfig = plan.kubeconfig === undefined ? undefined : pulumi.secret(plan.kubeconfig);
  // A path is handed to the provider as is: it reads the file, so credentials never enter the state.
  const provider = new k8s.Provider(`${name}-k8s`, { kubeconfig: plan.kubeconfigPath ?? kubeconfig, context: plan.context }, { parent });
  return {
    provider,
    clusterName: pulumi.output(plan.context ?? ''),
    kubeconfig: kubeconfig ?? pulumi.output(undefined),
    vpcId: pulumi.output(undefined),
    publicSubnetIds: pulumi.output([]),
    privateSubnetIds: pulumi.output([]),
  };
}

const MANAGED_POLICY = {
  cluster: ['AmazonEKSClusterPolicy'],
  node: ['AmazonEKSWorkerNodePolicy', 'AmazonEKS_CNI_Policy', 'AmazonEC2ContainerRegistryReadOnly'],
} as const;

function assumeRolePolicy(service: string): string {
  return JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: service }, Action: ['sts:AssumeRole', 'sts:TagSession'] }] });
}

function buildEks(parent: Cluster, name: string, plan: ClusterPlan): ClusterOutputs {
  const e = plan.eks!;
  const opts = { parent };
  const tags = e.tags;
  const partition = aws.getPartitionOutput({}, opts).partition;
  const region = aws.getRegionOutput({}, opts).region;
  const zones = aws.getAvailabilityZonesOutput({ state: 'available' }, opts).names;

  // Network: public subnets for load balancers and NAT, private subnets for nodes, one of each per zone.
  const vpc = new aws.ec2.Vpc(`${name}-vpc`, { cidrBlock: e.vpcCidr, enableDnsHostnames: true, enableDnsSupport: true, tags: { ...tags, Name: `${e.clusterName}-vpc` } }, opts);
  const igw = new aws.ec2.InternetGateway(`${name}-igw`, { vpcId: vpc.id, tags }, { parent: vpc });
  const publicRoutes = new aws.ec2.RouteTable(`${name}-public`, { vpcId: vpc.id, routes: [{ cidrBlock: '0.0.0.0/0', gatewayId: igw.id }], tags }, { parent: vpc });
  const clusterTag = { [`kubernetes.io/cluster/${e.clusterName}`]: 'shared' };
  const publicSubnets: aws.ec2.Subnet[] = [];
  const privateSubnets: aws.ec2.Subnet[] = [];
  const natGateways: aws.ec2.NatGateway[] = [];
  for (let i = 0; i < e.zoneCount; i++) {
    const zone = zones.apply((names) => {
      if (!names || names.length < e.zoneCount) throw new pulumi.ResourceError(`the region has ${names?.length ?? 0} available zones; eks.zoneCount asks for ${e.zoneCount}`, parent);
      return names[i];
    });
    const pub = new aws.ec2.Subnet(
      `${name}-public-${i}`,
      { vpcId: vpc.id, cidrBlock: subnetCidr(e.vpcCidr, i), availabilityZone: zone, mapPublicIpOnLaunch: true, tags: { ...tags, ...clusterTag, 'kubernetes.io/role/elb': '1', Name: `${e.clusterName}-public-${i}` } },
      { parent: vpc },
    );
    new aws.ec2.RouteTableAssociation(`${name}-public-${i}`, { subnetId: pub.id, routeTableId: publicRoutes.id }, { parent: pub });
    publicSubnets.push(pub);
    if (i === 0 || e.natGatewayPerZone) {
      const eip = new aws.ec2.Eip(`${name}-nat-${i}`, { domain: 'vpc', tags }, { parent: pub });
      natGateways.push(new aws.ec2.NatGateway(`${name}-nat-${i}`, { subnetId: pub.id, allocationId: eip.id, tags }, { parent: pub, dependsOn: [igw] }));
    }
    const nat = natGateways[e.natGatewayPerZone ? i : 0];
    const priv = new aws.ec2.Subnet(
      `${name}-private-${i}`,
      { vpcId: vpc.id, cidrBlock: subnetCidr(e.vpcCidr, 8 + i), availabilityZone: zone, tags: { ...tags, ...clusterTag, 'kubernetes.io/role/internal-elb': '1', Name: `${e.clusterName}-private-${i}` } },
      { parent: vpc },
    );
    const privateRoutes = new aws.ec2.RouteTable(`${name}-private-${i}`, { vpcId: vpc.id, routes: [{ cidrBlock: '0.0.0.0/0', natGatewayId: nat.id }], tags }, { parent: priv });
    new aws.ec2.RouteTableAssociation(`${name}-private-${i}`, { subnetId: priv.id, routeTableId: privateRoutes.id }, { parent: priv });
    privateSubnets.push(priv);
  }

  const managedPolicy = (policy: string) => pulumi.interpolate`arn:${partition}:iam::aws:policy/${policy}`;
  const clusterRole = new aws.iam.Role(`${name}-cluster`, { assumeRolePolicy: assumeRolePolicy('eks.amazonaws.com'), tags }, opts);
  const clusterPolicies = MANAGED_POLICY.cluster.map((p) => new aws.iam.RolePolicyAttachment(`${name}-cluster-${p}`, { role: clusterRole.name, policyArn: managedPolicy(p) }, { parent: clusterRole }));
  const nodeRole = new aws.iam.Role(`${name}-node`, { assumeRolePolicy: assumeRolePolicy('ec2.amazonaws.com'), tags }, opts);
  const nodePolicies = MANAGED_POLICY.node.map((p) => new aws.iam.RolePolicyAttachment(`${name}-node-${p}`, { role: nodeRole.name, policyArn: managedPolicy(p) }, { parent: nodeRole }));

  // A cluster still to be created: checked before it is (in the preview), as its creator gets no access of its own.
  // An existing one keeps the access model it was created with (the flag is create-only).
  const accessChecked = pulumi
    .all([aws.getCallerIdentityOutput({}, opts).arn, pulumi.output(e.kubeconfigRoleArn), eksClusterExists(e.clusterName)])
    .apply(([caller, roleArn, exists]) => {
      // With a profile, kubectl's identity is the profile's, which Pulumi cannot see.
      const problem = exists || e.kubeconfigProfile !== undefined ? undefined : adminAccessProblem(e.adminRoleArns, caller, roleArn, e.previewRoleArns);
      if (problem) throw new ClusterArgumentError('eks.adminRoleArns', problem);
      return clusterPolicies;
    });
  const cluster = new aws.eks.Cluster(
    `${name}-eks`,
    {
      name: e.clusterName,
      version: e.version,
      roleArn: clusterRole.arn,
      vpcConfig: {
        subnetIds: [...privateSubnets, ...publicSubnets].map((s) => s.id),
        endpointPrivateAccess: true,
        endpointPublicAccess: true,
        publicAccessCidrs: e.publicAccessCidrs,
      },
      // Either EKS grants the creator access (no list), or the list is every admin, the creator included.
      accessConfig: { authenticationMode: 'API', bootstrapClusterCreatorAdminPermissions: e.adminRoleArns.length === 0 },
      tags,
    },
    {
      parent,
      dependsOn: accessChecked,
      // Both are create-only: a diff on them would replace the cluster (pulumi-aws#3997).
      ignoreChanges: ['accessConfig.bootstrapClusterCreatorAdminPermissions', 'bootstrapSelfManagedAddons'],
    },
  );

  // No fixed node group names: a change that replaces a group then creates the new one before deleting the old.
  const nodeGroup = (suffix: string, g: NodeGroupPlan, taints: aws.types.input.eks.NodeGroupTaint[]) =>
    new aws.eks.NodeGroup(
      `${name}-${suffix}`,
      {
        clusterName: cluster.name,
        nodeRoleArn: nodeRole.arn,
        subnetIds: privateSubnets.map((s) => s.id),
        instanceTypes: g.instanceTypes,
        amiType: g.amiType,
        diskSize: g.diskSize,
        scalingConfig: { minSize: g.minSize, desiredSize: g.desiredSize, maxSize: g.maxSize },
        updateConfig: { maxUnavailable: 1 },
        labels: g.labels,
        taints: taints.length > 0 ? taints : undefined,
        tags,
      },
      // Policies first, or deleting the group can strand instances and ENIs; an autoscaler owns desiredSize.
      { parent: cluster, dependsOn: nodePolicies, ignoreChanges: ['scalingConfig.desiredSize'] },
    );
  const nodeGroups = [nodeGroup('nodes', e.nodeGroup, [])];
  if (e.gpuNodeGroup) nodeGroups.push(nodeGroup('gpu-nodes', e.gpuNodeGroup, [GPU_NODE_TAINT]));

  // One access entry per role, with one EKS access policy over the whole cluster.
  const accessEntry = (kind: string, arn: string, policy: string) => {
    const entryName = `${name}-${kind}-${arn.split('/').pop()!}`;
    const entry = new aws.eks.AccessEntry(entryName, { clusterName: cluster.name, principalArn: arn, type: 'STANDARD', tags }, { parent: cluster });
    return new aws.eks.AccessPolicyAssociation(
      entryName,
      {
        clusterName: cluster.name,
        principalArn: entry.principalArn,
        policyArn: pulumi.interpolate`arn:${partition}:eks::aws:cluster-access-policy/${policy}`,
        accessScope: { type: 'cluster' },
      },
      { parent: entry },
    );
  };
  const adminAccess = e.adminRoleArns.map((arn) => accessEntry('admin', arn, 'AmazonEKSClusterAdminPolicy'));
  for (const arn of e.previewRoleArns) accessEntry('preview', arn, 'AmazonEKSAdminViewPolicy');

  const kubeconfig = pulumi.secret(
    pulumi
      .all([cluster.endpoint, cluster.certificateAuthority.data, region, pulumi.output(e.kubeconfigRoleArn)])
      .apply(([endpoint, ca, r, roleArn]) => eksKubeconfig({ clusterName: e.clusterName, endpoint, certificateAuthority: ca!, region: r, roleArn, profile: e.kubeconfigProfile })),
  );
  // Usable once the nodes (and the load balancer controller) exist: workloads applied through it would otherwise wait on an empty cluster.
  const ready: pulumi.Resource[] = [...nodeGroups, ...adminAccess];
  if (e.loadBalancerController) {
    const bootstrap = new k8s.Provider(`${name}-bootstrap`, { kubeconfig }, { parent, dependsOn: [...ready] });
    ready.push(...loadBalancerController(parent, name, plan, { cluster, vpc, region, partition, tags, bootstrap }));
  }
  const provider = new k8s.Provider(`${name}-k8s`, { kubeconfig }, { parent, dependsOn: ready });

  return {
    provider,
    clusterName: cluster.name,
    kubeconfig,
    vpcId: vpc.id,
    publicSubnetIds: pulumi.all(publicSubnets.map((s) => s.id)),
    privateSubnetIds: pulumi.all(privateSubnets.map((s) => s.id)),
  };
}

/**
 * Why the Kubernetes side of this program could not reach a cluster created with `adminRoleArns`
 * (no creator bootstrap), or undefined: the identity the kubeconfig uses (`kubeconfigRoleArn`, else
 * the caller, `arn:…:sts::<account>:assumed-role/<name>/<session>`) must be a listed role. A preview
 * role passes too: it only previews, and whoever runs `pulumi up` is checked then.
 */
export function adminAccessProblem(adminRoleArns: readonly string[], callerArn: string, kubeconfigRoleArn?: string, previewRoleArns: readonly string[] = []): string | undefined {
  if (adminRoleArns.length === 0) return undefined;
  const used = kubeconfigRoleArn ?? callerArn;
  const role = roleOf(used);
  const isOneOf = (arns: readonly string[]) =>
    role !== undefined &&
    arns.some((arn) => {
      const listed = roleOf(arn);
      return listed?.account === role.account && listed.name === role.name;
    });
  if (isOneOf(adminRoleArns) || isOneOf(previewRoleArns)) return undefined;
  const who = kubeconfigRoleArn ? `\`eks.kubeconfigRoleArn\` (${kubeconfigRoleArn})` : `the identity Pulumi runs as (${callerArn})`;
  return (
    `does not include ${who}. The cluster is created without EKS's access for its creator (a listed creator would get a duplicate access entry), ` +
    `so nothing here could reach it: add ${kubeconfigRoleArn ?? (role ? `arn:${role.partition}:iam::${role.account}:role/${role.name} (with its path, if it has one)` : 'the role you run as')}, or leave \`adminRoleArns\` empty to let EKS give the creator access.`
  );
}

/** The partition, account and role name of a role ARN (`arn:<partition>:iam::<account>:role/<path/><name>`) or an assumed-role ARN; undefined for anything else (a user). */
function roleOf(arn: string): { partition: string; account: string; name: string } | undefined {
  const m = /^arn:([^:]+):(?:sts|iam)::(\d{12}):(assumed-role|role)\/(.+)$/.exec(arn);
  if (!m) return undefined;
  const parts = m[4].split('/');
  return { partition: m[1], account: m[2], name: m[3] === 'assumed-role' ? parts[0] : parts[parts.length - 1] };
}

/** The kubeconfig of an EKS cluster, authenticating through `aws eks get-token` (the AWS CLI on the machine that runs it). */
export function eksKubeconfig(c: { clusterName: string; endpoint: string; certificateAuthority: string; region: string; roleArn?: string; profile?: string }): string {
  const args = ['--region', c.region, 'eks', 'get-token', '--cluster-name', c.clusterName, '--output', 'json', ...(c.roleArn ? ['--role-arn', c.roleArn] : [])];
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: c.clusterName, cluster: { server: c.endpoint, 'certificate-authority-data': c.certificateAuthority } }],
    contexts: [{ name: c.clusterName, context: { cluster: c.clusterName, user: c.clusterName } }],
    'current-context': c.clusterName,
    users: [
      {
        name: c.clusterName,
        user: {
          exec: {
            apiVersion: 'client.authentication.k8s.io/v1beta1',
            command: 'aws',
            args,
            env: [{ name: 'KUBERNETES_EXEC_INFO', value: '{"apiVersion": "client.authentication.k8s.io/v1beta1"}' }, ...(c.profile ? [{ name: 'AWS_PROFILE', value: c.profile }] : [])],
            interactiveMode: 'Never',
          },
        },
      },
    ],
  });
}

function loadBalancerController(
  parent: Cluster,
  name: string,
  plan: ClusterPlan,
  c: { cluster: aws.eks.Cluster; vpc: aws.ec2.Vpc; region: pulumi.Output<string>; partition: pulumi.Output<string>; tags: Record<string, string>; bootstrap: k8s.Provider },
): pulumi.Resource[] {
  const e = plan.eks!;
  // EKS Pod Identity: no OIDC provider or service account annotation, just the agent and an association.
  const agent = new aws.eks.Addon(`${name}-pod-identity-agent`, { clusterName: c.cluster.name, addonName: 'eks-pod-identity-agent', resolveConflictsOnCreate: 'OVERWRITE', tags: c.tags }, { parent: c.cluster });
  const role = new aws.iam.Role(`${name}-lbc`, { assumeRolePolicy: assumeRolePolicy('pods.eks.amazonaws.com'), tags: c.tags }, { parent });
  new aws.iam.RolePolicy(`${name}-lbc`, { role: role.name, policy: c.partition.apply(loadBalancerControllerPolicy) }, { parent: role });
  const association = new aws.eks.PodIdentityAssociation(
    `${name}-lbc`,
    { clusterName: c.cluster.name, namespace: 'kube-system', serviceAccount: CLUSTER_DEFAULTS.lbcServiceAccount, roleArn: role.arn, tags: c.tags },
    { parent: role },
  );
  if (!plan.kubernetesObjects) return [agent, association];
  // A Release, not a v4 Chart: the chart generates its webhook certificate at render time, which a v4 Chart would redo on every preview.
  const release = new k8s.helm.v3.Release(
    `${name}-lbc`,
    {
      ...e.loadBalancerController!.chart,
      namespace: 'kube-system',
      name: 'aws-load-balancer-controller',
      values: {
        clusterName: e.clusterName,
        region: c.region,
        vpcId: c.vpc.id,
        serviceAccount: { create: true, name: CLUSTER_DEFAULTS.lbcServiceAccount },
      },
    },
    { parent, provider: c.bootstrap, dependsOn: [agent, association] },
  );
  return [agent, association, release];
}
