/**
 * The container image, without Docker: `npm run build:image` writes the files
 * controller/Dockerfile's final stage copies (read from its COPY lines, so this
 * cannot drift from it); they are laid out in a temporary folder, outside this
 * checkout (no node_modules anywhere above it), and the controller is started
 * there through the image's ENTRYPOINT. The image holds no node_modules: the
 * controller runs from its bundle, so what it needs is in the files or it fails here.
 */
import * as assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { packageRoot } from '../controller/package-root';
import { FakeApiServer } from './support/fake-apiserver';
import { trigger } from './support/fixtures';
import { ProcessLogs } from './support/process-logs';

const ROOT = packageRoot();
const DOCKERFILE = path.join(ROOT, 'controller', 'Dockerfile');

interface Stage {
  alias?: string;
  workdir: string;
  instructions: { op: string; args: string }[];
}

/** The Dockerfile's stages with their instructions (continuation lines joined, comments dropped). */
function stages(text: string): Stage[] {
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const result: Stage[] = [];
  for (const line of lines) {
    const [, op, args] = /^(\S+)\s+(.*)$/.exec(line)!;
    if (op.toUpperCase() === 'FROM') {
      result.push({ alias: /\sAS\s+(\S+)/i.exec(args)?.[1], workdir: '/', instructions: [] });
      continue;
    }
    const stage = result[result.length - 1];
    if (op.toUpperCase() === 'WORKDIR') stage.workdir = path.posix.resolve(stage.workdir, args);
    stage.instructions.push({ op: op.toUpperCase(), args });
  }
  return result;
}

/** Copies what the final stage's COPY lines copy into `dir` (its WORKDIR); build-stage paths map onto this checkout, where `npm run build` ran. */
function layOutImage(all: Stage[], dir: string): string[] {
  const final = all[all.length - 1];
  const copied: string[] = [];
  for (const { op, args } of final.instructions.filter((i) => i.op === 'COPY')) {
    const words = args.split(/\s+/);
    const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
    const [dest, ...sources] = words.filter((w) => !w.startsWith('--')).reverse();
    assert.equal(op, 'COPY');
    for (const source of sources.reverse()) {
      let local = source;
      if (from !== undefined) {
        const stage = all.find((s) => s.alias === from);
        assert.ok(stage, `COPY --from=${from}: no such stage`);
        assert.ok(source.startsWith(`${stage.workdir}/`), `${source} is inside the ${from} stage's WORKDIR ${stage.workdir}`);
        local = path.posix.relative(stage.workdir, source);
      }
      const target = dest.endsWith('/') && !source.endsWith('/') ? path.join(dir, dest, path.basename(source)) : path.join(dir, dest);
      assert.ok(fs.existsSync(path.join(ROOT, local)), `${local} (COPY ${args}) exists; run npm run build first`);
      fs.cpSync(path.join(ROOT, local), target, { recursive: true });
      copied.push(local);
    }
  }
  return copied;
}

