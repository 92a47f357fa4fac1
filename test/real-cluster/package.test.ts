/**
 * The package as another program gets it: `npm pack`, then the tarball installed (with its
 * dependencies, from the npm registry or its cache) into a new TypeScript Pulumi project that
 * builds ControlPlane, HostGroup and HttpTrigger under Pulumi's mocks, compiled with strict
 * TypeScript against the package's declarations; a CommonJS consumer requires it too, and the
 * `wasm-control` command runs from node_modules/.bin. Then a JavaScript program built from the
 * installed package is previewed by the real Pulumi CLI and Kubernetes provider against the test
 * cluster.
 */
import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from '../../controller/package-root';
import { e2eXdsCertificates, standInChart } from '../support/e2e-stack';
import { builtBinaries, RealCluster } from '../support/real-cluster';

const run = promisify(execFile);

function installedVersion(name: string): string {
  return (JSON.parse(fs.readFileSync(require.resolve(`${name}/package.json`), 'utf8')) as { version: string }).version;
}
const ROOT = packageRoot();
const TSC = path.join(ROOT, 'node_modules/typescript/bin/tsc');

const PROGRAM = `import * as pulumi from '@pulumi/pulumi';

const registered: string[] = [];
pulumi.runtime.setMocks(
  {
    newResource: (args) => {
      registered.push(args.type);
      return { id: \`\${args.name}-id\`, state: args.inputs };
    },
    call: (args) => args.inputs,
  },
  'consumer',
  'dev',
  false,
);

async function main(): Promise<void> {
  const { ControlPlane, HostGroup, HttpTrigger } = await import('wasm-control');
  const controlPlane = new ControlPlane('cp', { controller: { image: 'ghcr.io/example/wasm-control:0.1.0' } });
  new HostGroup('blobs', { controlPlane });
  new HttpTrigger('hello', { components: [{ name: 'http', image: 'ghcr.io/example/hello:0.1.0' }], ingress: { host: 'hello.example.com' } });
  let refused = '';
  try {
    new HttpTrigger('bad', { components: [{ name: 'http', image: 'ghcr.io/example/hello:0.1.0' }], ingress: { host: 'Bad_Host' } });
  } catch (err) {
    refused = (err as Error).message;
  }
  await pulumi.runtime.disconnect();
  process.stdout.write(JSON.stringify({ registered, refused }));
}

main().catch((err) => {
  process.stderr.write(String(err?.stack ?? err));
  process.exit(1);
});
`;

/**
 * A program of the installed package, previewed through the consumer's own Automation API (argv:
 * Pulumi root, kubeconfig, runtime chart, work dir, a JSON file of xDS certificates: the Pulumi TLS
 * provider that would issue them cannot be built here).
 */
const PREVIEW = `const fs = require('node:fs');
const path = require('node:path');
const k8s = require('@pulumi/kubernetes');
const { LocalWorkspace, PulumiCommand } = require('@pulumi/pulumi/automation');
const { ControlPlane, HostGroup, HttpTrigger } = require('wasm-control');

async function main() {
  const [pulumiRoot, kubeconfig, runtimeChart, workDir, certificatesFile] = process.argv.slice(2);
  const certificates = JSON.parse(fs.readFileSync(certificatesFile, 'utf8'));
  const program = async () => {
    const provider = new k8s.Provider('cluster', { kubeconfig: fs.readFileSync(kubeconfig, 'utf8') });
    const controlPlane = new ControlPlane(
      'cp',
      {
        controller: { image: 'wasm-control:consumer', replicas: 1 },
        envoy: { replicas: 1 },
        ingress: { enabled: false },
        runtime: { chart: { path: runtimeChart } },
        perses: { enabled: false },
        xdsTls: { certificates },
      },
      { provider },
    );
    new HostGroup('blobs', { controlPlane }, { provider });
    new HttpTrigger('hello', { controlPlane, components: [{ name: 'http', image: 'ghcr.io/example/hello:0.1.0' }], ingress: { host: 'hello.example.com' } }, { provider });
  };
  fs.mkdirSync(path.join(workDir, 'state'), { recursive: true });
  const stack = await LocalWorkspace.createStack(
    { stackName: 'dev', projectName: 'consumer', program },
    {
      workDir,
      pulumiHome: path.join(workDir, 'home'),
      pulumiCommand: await PulumiCommand.get({ root: pulumiRoot }),
      projectSettings: { name: 'consumer', runtime: 'nodejs', backend: { url: 'file://' + path.join(workDir, 'state') } },
      envVars: {
        PATH: path.join(pulumiRoot, 'bin') + path.delimiter + process.env.PATH,
        PULUMI_CONFIG_PASSPHRASE: 'consumer',
        PULUMI_SKIP_UPDATE_CHECK: 'true',
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: 'true',
      },
    },
  );
  const types = new Set();
  const result = await stack.preview({ onEvent: (e) => e.resourcePreEvent && types.add(e.resourcePreEvent.metadata.type) });
  process.stdout.write(JSON.stringify({ changes: result.changeSummary, types: [...types] }));
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err));
  process.exit(1);
});
`;

