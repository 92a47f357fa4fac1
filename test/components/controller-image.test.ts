/** The ControllerImage component under mocks: prebuilt, built into a new ECR repository, built into a given registry. */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { ControllerImage, ControllerImageArgs } from '../../components';
import { registryAddress } from '../../components/controller-image';
import { packageRoot } from '../../controller/package-root';
import { one, ofType, refusal, underMocks } from '../program/mocks';
import { valueOf } from './harness';

function image(args: ControllerImageArgs) {
  return underMocks({ stack: 'test' }, () => new ControllerImage('img', args));
}

describe('ControllerImage (Pulumi mocks)', function () {
  this.timeout(30000);

  it('passes a prebuilt reference through and builds nothing', async () => {
    const { registered: r, result } = await image({ image: 'ghcr.io/acme/wasm-control:0.1.0' });
    assert.deepEqual(r.map((x) => x.type), ['wasm-control:index:ControllerImage']);
    assert.equal(await valueOf(result.imageRef), 'ghcr.io/acme/wasm-control:0.1.0');
  });

  it('creates an ECR repository that scans on push and expires old images, and pushes the Dockerfile build to it', async () => {
    const { registered: r, result } = await image({ ecr: { name: 'wc', keepImages: 5 } });
    assert.equal(one(r, 'aws:ecr/repository:Repository', 'img-repository').inputs.imageScanningConfiguration.scanOnPush, true);
    const rule = JSON.parse(one(r, 'aws:ecr/lifecyclePolicy:LifecyclePolicy', 'img-lifecycle').inputs.policy).rules[0];
    assert.deepEqual([rule.selection.countType, rule.selection.countNumber, rule.action.type], ['imageCountMoreThan', 5, 'expire']);
    const built = one(r, 'docker-build:index:Image', 'img-image');
    const build = built.inputs;
    assert.equal(build.push, true);
    assert.deepEqual(build.tags, ['123456789012.dkr.ecr.eu-west-1.amazonaws.com/wc:latest']);
    assert.deepEqual(build.platforms, ['linux/amd64']);
    assert.ok(built.secretInputs?.includes('registries'), 'the registry token stays secret');
    assert.deepEqual(build.registries, [{ address: '123456789012.dkr.ecr.eu-west-1.amazonaws.com', username: 'AWS', password: 'ecr-token' }]);
    // The Dockerfile the build names is the one test/image.test.ts checks, reached from the program's folder.
    assert.ok(!path.isAbsolute(build.context.location), 'a relative context keeps state equal across machines');
    assert.equal(fs.realpathSync(path.resolve(build.dockerfile.location)), path.join(packageRoot(), 'controller', 'Dockerfile'));
    assert.match(await valueOf(result.imageRef), /^123456789012\.dkr\.ecr\.eu-west-1\.amazonaws\.com\/wc:latest@sha256:[0-9a-f]{64}$/);
  });

  it('pushes to a given registry with secret credentials, and creates no ECR repository', async () => {
    const { registered: r, result } = await image({ registry: { repository: 'ghcr.io/acme/wasm-control', username: 'bot', password: 'token' }, tag: 'pr-7' });
    assert.equal(ofType(r, 'aws:ecr/repository:Repository').length, 0);
    const built = one(r, 'docker-build:index:Image', 'img-image');
    assert.deepEqual(built.inputs.tags, ['ghcr.io/acme/wasm-control:pr-7']);
    assert.ok(built.secretInputs?.includes('registries'), 'the password stays secret');
    assert.deepEqual(built.inputs.registries, [{ address: 'ghcr.io', username: 'bot', password: 'token' }]);
    const component = one(r, 'wasm-control:index:ControllerImage', 'img');
    assert.ok(component.secretInputs?.some((p) => 'registry.password'.startsWith(p)), `the password is a secret in the component's recorded arguments too: ${component.secretInputs}`);
    assert.equal(await valueOf(result.repositoryUrl), 'ghcr.io/acme/wasm-control');
    assert.equal(await pulumi.isSecret(result.imageRef), false, 'the image reference stays readable in the stack outputs');
  });

  it('reads the registry host from a repository reference', () => {
    assert.equal(registryAddress('ghcr.io/acme/x'), 'ghcr.io');
    assert.equal(registryAddress('localhost:5001/x'), 'localhost:5001');
    assert.equal(registryAddress('acme/x'), 'docker.io');
  });

  for (const [what, args, message] of [
    ['a prebuilt image and a registry', { image: 'x', registry: { repository: 'y' } }, /`image` .*`registry` are both set/],
    ['a build setting with a prebuilt image', { image: 'x', platforms: ['linux/amd64'] }, /`platforms` is a build setting/],
    ['an unknown platform', { platforms: ['linux/sparc'] }, /"linux\/sparc" is not a platform/],
    ['a bad ECR name', { ecr: { name: 'Upper' } }, /ecr\.name/],
  ] as [string, ControllerImageArgs, RegExp][]) {
    it(`refuses ${what} before creating anything`, async () => {
      const { error, registered } = await refusal(() => new ControllerImage('bad', args));
      assert.match(String(error), message);
      assert.deepEqual(registered, []);
    });
  }
});
