/**
 * Golden files: what `translate` prints for each manifest in examples/ and for
 * the folder as `npm start` serves it, compared byte for byte, so any change to
 * the Envoy output (a field of the listener, outlier detection, a route) shows
 * up here as a diff to review. `UPDATE_GOLDEN=1 npm test` rewrites them.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { translateOutput } from '../controller/cli/translate';
import { packageRoot } from '../controller/package-root';
import { loadManifests } from '../controller/sources/manifests';
import { RUNTIME_CRDS_PATH, runtimeCrdsYaml } from './support/runtime-crds';

const ROOT = packageRoot();
const GOLDEN = path.join(ROOT, 'test/testdata/translate');
const UPDATE = process.env.UPDATE_GOLDEN === '1';

/** Each example file, and the whole folder. */
const cases = [...fs.readdirSync(path.join(ROOT, 'examples')).filter((f) => f.endsWith('.yaml')).map((f) => `examples/${f}`), 'examples'];

describe('golden: translate output for examples/', () => {
  for (const input of cases) {
    const golden = path.join(GOLDEN, `${input.replace(/\//g, '__')}.json`);
    it(`${input} → ${path.relative(ROOT, golden)}`, () => {
      // Paths in diagnostics are shown relative to the repository, whatever the working directory.
      const actual = translateOutput(loadManifests([path.join(ROOT, input)])).split(`${ROOT}/`).join('');
      if (UPDATE) fs.writeFileSync(golden, actual);
      assert.ok(fs.existsSync(golden), `no golden file: run UPDATE_GOLDEN=1 npm test and review ${path.relative(ROOT, golden)}`);
      assert.equal(actual, fs.readFileSync(golden, 'utf8'), `differs from ${path.relative(ROOT, golden)}: if the change is intended, UPDATE_GOLDEN=1 npm test`);
    });
  }

  it('has no golden file without its example', () => {
    const expected = new Set(cases.map((input) => `${input.replace(/\//g, '__')}.json`));
    assert.deepEqual(fs.readdirSync(GOLDEN).filter((f) => !expected.has(f)), []);
  });
});

describe('golden: the stand-in runtime chart\'s CRDs', () => {
  it(`${RUNTIME_CRDS_PATH} is what test/support/runtime-crds.ts writes`, () => {
    const file = path.join(ROOT, RUNTIME_CRDS_PATH);
    if (UPDATE) fs.writeFileSync(file, runtimeCrdsYaml());
    assert.equal(fs.readFileSync(file, 'utf8'), runtimeCrdsYaml(), `differs: if the change is intended, UPDATE_GOLDEN=1 npm test`);
  });
});
