/**
 * The container image, without Docker: the files controller/Dockerfile's final
 * stage copies (read from its COPY lines, so this cannot drift from it) are
 * laid out in a temporary folder with the production dependencies only
 * (`npm ci --omit=dev --omit=optional` installs exactly the package-lock
 * entries without a dev or optional flag), and the controller is started there
 * through the image's ENTRYPOINT. Dependencies are symlinks into this
 * checkout's node_modules, resolved with --preserve-symlinks so that a
 * development-only package is not found through the real path.
 */
import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { packageRoot } from '../controller/package-root';
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

/** Symlinks to the packages `npm ci --omit=dev --omit=optional` would install, from package-lock.json. */
function linkProductionDependencies(dir: string): string[] {
  const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8'));
  const production = Object.entries<any>(lock.packages)
    .filter(([key, entry]) => key.startsWith('node_modules/') && key.split('node_modules/').length === 2 && !entry.dev && !entry.optional && !entry.devOptional)
    .map(([key]) => key.slice('node_modules/'.length));
  for (const name of production) {
    const link = path.join(dir, 'node_modules', name);
    fs.mkdirSync(path.dirname(link), { recursive: true });
    fs.symlinkSync(path.join(ROOT, 'node_modules', name), link, 'dir');
  }
  return production;
}

/** The first stdout line (JSON, as pino writes) that `match` accepts. */
describe('the controller image (controller/Dockerfile), run from the files it copies', function () {
  this.timeout(30000);
  const all = stages(fs.readFileSync(DOCKERFILE, 'utf8'));
  const final = all[all.length - 1];
  let dir: string;
  let entrypoint: string[];
  let production: string[];

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasm-control-image-'));
    layOutImage(all, dir);
    production = linkProductionDependencies(dir);
    entrypoint = JSON.parse(final.instructions.find((i) => i.op === 'ENTRYPOINT')!.args);
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('builds on Node 22 with npm ci and npm run build, and ships production dependencies only, as a non-root user', () => {
    const bases = [...fs.readFileSync(DOCKERFILE, 'utf8').matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]);
    assert.ok(bases.length >= 2 && bases.every((b) => /^node:22[.-]/.test(b)), `every stage on Node 22: ${bases.join(', ')}`);
    const build = all.find((s) => s.instructions.some((i) => i.op === 'RUN' && /npm run build/.test(i.args)));
    assert.ok(build && build !== final, 'a separate build stage runs npm run build');
    assert.ok(build.instructions.some((i) => i.op === 'RUN' && /^npm ci\b/.test(i.args)));
    assert.ok(final.instructions.some((i) => i.op === 'RUN' && /^npm ci --omit=dev --omit=optional\b/.test(i.args)));
    const user = final.instructions.filter((i) => i.op === 'USER').pop()?.args;
    assert.ok(user && user !== 'root' && user !== '0', `final USER is ${user}`);
    assert.deepEqual(entrypoint, ['node', 'dist/controller/main.js']);
    assert.ok(!production.includes('typescript') && !production.includes('mocha') && production.includes('pino'));
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
    const help = spawnSync(process.execPath, ['--preserve-symlinks', ...args, '--help'], { cwd: dir, encoding: 'utf8' });
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /--source files\|kubernetes/);
  });

  it('serves in file mode: listening, ready, and a clean exit on SIGTERM', async () => {
    const [, ...args] = entrypoint;
    const child = spawn(process.execPath, ['--preserve-symlinks', ...args, '--source', 'files', '--manifests', path.join(ROOT, 'examples'), '--xds-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0'], {
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
});