/** The first stdout line (JSON, as pino writes) that `match` accepts. */
describe('the controller image (controller/Dockerfile), run from the files it copies', function () {
  this.timeout(30000);
  const all = stages(fs.readFileSync(DOCKERFILE, 'utf8'));
  const final = all[all.length - 1];
  let dir: string;
  let entrypoint: string[];

  before(() => {
    // As the build stage does (after `npm run build`, which `npm test` ran).
    execFileSync(process.execPath, [path.join(ROOT, 'dist/controller/image.js')], { cwd: ROOT, stdio: 'inherit' });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasm-control-image-'));
    layOutImage(all, dir);
    entrypoint = JSON.parse(final.instructions.find((i) => i.op === 'ENTRYPOINT')!.args);
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('builds on Node 22 with npm ci and npm run build:image, and runs as a non-root user', () => {
    const bases = [...fs.readFileSync(DOCKERFILE, 'utf8').matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]);
    assert.ok(bases.length >= 2 && bases.every((b) => /^node:22[.-]/.test(b)), `every stage on Node 22: ${bases.join(', ')}`);
    const build = all.find((s) => s.instructions.some((i) => i.op === 'RUN' && /npm run build:image/.test(i.args)));
    assert.ok(build && build !== final, 'a separate build stage runs npm run build:image');
    assert.ok(build.instructions.some((i) => i.op === 'RUN' && /^npm ci\b/.test(i.args)));
    assert.ok(!final.instructions.some((i) => i.op === 'RUN'), 'the final stage installs nothing');
    const user = final.instructions.filter((i) => i.op === 'USER').pop()?.args;
    assert.ok(user && user !== 'root' && user !== '0', `final USER is ${user}`);
    assert.deepEqual(entrypoint, ['node', 'dist/controller/main.js']);
  });

  it('copies at most 40 MB, with no node_modules, and bundles no Pulumi, AWS SDK or TypeScript', () => {
    let bytes = 0;
    const walk = (at: string): void => {
      for (const entry of fs.readdirSync(at, { withFileTypes: true })) {
        assert.notEqual(entry.name, 'node_modules', `${path.join(at, entry.name)} in the image`);
        if (entry.isDirectory()) walk(path.join(at, entry.name));
        else bytes += fs.statSync(path.join(at, entry.name)).size;
      }
    };
    walk(dir);
    assert.ok(bytes <= 40 * 1000 * 1000, `${(bytes / 1e6).toFixed(1)} MB copied`);
    const inputs: string[] = JSON.parse(fs.readFileSync(path.join(ROOT, 'dist/image-inputs.json'), 'utf8'));
    assert.ok(inputs.some((i) => i.includes('node_modules/@grpc/grpc-js/')), 'the inputs list is what was bundled');
    const forbidden = inputs.filter((i) => /node_modules\/(@pulumi\/|@aws-sdk\/|typescript\/|mocha\/)/.test(i) || /(^|\/)dist\/components\//.test(i));
    assert.deepEqual(forbidden, []);
  });

  it('copies nothing that .dockerignore keeps out of the build context', () => {
    const ignored = fs.readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    for (const stage of all) {
      for (const { args } of stage.instructions.filter((i) => i.op === 'COPY' && !i.args.includes('--from='))) {
        for (const source of args.split(/\s+/).slice(0, -1)) {
          assert.ok(!ignored.some((p) => source === p || source.startsWith(`${p}/`)), `COPY ${source} is excluded by .dockerignore`);
        }
      }
    }
  });

  it('prints its usage with --help', () => {
    const [command, ...args] = entrypoint;
    assert.equal(command, 'node');
    const help = spawnSync(process.execPath, [...args, '--help'], { cwd: dir, encoding: 'utf8' });
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /--source files\|kubernetes/);
  });

  it('serves in file mode: listening, ready, and a clean exit on SIGTERM', async () => {
    const [, ...args] = entrypoint;
    const child = spawn(process.execPath, [...args, '--source', 'files', '--manifests', path.join(ROOT, 'examples'), '--xds-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0'], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const listening = await new ProcessLogs(child.stdout).first((l) => l.msg === 'wasm-control listening');
      const ready = await fetch(`http://${listening.admin as string}/readyz`);
      assert.equal(ready.status, 200);
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('serves in Kubernetes mode too: the bundled Kubernetes client lists, watches and writes', async () => {
    const server = new FakeApiServer();
    await server.start();
    server.put(trigger('bundled', { host: 'bundled.example.com' }));
    const kubeconfig = path.join(dir, 'kubeconfig');
    fs.writeFileSync(kubeconfig, server.kubeConfigYaml());
    const [, ...args] = entrypoint;
    const child = spawn(process.execPath, [...args, '--source', 'kubernetes', '--xds-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0'], {
      cwd: dir,
      env: { ...process.env, KUBECONFIG: kubeconfig, POD_NAME: 'image', NATS_URL: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const logs = new ProcessLogs(child.stdout);
      await logs.first((l) => l.msg === 'wasm-control listening');
      await logs.first((l) => l.msg === 'WorkloadDeployment created');
      assert.ok(server.get('runtime.wasmcloud.dev/v1alpha1', 'WorkloadDeployment', 'default', 'bundled'));
    } finally {
      child.kill('SIGKILL');
      await server.stop();
    }
  });
});
