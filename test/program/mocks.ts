/**
 * Runs the program (or the AWS-backed components) under Pulumi mocks with a
 * stack's configuration. The mocks answer the AWS invokes the Cluster and
 * ControllerImage make and fill in the outputs AWS would compute, so nothing
 * the program waits on stays unknown.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import YAML from 'yaml';
import { packageRoot } from '../../controller/package-root';
import { PROJECT, recorded, Registered } from '../components/harness';
import { tlsProviderOutputs } from '../support/tls-mocks';

export const REGION = 'eu-west-1';
export const ZONES = ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'];
const ACCOUNT = '123456789012';

export interface Recorded extends Registered {
  /** The provider reference (`urn::id`) the resource was registered with. */
  provider?: string;
}

export interface MockRun<T> {
  registered: Recorded[];
  result: T;
}

export interface MockOptions {
  stack: string;
  /** Run as `pulumi preview`: outputs the mocks leave out are unknown. */
  preview?: boolean;
  /** Configuration, keys `<namespace>:<key>`, values as the CLI passes them (strings; JSON for the rest). */
  config?: Record<string, string>;
  /** Who runs Pulumi (`aws.getCallerIdentity`); default: the stack's first `eks.adminRoleArns` role (its deploy role), assumed. */
  callerArn?: string;
  /** The EKS clusters that exist already (`aws.eks.getClusters`). */
  existingEksClusters?: string[];
}

/** What AWS would add to a resource's inputs. */
function computed(type: string, name: string, inputs: Record<string, any>): Record<string, any> {
  switch (type) {
    case 'aws:eks/cluster:Cluster':
      return { endpoint: `https://${inputs.name}.gr7.${REGION}.eks.amazonaws.com`, certificateAuthority: { data: 'Q0EtREFUQQ==' }, arn: `arn:aws:eks:${REGION}:${ACCOUNT}:cluster/${inputs.name}` };
    case 'aws:iam/role:Role':
      return { name, arn: `arn:aws:iam::${ACCOUNT}:role/${name}` };
    case 'aws:ecr/repository:Repository':
      return { registryId: ACCOUNT, repositoryUrl: `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/${inputs.name}` };
    case 'docker-build:index:Image':
      return { ref: `${inputs.tags[0]}@sha256:${'ab'.repeat(32)}`, digest: `sha256:${'ab'.repeat(32)}` };
    default:
      return tlsProviderOutputs(type, name);
  }
}

/** The stack's deploy role as sts:GetCallerIdentity shows it when assumed; a role of ours when the stack lists none. */
function callerOf(config: Record<string, string> | undefined): string {
  const eks = config?.['wasm-control:eks'];
  const role = eks ? (JSON.parse(eks) as { adminRoleArns?: string[] }).adminRoleArns?.[0] : undefined;
  const [, account, name] = /^arn:aws:iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(role ?? '') ?? [undefined, ACCOUNT, 'deployer'];
  return `arn:aws:sts::${account}:assumed-role/${name}/ci`;
}

export async function underMocks<T>(options: MockOptions, construct: () => T | Promise<T>): Promise<MockRun<T>> {
  const registered: Recorded[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        registered.push(recorded(args));
        return { id: args.id || `${args.name}-id`, state: { ...args.inputs, ...computed(args.type, args.name, args.inputs) } };
      },
      call: (args) => {
        switch (args.token) {
          case 'aws:index/getPartition:getPartition':
            return { partition: 'aws', dnsSuffix: 'amazonaws.com' };
          case 'aws:index/getRegion:getRegion':
            return { region: REGION, name: REGION };
          case 'aws:index/getAvailabilityZones:getAvailabilityZones':
            return { names: ZONES, zoneIds: ZONES.map((_, i) => `euw1-az${i + 1}`) };
          case 'aws:eks/getClusters:getClusters':
            return { names: options.existingEksClusters ?? [], id: REGION };
          case 'aws:index/getCallerIdentity:getCallerIdentity':
            return { accountId: ACCOUNT, arn: options.callerArn ?? callerOf(options.config), userId: 'AROAEXAMPLE:ci' };
          case 'aws:ecr/getAuthorizationToken:getAuthorizationToken':
            return { userName: 'AWS', password: 'ecr-token', proxyEndpoint: `https://${args.inputs.registryId}.dkr.ecr.${REGION}.amazonaws.com` };
          default:
            return args.inputs;
        }
      },
    },
    PROJECT,
    options.stack,
    options.preview ?? false,
  );
  pulumi.runtime.setAllConfig(options.config ?? {});
  try {
    const result = await construct();
    await pulumi.runtime.disconnect();
    return { registered, result };
  } finally {
    // Later tests in this process start from no configuration.
    pulumi.runtime.setAllConfig({});
  }
}

/** Runs `construct` under mocks and returns what it threw and what it registered (expected: nothing). */
export async function refusal(construct: () => void): Promise<{ error: unknown; registered: Recorded[] }> {
  let error: unknown;
  const { registered } = await underMocks({ stack: 'test' }, () => {
    try {
      construct();
    } catch (e) {
      error = e;
    }
  });
  return { error, registered };
}

/**
 * A stack's configuration the way the CLI hands it to the program: the
 * stack file's values over the defaults Pulumi.yaml declares, strings as they
 * are and everything else as JSON.
 */
export function stackConfig(stack: string): Record<string, string> {
  const root = packageRoot();
  const project = YAML.parse(fs.readFileSync(path.join(root, 'Pulumi.yaml'), 'utf8'));
  const stackFile = YAML.parse(fs.readFileSync(path.join(root, project.stackConfigDir, `Pulumi.${stack}.yaml`), 'utf8'));
  const values: Record<string, unknown> = {};
  for (const [key, declaration] of Object.entries<any>(project.config ?? {})) {
    if (declaration?.default !== undefined) values[`${project.name}:${key}`] = declaration.default;
  }
  Object.assign(values, stackFile.config);
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
}

/** The registered resources of one type. */
export function ofType(r: Recorded[], type: string): Recorded[] {
  return r.filter((x) => x.type === type);
}

/** The one resource of `type` named `name`. */
export function one(r: Recorded[], type: string, name: string): Recorded {
  const found = r.filter((x) => x.type === type && x.name === name);
  if (found.length !== 1) throw new Error(`expected one ${type} named ${name}, found ${found.length} (${ofType(r, type).map((x) => x.name).join(', ') || 'none of that type'})`);
  return found[0];
}
