/**
 * File mode against what editors, tools and careless hands do to manifest files:
 * YAML that fails while aliases are resolved, files replaced by rename, folders
 * deleted and created again, files read while half written, and objects that
 * look like ours but are not.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { classifyObjects, ManifestError, parseManifestFile } from '../controller/sources/manifests';
import { FileSource } from '../controller/sources/files';
import { eventually } from './support/eventually';
import { triggerYaml as trigger } from './support/fixtures';

const names = (objects: { triggers: unknown[] }) => objects.triggers.map((t) => (t as { metadata: { name: string } }).metadata.name).sort();

describe('manifest files that fail while their aliases are resolved', () => {
  const cases: [string, string, RegExp][] = [
    ['an alias bomb', `a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n`, /bomb\.yaml: document 1 cannot be read: Excessive alias count/],
    ['an unknown anchor', 'metadata:\n  name: *nope\n', /typo\.yaml: (not valid YAML at line 2|document 1 cannot be read): .*nope/i],
    ['a merge of a scalar', 'base: &s scalar\nspec:\n  <<: *s\n', /merge\.yaml: document 1 cannot be read: .*[Mm]erge/],
  ];
  for (const [what, text, message] of cases) {
    it(`reports ${what} as a ManifestError naming the file`, () => {
      const file = path.join('/manifests', message.source.startsWith('bomb') ? 'bomb.yaml' : message.source.startsWith('typo') ? 'typo.yaml' : 'merge.yaml');
      assert.throws(() => parseManifestFile(file, text), (err: unknown) => {
        assert.ok(err instanceof ManifestError, `a ManifestError, got ${String(err)}`);
        assert.match((err as Error).message, message);
        return true;
      });
    });
  }

  it('parses .json as JSON, with JSON\'s own error position', () => {
    assert.deepEqual(parseManifestFile('/m/t.json', '{"apiVersion": "v1", "kind": "List", "items": [{"a": 1}]}'), [{ a: 1 }]);
    assert.throws(() => parseManifestFile('/m/t.json', '{"a": 1,}'), /\/m\/t\.json: not valid JSON: .*position 8/);
  });
});

describe('multi-document files, edited', () => {
  it('re-parses only the documents an edit touched: the others keep their objects', () => {
    const docs = ['a', 'b', 'c'].map((n) => trigger(n));
    const cache = new Map<string, unknown[]>();
    const before = parseManifestFile('/m/t.yaml', docs.join('---\n'), cache);
    docs[1] = trigger('b2');
    const after = parseManifestFile('/m/t.yaml', docs.join('---\n'), cache);
    assert.deepEqual(names({ triggers: after }), ['a', 'b2', 'c']);
    assert.equal(after[0], before[0], 'untouched: the same object');
    assert.equal(after[2], before[2]);
    assert.notEqual(after[1], before[1]);
    assert.equal(cache.size, 3, 'the cache holds this text\'s documents only');
  });

  it('names the file\'s own line and document number for a problem in a later document', () => {
    const text = `${trigger('a')}---\n${trigger('b')}--- # third\nmetadata:\n  name: *nope\n`;
    assert.throws(() => parseManifestFile('/m/t.yaml', text), /\/m\/t\.yaml: (document 3 cannot be read|not valid YAML at line 15)/);
    // The error is found where the flow sequence should have ended: the line after it, the file's 9th.
    assert.throws(() => parseManifestFile('/m/t.yaml', `${trigger('a')}---\nkind: [unclosed\n`), /^Error: \/m\/t\.yaml: not valid YAML at line 9: Flow sequence in block collection must be sufficiently indented and end with a \]$/);
  });
});

describe('objects that look like ours', () => {
  it('reports a wrong version or a miscased kind of our groups, and stays silent about other groups and kinds we do not read', () => {
    const objects = classifyObjects('m.yaml', [
      { apiVersion: 'control.cosmonic.io/v1', kind: 'HTTPTrigger', metadata: { name: 'old', namespace: 'default' } },
      { apiVersion: 'control.cosmonic.io/v1alpha1', kind: 'HttpTrigger', metadata: { name: 'cased', namespace: 'default' } },
      { apiVersion: 'runtime.wasmcloud.dev/v1beta1', kind: 'Host', metadata: { name: 'h', namespace: 'wasmcloud' } },
      { apiVersion: 'runtime.wasmcloud.dev/v1alpha1', kind: 'Artifact', metadata: { name: 'a' } },
      { apiVersion: 'example.com/v1', kind: 'Host', metadata: { name: 'theirs' } },
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm' } },
    ]);
    assert.deepEqual(
      objects.diagnostics.map((d) => d.message),
      [
        'HTTPTrigger default/old is skipped: apiVersion control.cosmonic.io/v1, kind HTTPTrigger is not a kind this controller reads; did you mean control.cosmonic.io/v1alpha1 HTTPTrigger?',
        'HttpTrigger default/cased is skipped: apiVersion control.cosmonic.io/v1alpha1, kind HttpTrigger is not a kind this controller reads; did you mean control.cosmonic.io/v1alpha1 HTTPTrigger?',
        'Host wasmcloud/h is skipped: apiVersion runtime.wasmcloud.dev/v1beta1, kind Host is not a kind this controller reads; did you mean runtime.wasmcloud.dev/v1alpha1 Host?',
      ],
    );
  });
});

describe('FileSource', function () {
  this.timeout(10_000);
  let dir: string;
  let source: FileSource | undefined;
  let errors: [string, string][];
  /** The triggers of the last read the source's own change notifications caused, as the controller reads. */
  let latest: string[];

  /**
   * A source on `paths`, started; every change it reports is read at once, as the controller
   * does, so a watch that goes deaf leaves `latest` stale. Resolves once it holds `initial` (files
   * written just before are taken after a settle interval). `settleMs` 50 keeps tests short.
   */
  async function start(paths: string[], initial: string[], rescanMs = 0): Promise<FileSource> {
    const s = new FileSource(paths, (file, reason) => errors.push([file, reason]), { settleMs: 50, rescanMs });
    source = s;
    await s.start(() => {
      latest = names(s.read());
    });
    latest = names(s.read());
    await holds(initial, 'the initial files');
    return s;
  }

  /** Waits until a read caused by the source's own notifications holds exactly these triggers. */
  const holds = (expected: string[], what: string) => eventually(async () => assert.deepEqual(latest, expected), 5_000, what);

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasm-control-files-'));
    errors = [];
  });

  afterEach(async () => {
    await source?.close();
    source = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('keeps a folder\'s files and changes when a symlink in it points at nothing', async () => {
    fs.writeFileSync(path.join(dir, 'a.yaml'), trigger('a'));
    await start([dir], ['a']);
    fs.symlinkSync(path.join(dir, 'nowhere.yaml'), path.join(dir, 'dangling.yaml'));
    fs.writeFileSync(path.join(dir, 'b.yaml'), trigger('b'));
    await holds(['a', 'b'], 'the folder still read past the dangling link');
    source!.rescanNow(true);
    await holds(['a', 'b'], 'nothing withdrawn after a re-scan');
    assert.deepEqual(errors, []);
  });

  it('keeps seeing a folder\'s file after it is replaced by rename (atomic writes, editors)', async () => {
    fs.writeFileSync(path.join(dir, 'a.yaml'), trigger('a'));
    await start([dir], ['a']);
    for (const name of ['b', 'c']) {
      fs.writeFileSync(path.join(dir, '.a.yaml.tmp'), trigger(name));
      fs.renameSync(path.join(dir, '.a.yaml.tmp'), path.join(dir, 'a.yaml'));
      await holds([name], `the renamed-in content ${name}`);
    }
    fs.writeFileSync(path.join(dir, 'a.yaml'), trigger('d'));
    await holds(['d'], 'a plain write after the renames');
  });

  it('keeps seeing a file given by name after it is replaced by rename, and after a symlink swap', async () => {
    const file = path.join(dir, 'triggers.yaml');
    fs.writeFileSync(file, trigger('a'));
    await start([file], ['a']);
    fs.writeFileSync(`${file}.new`, trigger('b'));
    fs.renameSync(`${file}.new`, file);
    await holds(['b'], 'the renamed-in content');
    fs.writeFileSync(file, trigger('c'));
    await holds(['c'], 'a plain write after the rename');

    // A ConfigMap volume: the file is a symlink to ..data/, and an update swaps ..data.
    const mounted = path.join(dir, 'mounted');
    fs.mkdirSync(path.join(mounted, 'v1'), { recursive: true });
    fs.writeFileSync(path.join(mounted, 'v1', 'triggers.yaml'), trigger('d'));
    fs.symlinkSync('v1', path.join(mounted, '..data'));
    fs.symlinkSync('..data/triggers.yaml', path.join(mounted, 'triggers.yaml'));
    await source!.close();
    await start([path.join(mounted, 'triggers.yaml')], ['d']);
    fs.mkdirSync(path.join(mounted, 'v2'));
    fs.writeFileSync(path.join(mounted, 'v2', 'triggers.yaml'), trigger('e'));
    fs.symlinkSync('v2', path.join(mounted, '..data_tmp'));
    fs.renameSync(path.join(mounted, '..data_tmp'), path.join(mounted, '..data'));
    await holds(['e'], 'the swapped ConfigMap content');
  });

  it('keeps the last good content while its folder is gone, and watches the folder again once it is back', async () => {
    const folder = path.join(dir, 'manifests');
    fs.mkdirSync(folder);
    fs.writeFileSync(path.join(folder, 'a.yaml'), trigger('a'));
    const s = await start([folder], ['a'], 100);
    fs.rmSync(folder, { recursive: true });
    await eventually(async () => assert.ok(errors.some(([file, reason]) => file === folder && /cannot read: ENOENT/.test(reason))), 5_000, 'the missing folder reported');
    assert.deepEqual(latest, ['a'], 'the last good content is kept');
    assert.deepEqual(names(s.read()), ['a']);
    assert.equal(errors.filter(([file]) => file === folder).length, 1, 'reported once, not on every read');

    fs.mkdirSync(folder);
    fs.writeFileSync(path.join(folder, 'b.yaml'), trigger('b'));
    await holds(['b'], 'the recreated folder\'s content');
    fs.writeFileSync(path.join(folder, 'b.yaml'), trigger('c'));
    await holds(['c'], 'a write in the recreated folder');
    fs.rmSync(folder, { recursive: true });
    await eventually(async () => assert.equal(errors.filter(([file]) => file === folder).length, 2), 5_000, 'gone again: reported again');
  });

  it('never takes a file while it is being written: the routes of the part not yet written stay', async () => {
    const file = path.join(dir, 'many.yaml');
    const full = ['a', 'b', 'c', 'd'].map((n) => trigger(n)).join('---\n');
    fs.writeFileSync(file, full);
    const s = await start([dir], ['a', 'b', 'c', 'd']);
    // A writer that truncates and writes in chunks: each read in between sees a valid, shorter file.
    const fd = fs.openSync(file, 'w');
    const seen = new Set<string>();
    for (const chunk of [full.slice(0, 200), full.slice(200, 400), full.slice(400)]) {
      fs.writeSync(fd, chunk);
      seen.add(names(s.read()).join(','));
    }
    fs.closeSync(fd);
    await holds(['a', 'b', 'c', 'd'], 'the whole file');
    assert.deepEqual([...seen], ['a,b,c,d'], 'no read published a part of the file');
  });

  it('drops a file removed from its folder once it has been gone a settle interval, so a delete-and-rename save loses nothing', async () => {
    fs.writeFileSync(path.join(dir, 'a.yaml'), trigger('a'));
    fs.writeFileSync(path.join(dir, 'b.yaml'), trigger('b'));
    await start([dir], ['a', 'b']);
    const s = new FileSource([dir], (file, reason) => errors.push([file, reason]), { settleMs: 50 });
    assert.deepEqual(names(s.read()), ['a', 'b']);
    fs.renameSync(path.join(dir, 'a.yaml'), path.join(dir, 'a.yaml~'));
    assert.deepEqual(names(s.read()), ['a', 'b'], 'kept at once');
    fs.renameSync(path.join(dir, 'a.yaml~'), path.join(dir, 'a.yaml'));
    assert.deepEqual(names(s.read()), ['a', 'b']);
    fs.rmSync(path.join(dir, 'a.yaml'));
    await holds(['b'], 'the deleted file dropped');
    await s.close();
  });

  it('a re-scan reports nothing that a read has already seen (one resolve per change, not two)', async () => {
    fs.writeFileSync(path.join(dir, 'a.yaml'), trigger('a'));
    let changes = 0;
    const s = new FileSource([dir], (file, reason) => errors.push([file, reason]), { settleMs: 50, rescanMs: 0 });
    source = s;
    await s.start(() => changes++);
    fs.writeFileSync(path.join(dir, 'b.yaml'), trigger('b'));
    await eventually(async () => assert.deepEqual(names(s.read()), ['a', 'b']), 5_000, 'the new file read');
    const before = changes;
    s.rescanNow();
    assert.equal(changes, before, 'nothing new for the re-scan');
    fs.writeFileSync(path.join(dir, 'c.yaml'), trigger('c'));
    s.rescanNow();
    assert.equal(changes, before + 1, 'a change not yet read is news');
  });

  it('keeps the last good content of a file that turns into an alias bomb, reporting it once', async () => {
    const file = path.join(dir, 'a.yaml');
    fs.writeFileSync(file, trigger('a'));
    const s = await start([dir], ['a']);
    fs.writeFileSync(file, 'a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n');
    await eventually(async () => assert.equal(errors.length, 1), 5_000, 'the bad file reported');
    assert.match(errors[0][1], /a\.yaml: document 1 cannot be read: Excessive alias count/);
    for (let i = 0; i < 3; i++) assert.deepEqual(names(s.read()), ['a']);
    assert.equal(errors.length, 1);
  });
});
