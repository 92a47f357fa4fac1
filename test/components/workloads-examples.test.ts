import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import Module from 'node:module';
import * as path from 'node:path';
import * as ts from 'typescript';
import { validateSchema } from '../../controller/api/schema';
import { checkHTTPTrigger } from '../../controller/api/validate';
import { packageRoot } from '../../controller/package-root';
import { build, charts, objects, Registered } from './harness';

const EXAMPLES = path.join(packageRoot(), 'examples', 'pulumi');

/**
 * Runs one example program under mocks. The examples are not part of the
 * build, so the source is transpiled here and loaded as if it sat in dist/,
 * where its `../../components` import finds the compiled components.
 */
function runExample(file: string): Promise<Registered[]> {
  const source = fs.readFileSync(path.join(EXAMPLES, file), 'utf8');
  const { outputText } = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true } });
  const filename = path.join(packageRoot(), 'dist', 'examples', 'pulumi', file.replace(/\.ts$/, '.js'));
  return build(() => {
    const m = new Module(filename) as Module & { _compile(code: string, filename: string): void };
    m.filename = filename;
    m.paths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(path.dirname(filename));
    m._compile(outputText, filename);
  });
}

function names(r: Registered[], kind: string): string[] {
  return objects(r, kind).map((o) => o.inputs.metadata.name).sort();
}

/** Every trigger and deployment an example creates passes the checks the controller and the runtime apply. */
function assertManifestsValid(r: Registered[]): void {
  for (const t of objects(r, 'HTTPTrigger')) assert.ok(checkHTTPTrigger(t.inputs).ok, JSON.stringify(checkHTTPTrigger(t.inputs)));
  for (const d of objects(r, 'WorkloadDeployment')) assert.ok(validateSchema('WorkloadDeployment', d.inputs).ok);
}

describe('examples/pulumi', function () {
  // Type-checking pulls in the components and @pulumi/kubernetes: seconds.
  this.timeout(120000);

  it('type-check with the project\'s compiler options (examples/pulumi/tsconfig.json)', () => {
    const config = ts.getParsedCommandLineOfConfigFile(path.join(EXAMPLES, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => assert.fail(String(d.messageText)) });
    assert.ok(config);
    assert.deepEqual(config.fileNames.map((f) => path.basename(f)).sort(), fs.readdirSync(EXAMPLES).filter((f) => f.endsWith('.ts')).sort());
    const program = ts.createProgram(config.fileNames, config.options);
    // Only the examples' own diagnostics: work in progress elsewhere in the tree is not theirs.
    const diagnostics = ts.getPreEmitDiagnostics(program).filter((d) => d.file?.fileName.startsWith(EXAMPLES));
    assert.deepEqual(diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')), []);
  });

  it('hello-world: one trigger, routed from Traefik', async () => {
    const r = await runExample('hello-world.ts');
    assert.deepEqual(names(r, 'HTTPTrigger'), ['hello-world']);
    assert.deepEqual(names(r, 'Ingress'), ['perses', 'trigger-default-hello-world']);
    assertManifestsValid(r);
  });

  it('blobby: placed on the general host group; the control plane\'s wildcard already routes its host', async () => {
    const r = await runExample('blobby.ts');
    const [blobby] = objects(r, 'HTTPTrigger');
    assert.deepEqual(blobby.inputs.spec.hostSelector, { hostgroup: 'general' });
    assert.deepEqual(names(r, 'Ingress'), ['perses', 'wildcard-wasmworkloads-io']);
    assertManifestsValid(r);
  });

  it('task-worker: a WorkloadDeployment subscribed to tasks.worker', async () => {
    const r = await runExample('task-worker.ts');
    const [worker] = objects(r, 'WorkloadDeployment');
    assert.equal(worker.inputs.spec.template.spec.hostInterfaces[1].config.subscriptions, 'tasks.worker');
    assertManifestsValid(r);
  });

  it('index-service-plus-api: the service and the component share the data volume', async () => {
    const r = await runExample('index-service-plus-api.ts');
    const [search] = objects(r, 'HTTPTrigger');
    assert.deepEqual(search.inputs.spec.template.spec.volumes, [{ name: 'data', ephemeral: {} }]);
    assertManifestsValid(r);
  });

  it('http-to-messaging: a trigger and a worker on one host group', async () => {
    const r = await runExample('http-to-messaging.ts');
    assert.deepEqual(names(r, 'HTTPTrigger'), ['tasks-api']);
    assert.deepEqual(names(r, 'WorkloadDeployment'), ['task-worker']);
    assertManifestsValid(r);
  });

  it('gpu-workload: a GPU host group and a wasi:webgpu trigger placed on it', async () => {
    const r = await runExample('gpu-workload.ts');
    const hosts = charts(r).find((c) => c.inputs.name === 'wasmcloud-hosts-gpu');
    assert.ok(hosts);
    assert.equal(hosts.inputs.values.runtime.hostGroups[0].webgpu.enabled, true);
    assert.deepEqual(objects(r, 'HTTPTrigger')[0].inputs.spec.hostSelector, { hostgroup: 'gpu' });
    assertManifestsValid(r);
  });
});
