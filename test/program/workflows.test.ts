/** The GitHub workflows against the stacks they preview and deploy, so a new or renamed stack cannot fall out of CI. */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import YAML from 'yaml';
import { packageRoot } from '../../controller/package-root';
import { stackConfig } from './mocks';

const WORKFLOWS = path.join(packageRoot(), '.github', 'workflows');
const workflow = (name: string) => YAML.parse(fs.readFileSync(path.join(WORKFLOWS, name), 'utf8'));
const pulumiSteps = (job: any) => job.steps.filter((s: any) => String(s.uses).startsWith('pulumi/actions@'));

/** The stacks whose cluster CI can reach: every stack file except those on an existing (local) cluster. */
const cloudStacks = fs
  .readdirSync(path.join(packageRoot(), 'stacks'))
  .map((f) => /^Pulumi\.([\w-]+)\.yaml$/.exec(f)?.[1])
  .filter((s): s is string => s !== undefined && stackConfig(s)['wasm-control:clusterKind'] === 'eks')
  .sort();

describe('.github/workflows', () => {
  it('previews every cloud stack on pull requests and comments the diff', () => {
    const preview = workflow('preview.yml');
    assert.ok('pull_request' in preview.on);
    assert.deepEqual([...preview.jobs.preview.strategy.matrix.stack].sort(), cloudStacks);
    const [step] = pulumiSteps(preview.jobs.preview);
    assert.deepEqual([step.with.command, step.with['comment-on-pr'], step.with['stack-name'].endsWith('/${{ matrix.stack }}')], ['preview', true, true]);
    assert.equal(preview.permissions['pull-requests'], 'write');
    assert.equal(preview.jobs.preview.if, 'github.event.pull_request.head.repo.full_name == github.repository', 'forks, which get no OIDC token, are not previewed');
  });

  it('previews each stack as its own preview role, which that stack gives a read-only access entry', () => {
    const job = workflow('preview.yml').jobs.preview;
    const credentials = job.steps.find((s: any) => String(s.uses).startsWith('aws-actions/configure-aws-credentials@'));
    assert.equal(credentials.with['role-to-assume'], '${{ vars[matrix.previewRole] }}');
    const variables = cloudStacks.map((stack) => job.strategy.matrix.include.find((i: any) => i.stack === stack)?.previewRole);
    assert.ok(variables.every((v) => /^AWS_PREVIEW_ROLE_ARN_[A-Z]+$/.test(v)), variables.join(', '));
    assert.equal(new Set(variables).size, cloudStacks.length, 'one variable per stack: stacks may be in different accounts');
    for (const stack of cloudStacks) {
      const eks = JSON.parse(stackConfig(stack)['wasm-control:eks']) as { previewRoleArns?: string[] };
      assert.equal(eks.previewRoleArns?.length, 1, `${stack} lists its preview role in eks.previewRoleArns`);
    }
  });

  it('uses the current major of pulumi/actions everywhere (v6 runs on a Node GitHub retires)', () => {
    const uses = ['preview.yml', 'deploy.yml'].flatMap((name) => Object.values<any>(workflow(name).jobs).flatMap((job) => (job.steps ? pulumiSteps(job) : [])).map((s: any) => s.uses));
    assert.ok(uses.length >= 3);
    assert.deepEqual([...new Set(uses)], ['pulumi/actions@v7']);
  });

  it('deploys every cloud stack on main, after the tests, prod after staging', () => {
    const deploy = workflow('deploy.yml');
    assert.deepEqual(deploy.on.push.branches, ['main']);
    const stacks = Object.values<any>(deploy.jobs)
      .flatMap((job) => (job.steps ? pulumiSteps(job) : []))
      .map((s: any) => {
        assert.equal(s.with.command, 'up');
        return s.with['stack-name'].split('/').pop();
      });
    assert.deepEqual(stacks.sort(), cloudStacks);
    assert.equal(deploy.jobs.staging.needs, 'test');
    assert.equal(deploy.jobs.prod.needs, 'staging');
    assert.equal(deploy.jobs.test.uses, './.github/workflows/test.yml');
  });

  it('runs the tests on Node 22 through .ci/run, with the Go the test control plane is built with, also when called from deploy', () => {
    const test = workflow('test.yml');
    assert.ok('workflow_call' in test.on && 'pull_request' in test.on);
    const steps = test.jobs.test.steps;
    assert.equal(steps.find((s: any) => String(s.uses).startsWith('actions/setup-node@')).with['node-version'], 22);
    const goMod = steps.find((s: any) => String(s.uses).startsWith('actions/setup-go@')).with['go-version-file'];
    assert.ok(fs.existsSync(path.join(packageRoot(), goMod)), goMod);
    assert.ok(steps.some((s: any) => s.run === './.ci/run'));
  });
});
