/**
 * The controller's container image: built from `controller/Dockerfile` with
 * @pulumi/docker-build and pushed to an ECR repository created here or to a
 * given registry, or a prebuilt reference that builds nothing.
 */
import * as path from 'node:path';
import * as aws from '@pulumi/aws';
import * as dockerBuild from '@pulumi/docker-build';
import * as pulumi from '@pulumi/pulumi';
import { packageRoot } from '../controller/package-root';
import { withSecrets } from './recorded-args';

/** The arguments of a {@link ControllerImage}. Without `image` or `registry`, an ECR repository is created. */
export interface ControllerImageArgs {
  /** A prebuilt image reference, e.g. `ghcr.io/acme/wasm-control:0.1.0`: nothing is built or pushed. */
  image?: pulumi.Input<string>;
  /** Push to this registry instead of a new ECR repository. Mutually exclusive with `image` and `ecr`. */
  registry?: ImageRegistryArgs;
  /** The ECR repository created when neither `image` nor `registry` is given. */
  ecr?: EcrRepositoryArgs;
  /** The tag pushed (the output reference also pins the digest). Default `latest`. */
  tag?: pulumi.Input<string>;
  /** Target platforms, e.g. `["linux/amd64", "linux/arm64"]`. Default `["linux/amd64"]`. */
  platforms?: string[];
  /**
   * The build context. Default: the wasm-control package, relative to the program's folder
   * (relative, so state does not change between machines).
   */
  context?: string;
  /** The Dockerfile. Default `controller/Dockerfile` in the context. */
  dockerfile?: string;
  /** Build during `pulumi preview` too, so a pull request that breaks the image fails its preview. Default `true`. */
  buildOnPreview?: boolean;
}

/** A registry the image is pushed to. */
export interface ImageRegistryArgs {
  /** The repository, e.g. `ghcr.io/acme/wasm-control` or `localhost:5001/wasm-control`. */
  repository: pulumi.Input<string>;
  /** Registry user name; unset uses the machine's Docker credentials. */
  username?: pulumi.Input<string>;
  /** Registry password or token (kept secret). */
  password?: pulumi.Input<string>;
}

/** The ECR repository for the image. */
export interface EcrRepositoryArgs {
  /** Repository name. Default: the component's name. */
  name?: string;
  /** Images kept; older ones expire (lifecycle policy). Default 20. */
  keepImages?: number;
  /** Delete the repository even when it holds images (for short-lived stacks). Default `false`. */
  forceDelete?: boolean;
}

export const CONTROLLER_IMAGE_DEFAULTS = {
  tag: 'latest',
  platforms: ['linux/amd64'],
  dockerfile: 'controller/Dockerfile',
  keepImages: 20,
} as const;

const PLATFORMS = Object.values(dockerBuild.Platform) as string[];

/**
 * The controller image. `imageRef` is what `ControlPlane.controller.image`
 * takes: for a build it is `repository:tag@sha256:…`, so every new build rolls
 * the controller Deployment and an unchanged one does not.
 *
 * The ECR repository scans images on push and keeps the newest `keepImages`.
 * The build runs on `pulumi preview` as well (unless `buildOnPreview: false`),
 * without pushing. Building needs a Docker engine with buildx where Pulumi runs.
 */
export class ControllerImage extends pulumi.ComponentResource {
  /** The image reference for `ControlPlane.controller.image`. */
  public readonly imageRef!: pulumi.Output<string>;
  /** The repository pushed to; unset for a prebuilt image. */
  public readonly repositoryUrl!: pulumi.Output<string | undefined>;

  constructor(name: string, args: ControllerImageArgs, opts?: pulumi.ComponentResourceOptions) {
    const plan = opts?.urn ? undefined : planControllerImage(args ?? {});
    super('wasm-control:index:ControllerImage', name, opts?.urn ? {} : withSecrets(args, ['registry', 'password']), opts);
    if (!plan) return; // rehydrated from a URN: the outputs come from state

    if (plan.image !== undefined) {
      this.imageRef = pulumi.output(plan.image);
      this.repositoryUrl = pulumi.output(undefined);
    } else {
      const { repository, credentials } = plan.registry ? externalRegistry(plan.registry) : ecrRepository(this, name, plan.ecr);
      const tag = pulumi.interpolate`${repository}:${plan.tag}`;
      const image = new dockerBuild.Image(
        `${name}-image`,
        {
          context: { location: plan.context },
          dockerfile: { location: plan.dockerfile },
          platforms: plan.platforms as dockerBuild.Platform[],
          tags: [tag],
          push: true,
          buildOnPreview: plan.buildOnPreview,
          registries: credentials ? [credentials] : undefined,
        },
        { parent: this },
      );
      this.imageRef = image.ref;
      this.repositoryUrl = pulumi.output(repository);
    }
    this.registerOutputs({ imageRef: this.imageRef, repositoryUrl: this.repositoryUrl });
  }
}

