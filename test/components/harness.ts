/**
 * Runs Pulumi components under mocks and records what they register. Mocks are
 * process-global, so every build installs fresh ones and waits (through
 * `pulumi.runtime.disconnect`) until each registration it started is done:
 * nothing is left running into the next test or test file.
 */
import * as pulumi from '@pulumi/pulumi';
import { tlsProviderOutputs } from '../support/tls-mocks';

export interface Registered {
  type: string;
  name: string;
  /** As registered, with secret values revealed (see `secretInputs`). */
  inputs: Record<string, any>;
  /** Paths (`stringData.tls.key`) of the inputs that were Pulumi secrets. */
  secretInputs?: string[];
  custom: boolean;
  /** Set when the resource was read (`.get`) rather than created. */
  id?: string;
}

export const PROJECT = 'wasm-control';

export async function build(construct: () => void): Promise<Registered[]> {
  const registered: Registered[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        registered.push(recorded(args));
        return { id: args.id || `${args.name}-id`, state: { ...args.inputs, ...tlsProviderOutputs(args.type, args.name) } };
      },
      call: (args) => args.inputs,
    },
    PROJECT,
    'test',
    false,
  );
  construct();
  await pulumi.runtime.disconnect();
  return registered;
}

/** A registration as tests read it: its inputs revealed, with the paths of those that were secrets. */
export function recorded(args: pulumi.runtime.MockResourceArgs): Registered & { provider?: string } {
  const secretInputs: string[] = [];
  return { type: args.type, name: args.name, inputs: revealed(args.inputs, secretInputs), secretInputs, custom: args.custom ?? true, id: args.id || undefined, provider: args.provider };
}

/** The signature the Pulumi SDK marks a secret value with when it hands inputs to mocks. */
const SECRET_SIGNATURE = ['4dabf18193072939515e22adb298388d', '1b47061264138c4ac30d75fd1eb44270'] as const;

/** `value` with secrets replaced by what they hold; their paths go to `secrets`. */
function revealed(value: any, secrets: string[], at = ''): any {
  if (Array.isArray(value)) return value.map((v, i) => revealed(v, secrets, `${at}[${i}]`));
  if (value === null || typeof value !== 'object') return value;
  if (value[SECRET_SIGNATURE[0]] === SECRET_SIGNATURE[1]) {
    secrets.push(at);
    return revealed(value.value, secrets, at);
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, revealed(v, secrets, at ? `${at}.${k}` : k)]));
}

/** The value of an output, once the mocks have resolved it. */
export function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply((v) => resolve(v)));
}

/** Kubernetes objects (not charts, not reads) by kind, e.g. `objects(r, 'Deployment')`. */
export function objects(registered: Registered[], kind: string): Registered[] {
  return registered.filter((r) => r.custom && !r.id && r.type.startsWith('kubernetes:') && r.type.endsWith(`:${kind}`));
}

/** The one object of `kind` named `name` (metadata.name); fails when missing or repeated. */
export function object(registered: Registered[], kind: string, name: string): Record<string, any> {
  const found = objects(registered, kind).filter((r) => r.inputs.metadata?.name === name);
  if (found.length !== 1) {
    const names = objects(registered, kind).map((r) => r.inputs.metadata?.name);
    throw new Error(`expected one ${kind} named ${name}, found ${found.length} (${kind}s: ${names.join(', ') || 'none'})`);
  }
  return found[0].inputs;
}

export function charts(registered: Registered[]): Registered[] {
  return registered.filter((r) => r.type === 'kubernetes:helm.sh/v4:Chart');
}

export function chart(registered: Registered[], chartRef: string): Record<string, any> {
  const found = charts(registered).filter((r) => r.inputs.chart === chartRef);
  if (found.length !== 1) throw new Error(`expected one chart ${chartRef}, found ${found.length} (charts: ${charts(registered).map((c) => c.inputs.chart).join(', ')})`);
  return found[0].inputs;
}
