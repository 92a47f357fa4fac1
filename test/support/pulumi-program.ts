/**
 * The project's Pulumi program (index.ts) run by the real Pulumi engine: the
 * CLI and the Kubernetes provider plugin built from Go modules
 * (test/cluster/build.sh pulumi), a local state backend and Pulumi home in a
 * temporary directory, and no download of anything (plugins are taken from
 * PATH).
 *
 * The Node.js language host (pulumi-language-nodejs) is not served by the Go
 * module proxy, so the program runs as an Automation API inline program: the
 * CLI calls back into @pulumi/pulumi's own language runtime in this process
 * (`--client`), which runs index.ts's exported function as the language host
 * would. Everything else is the real thing: engine, provider, Helm rendering,
 * server-side apply, awaiting readiness, state and diffs.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LocalWorkspace, PulumiCommand, Stack, type EngineEvent, type OutputMap } from '@pulumi/pulumi/automation';
import * as YAML from 'yaml';
import { packageRoot } from '../../controller/package-root';
import { builtBinaries } from './real-cluster';
import program = require('../../index');

const ROOT = packageRoot();

/** What one operation printed, kept for assertions and for the message when it fails. */
export interface OperationLog {
  output: string;
}

export interface ProgramStackOptions {
  /** Also print what each operation prints, as it goes (for people watching). */
  echo?: boolean;
}

export class ProgramStack {
  private constructor(
    readonly dir: string,
    readonly stack: Stack,
    private readonly stackFile: string,
    private readonly echo: boolean,
  ) {}

  /**
   * A stack of the project (the repository's Pulumi.yaml, copied with its config declarations)
   * whose stack file holds `config`, in a fresh workspace.
   */
  static async create(stackName: string, config: Record<string, unknown>, options: ProgramStackOptions = {}): Promise<ProgramStack> {
    const bin = await builtBinaries('pulumi');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wasm-control-pulumi-'));
    // The project file as it is, but for `main`: the CLI checks that it exists, and the program is this process's.
    const { main: _main, ...project } = YAML.parse(fs.readFileSync(path.join(ROOT, 'Pulumi.yaml'), 'utf8')) as { main: string; stackConfigDir: string };
    fs.writeFileSync(path.join(dir, 'Pulumi.yaml'), YAML.stringify(project));
    const stackFile = path.join(dir, project.stackConfigDir, `Pulumi.${stackName}.yaml`);
    fs.mkdirSync(path.dirname(stackFile), { recursive: true });
    fs.mkdirSync(path.join(dir, 'state'));
    const sdkVersion = (JSON.parse(fs.readFileSync(require.resolve('@pulumi/pulumi/package.json'), 'utf8')) as { version: string }).version;
    // The CLI must be the release of the SDK (package.json's @pulumi/pulumi), as build.sh pins it.
    const pulumiCommand = await PulumiCommand.get({ root: path.dirname(bin) });
    if (pulumiCommand.version?.version !== sdkVersion) {
      throw new Error(`the Pulumi CLI built by test/cluster/build.sh is ${pulumiCommand.version?.version}, @pulumi/pulumi is ${sdkVersion}: set PULUMI_VERSION in test/cluster/versions.sh (and test/cluster/pulumi/go.mod) to the SDK's release`);
    }
    const workspace = await LocalWorkspace.create({
      workDir: dir,
      pulumiHome: path.join(dir, 'home'),
      pulumiCommand,
      program: async () => program(),
      envVars: {
        PATH: `${bin}${path.delimiter}${process.env.PATH}`,
        PULUMI_BACKEND_URL: `file://${path.join(dir, 'state')}`,
        PULUMI_CONFIG_PASSPHRASE: 'e2e',
        PULUMI_SKIP_UPDATE_CHECK: 'true',
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: 'true',
      },
    });
    const stack = await Stack.create(stackName, workspace);
    const programStack = new ProgramStack(dir, stack, stackFile, options.echo ?? false);
    programStack.writeConfig(config);
    return programStack;
  }

  /** Replaces the stack file's config, as a user editing stacks/Pulumi.<stack>.yaml would. */
  writeConfig(config: Record<string, unknown>): void {
    fs.writeFileSync(this.stackFile, YAML.stringify({ config }));
  }

  async up(): Promise<{ log: OperationLog; outputs: OutputMap; changes: Record<string, number> }> {
    const log: OperationLog = { output: '' };
    const result = await this.run(log, () => this.stack.up({ onOutput: this.collect(log) }));
    return { log, outputs: result.outputs, changes: result.summary.resourceChanges ?? {} };
  }

  /** A preview; `steps` are the planned operations other than `same` (and a refresh's reads), as `<op> <type>::<name>`. */
  async preview(options: { expectNoChanges?: boolean; diff?: boolean; refresh?: boolean } = {}): Promise<{ log: OperationLog; changes: Record<string, number>; steps: string[] }> {
    const log: OperationLog = { output: '' };
    const steps: string[] = [];
    const onEvent = (event: EngineEvent) => {
      const step = event.resourcePreEvent?.metadata;
      if (step && step.op !== 'same' && step.op !== 'refresh') steps.push(`${step.op} ${step.type}::${step.urn.split('::').pop()}`);
    };
    const result = await this.run(log, () => this.stack.preview({ ...options, onOutput: this.collect(log), onEvent }));
    return { log, changes: result.changeSummary, steps: steps.sort() };
  }

  async destroy(): Promise<OperationLog> {
    const log: OperationLog = { output: '' };
    await this.run(log, () => this.stack.destroy({ onOutput: this.collect(log) }));
    return log;
  }

  /** Resources in the stack's state, by URN type (e.g. `kubernetes:core/v1:Service`). */
  async resourceTypes(): Promise<string[]> {
    const state = await this.stack.exportStack();
    return ((state.deployment as { resources?: { type: string }[] }).resources ?? []).map((r) => r.type);
  }

  private collect(log: OperationLog): (output: string) => void {
    return (output) => {
      log.output += output;
      if (this.echo) process.stdout.write(output);
    };
  }

  /** Runs an operation; a failure carries everything the CLI printed. */
  private async run<T>(log: OperationLog, operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (err) {
      const e = err as Error & { commandResult?: { stderr?: string } };
      e.message = `${e.message}\n--- pulumi output:\n${log.output}\n--- stderr:\n${e.commandResult?.stderr ?? ''}`;
      throw e;
    }
  }

  remove(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