describe('the npm package, installed into another program', function () {
  // Installing the dependencies takes ~15 s from a warm npm cache, longer from the registry.
  this.timeout(300_000);
  let dir: string;
  let project: string;
  const node = (args: string[], cwd = project) => run(process.execPath, args, { cwd, maxBuffer: 64 * 1024 * 1024 });
  // The npm running `npm test`, else the one on PATH.
  const npm = (args: string[], cwd = project) =>
    process.env.npm_execpath ? node([process.env.npm_execpath, ...args], cwd) : run('npm', args, { cwd, maxBuffer: 64 * 1024 * 1024 });

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasm-control-package-'));
    // `npm test` has built dist/ (what `prepare` builds on `npm pack` and on a git install).
    await npm(['pack', '--ignore-scripts', '--pack-destination', dir], ROOT);
    const [tarball] = fs.readdirSync(dir).filter((f) => f.endsWith('.tgz'));
    project = path.join(dir, 'consumer');
    fs.mkdirSync(project);
    const own = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    fs.writeFileSync(
      path.join(project, 'package.json'),
      JSON.stringify({
        name: 'consumer',
        private: true,
        // The SDK release the test's Pulumi CLI is built for (test/cluster/build.sh pulumi).
        dependencies: { 'wasm-control': `file:../${tarball}`, '@pulumi/pulumi': installedVersion('@pulumi/pulumi') },
        devDependencies: { '@types/node': own.devDependencies['@types/node'] },
      }),
    );
    await npm(['install', '--prefer-offline', '--no-audit', '--no-fund', '--omit=optional']);
  });

  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('holds the compiled package and its declarations, the sources Pulumi\'s schema analyzer reads, the data files, and nothing of the tests', () => {
    const installed = path.join(project, 'node_modules/wasm-control');
    const files = ['dist/components/index.js', 'dist/components/index.d.ts', 'dist/controller/main.js', 'components/index.ts', 'tsconfig.json', 'controller/crd/httptriggers.control.cosmonic.io.yaml', 'controller/rbac.yaml', 'PulumiPlugin.yaml'];
    for (const file of files) assert.ok(fs.existsSync(path.join(installed, file)), file);
    for (const absent of ['dist/test', 'dist/bench', 'test', 'bench', 'index.ts', 'stacks']) assert.ok(!fs.existsSync(path.join(installed, absent)), absent);
  });

  it('builds ControlPlane, HostGroup and HttpTrigger in a strict TypeScript Pulumi program, refusing a bad trigger with the controller\'s words', async () => {
    fs.writeFileSync(path.join(project, 'index.ts'), PROGRAM);
    fs.writeFileSync(
      path.join(project, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { strict: true, target: 'ES2022', module: 'commonjs', moduleResolution: 'node', esModuleInterop: true, outDir: 'bin' }, files: ['index.ts'] }),
    );
    await node([TSC, '-p', 'tsconfig.json']).catch((err: Error & { stdout?: string }) => {
      throw new Error(`the consumer does not compile against the package's declarations:\n${err.stdout}`);
    });
    const { stdout } = await node(['bin/index.js']);
    const { registered, refused } = JSON.parse(stdout) as { registered: string[]; refused: string };
    for (const type of ['wasm-control:index:ControlPlane', 'wasm-control:index:HostGroup', 'wasm-control:index:HttpTrigger', 'kubernetes:apps/v1:Deployment']) {
      assert.ok(registered.includes(type), `${type} among ${[...new Set(registered)].join(', ')}`);
    }
    assert.match(refused, /ingress.host "Bad_Host" is not a valid DNS name/);
  });

  it('is required from CommonJS, and its command runs from node_modules/.bin', async () => {
    const { stdout } = await node(['-e', "const w = require('wasm-control'); process.stdout.write(Object.keys(w).filter((k) => typeof w[k] === 'function').join(','))"]);
    for (const name of ['ControlPlane', 'HostGroup', 'HttpTrigger', 'Cluster']) assert.ok(stdout.split(',').includes(name), `${name} in ${stdout}`);
    const help = await node([path.join(project, 'node_modules/.bin/wasm-control'), '--help']);
    assert.match(help.stdout, /usage: wasm-control <command>/);
    const bootstrap = await node([path.join(project, 'node_modules/.bin/wasm-control'), 'envoy-bootstrap', '--xds-address', '10.0.0.5:18000']);
    assert.match(bootstrap.stdout, /"address": "10.0.0.5"/);
  });

  it('is previewed by the real Pulumi CLI and Kubernetes provider against the test cluster', async function () {
    // The first run on a machine builds the CLI, the provider and the cluster (test/cluster/build.sh).
    this.timeout(45 * 60_000);
    const [pulumiBin, cluster] = await Promise.all([builtBinaries('pulumi'), RealCluster.start({ controllerManager: false })]);
    try {
      fs.writeFileSync(path.join(project, 'preview.js'), PREVIEW);
      const work = path.join(dir, 'pulumi');
      const certificates = path.join(dir, 'xds-certificates.json');
      fs.writeFileSync(certificates, JSON.stringify(await e2eXdsCertificates(dir)));
      const { stdout } = await node(['preview.js', path.dirname(pulumiBin), cluster.adminKubeconfig, standInChart('runtime-operator').path, work, certificates]).catch((err: Error & { stderr?: string }) => {
        throw new Error(`pulumi preview of the consumer's program failed:\n${err.stderr}`);
      });
      const { changes, types } = JSON.parse(stdout) as { changes: Record<string, number>; types: string[] };
      assert.ok(changes.create > 20, JSON.stringify(changes));
      for (const type of ['wasm-control:index:ControlPlane', 'wasm-control:index:HostGroup', 'wasm-control:index:HttpTrigger', 'kubernetes:apps/v1:Deployment']) {
        assert.ok(types.includes(type), `${type} among ${types.join(', ')}`);
      }
    } finally {
      await cluster.stop();
    }
  });
});