export interface ControllerImagePlan {
  image?: pulumi.Input<string>;
  registry?: ImageRegistryArgs;
  ecr: { name?: string; keepImages: number; forceDelete: boolean };
  tag: pulumi.Input<string>;
  platforms: string[];
  context: string;
  dockerfile: string;
  buildOnPreview: boolean;
}

/** Validates the arguments and applies the defaults; throws before anything is registered. */
export function planControllerImage(args: ControllerImageArgs): ControllerImagePlan {
  const fail = (argument: string, problem: string): never => {
    throw new Error(`ControllerImage argument \`${argument}\` ${problem}`);
  };
  const given = (['image', 'registry', 'ecr'] as const).filter((k) => args[k] !== undefined);
  if (given.length > 1) fail(given[0], `and \`${given[1]}\` are both set: give a prebuilt \`image\`, a \`registry\` to push to, or neither (a new ECR repository, settable through \`ecr\`).`);
  if (args.image !== undefined) {
    for (const k of ['tag', 'platforms', 'context', 'dockerfile', 'buildOnPreview'] as const) {
      if (args[k] !== undefined) fail(k, 'is a build setting, but `image` is prebuilt and nothing is built: remove one of them.');
    }
  }
  if (args.registry !== undefined && (typeof args.registry !== 'object' || args.registry.repository === undefined)) fail('registry.repository', 'is required: the repository to push to, e.g. ghcr.io/acme/wasm-control.');
  const platforms = args.platforms ?? [...CONTROLLER_IMAGE_DEFAULTS.platforms];
  for (const p of platforms) if (!PLATFORMS.includes(p)) fail('platforms', `${JSON.stringify(p)} is not a platform Docker builds for, e.g. "linux/amd64" or "linux/arm64".`);
  const keepImages = args.ecr?.keepImages ?? CONTROLLER_IMAGE_DEFAULTS.keepImages;
  if (!Number.isInteger(keepImages) || keepImages < 1) fail('ecr.keepImages', `${JSON.stringify(keepImages)} must be a whole number, 1 or more.`);
  if (args.ecr?.name !== undefined && !/^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/.test(args.ecr.name)) {
    fail('ecr.name', `${JSON.stringify(args.ecr.name)} is not an ECR repository name: lower-case letters, digits, ".", "_", "-" and "/".`);
  }
  // Relative to the program's folder (where Pulumi runs it): absolute paths would differ between a laptop and CI.
  const context = args.context ?? (path.relative(process.cwd(), packageRoot()) || '.');
  return {
    image: args.image,
    registry: args.registry,
    ecr: { name: args.ecr?.name, keepImages, forceDelete: args.ecr?.forceDelete ?? false },
    tag: args.tag ?? CONTROLLER_IMAGE_DEFAULTS.tag,
    platforms,
    context,
    dockerfile: args.dockerfile ?? path.join(context, CONTROLLER_IMAGE_DEFAULTS.dockerfile),
    buildOnPreview: args.buildOnPreview ?? true,
  };
}

/** The registry host of a repository reference: `ghcr.io/acme/x` → `ghcr.io`; Docker Hub for a bare name. */
export function registryAddress(repository: string): string {
  const first = repository.split('/')[0];
  return repository.includes('/') && /[.:]|^localhost$/.test(first) ? first : 'docker.io';
}

function externalRegistry(r: ImageRegistryArgs): { repository: pulumi.Output<string>; credentials?: dockerBuild.types.input.RegistryArgs } {
  const repository = pulumi.output(r.repository);
  if (r.username === undefined && r.password === undefined) return { repository };
  return { repository, credentials: { address: repository.apply(registryAddress), username: r.username, password: r.password === undefined ? undefined : pulumi.secret(r.password) } };
}

function ecrRepository(parent: ControllerImage, name: string, ecr: ControllerImagePlan['ecr']): { repository: pulumi.Output<string>; credentials: dockerBuild.types.input.RegistryArgs } {
  const repo = new aws.ecr.Repository(
    `${name}-repository`,
    {
      name: ecr.name ?? name,
      imageScanningConfiguration: { scanOnPush: true },
      imageTagMutability: 'MUTABLE',
      forceDelete: ecr.forceDelete,
    },
    { parent },
  );
  new aws.ecr.LifecyclePolicy(
    `${name}-lifecycle`,
    {
      repository: repo.name,
      policy: JSON.stringify({
        rules: [{ rulePriority: 1, description: `keep the newest ${ecr.keepImages} images`, selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: ecr.keepImages }, action: { type: 'expire' } }],
      }),
    },
    { parent: repo },
  );
  const token = aws.ecr.getAuthorizationTokenOutput({ registryId: repo.registryId }, { parent });
  return {
    repository: repo.repositoryUrl,
    credentials: { address: repo.repositoryUrl.apply(registryAddress), username: token.userName, password: pulumi.secret(token.password) },
  };
}
