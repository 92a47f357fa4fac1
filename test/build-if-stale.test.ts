/** scripts/build-if-stale.js: the tools start at once when nothing changed, and never run stale output. */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { packageRoot } from '../controller/package-root';

const ROOT = packageRoot();
const SCRIPT = path.join(ROOT, 'scripts/build-if-stale.js');
const BUILD_INFO = path.join(ROOT, 'dist/.tsbuildinfo');

describe('scripts/build-if-stale.js', function () {
  this.timeout(60_000);
  const run = () => spawnSync(process.execPath, [SCRIPT], { encoding: 'utf8', cwd: ROOT });

  it('compiles nothing when no source is newer than the last build', () => {
    const before = fs.statSync(BUILD_INFO).mtimeMs;
    const result = run();
    assert.equal(result.status, 0, result.stderr);
    assert.equal(fs.statSync(BUILD_INFO).mtimeMs, before);
  });

  it('compiles when a source is newer than the last build, and marks the build', () => {
    // As if every source had been edited since: the build info is older than all of them.
    fs.utimesSync(BUILD_INFO, new Date(0), new Date(0));
    const result = run();
    assert.equal(result.status, 0, result.stderr);
    assert.ok(fs.statSync(BUILD_INFO).mtimeMs > Date.now() - 60_000, 'the build info is fresh');
    assert.equal(run().status, 0);
  });
});
