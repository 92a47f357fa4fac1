/**
 * Runs Pulumi components under mocks and records what they register. Mocks are
 * process-global, so every build installs fresh ones and waits (through
 * `pulumi.runtime.disconnect`) until each registration it started is done:
 * nothing is left running into the next test or test file.
 */
import * as pulumi from '@pulumi/pulumi';

export interface Registered {
  type: string;
  name: string;
  inputs: Record<string, any>;
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
        registered.push({ type: args.type, name: args.name, inputs: args.inputs, custom: args.custom ?? true, id: args.id || undefined });
        return { id: args.id || `${args.name}-id`, state: args.inputs };
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
